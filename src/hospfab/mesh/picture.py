"""A picture of what is wrong: the part in grey, each finding's facets in its own colour, with a legend."""

from __future__ import annotations

import os

import numpy as np

from hospfab.mesh.report import MeshReport

PALETTE = [(220, 30, 40), (255, 140, 0), (150, 60, 200), (0, 150, 70), (230, 0, 160), (0, 120, 220),
           (180, 140, 0), (90, 90, 90)]


def highlights(report: MeshReport) -> list[tuple[str, tuple[int, int, int], np.ndarray]]:
    """(code, colour, facet indices) for each finding whose facets are known, errors first."""
    sets = report.facts.facet_sets if report.facts is not None else {}
    out: list[tuple[str, tuple[int, int, int], np.ndarray]] = []
    for finding in sorted(report.findings, key=lambda f: f.severity.value != "error"):
        facets = sets.get(finding.code)
        if facets is not None and len(facets):
            out.append((finding.code, PALETTE[len(out) % len(PALETTE)], np.asarray(facets)))
    return out


def write_picture(vertices: np.ndarray, report: MeshReport, png: str | os.PathLike[str], size: int = 720) -> list[str]:
    """Render ``vertices`` (n, 3, 3) with ``report``'s defects coloured into ``png`` (atomically); returns
    the codes shown. ``report`` must come from a check with ``detail=True``."""
    from hospfab.catalog.preview import render_png
    from hospfab.fileio import atomic_write_bytes

    marked = highlights(report)
    with np.errstate(all="ignore"):
        data = render_png(np.asarray(vertices, np.float64), size, highlight=marked)
    atomic_write_bytes(png, data, mode=0o644)
    return [code for code, _, _ in marked]


def picture_file(stl: str | os.PathLike[str], png: str | os.PathLike[str], min_wall_mm: float | None = None) -> list[str]:
    """Check ``stl`` and write its defect picture to ``png`` when there is anything to colour; returns the
    codes shown (empty: no file written)."""
    from hospfab.mesh.report import check_triangles
    from hospfab.mesh.stlio import read_stl

    tri = read_stl(stl)
    report = check_triangles(tri, str(stl), min_wall_mm=min_wall_mm, detail=True)
    if not highlights(report):
        return []
    return write_picture(tri.vertices, report, png)
