"""The result of checking one STL file, and :func:`check_file`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hospfab.mesh.analysis import MeshFacts, analyse
from hospfab.mesh.checks import Finding, Severity, run_checks
from hospfab.mesh.stlio import Triangles, read_stl
from hospfab.mesh.tolerances import DEFAULT, Tolerances


@dataclass
class MeshReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    facts: MeshFacts | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[str]:
        return [f.code for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[str]:
        return [f.code for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "errors": self.errors, "warnings": self.warnings,
                "stats": self.stats, "findings": [f.as_dict() for f in self.findings]}


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def stats_of(facts: MeshFacts) -> dict[str, Any]:
    e = facts.edges
    stats = {
        "format": facts.format,
        "triangles": facts.triangles,
        "extents_mm": [_r(x) for x in facts.extents_mm],
        "bounds_mm": {"min": [_r(x) for x in facts.bounds_min], "max": [_r(x) for x in facts.bounds_max]},
        "volume_mm3": _r(facts.volume_mm3, 3),
        "area_mm2": _r(facts.area_mm2, 3),
        "bodies": facts.bodies,
        "shells": facts.shells,
        "closed": facts.closed,
        "edges": e.edges,
        "open_edges": e.open,
        "non_manifold_edges": e.non_manifold,
        "inconsistent_edges": e.inconsistent,
        "degenerate_faces": facts.degenerate_faces,
        "duplicate_faces": facts.duplicate_faces,
        "inverted_bodies": facts.inverted_bodies,
        "cavities": facts.cavities,
        "overlapping_body_pairs": facts.overlapping_pairs,
        "stored_normals_mismatch": facts.normals_disagree,
        "stored_normals_missing": facts.normals_missing,
        "welding": facts.welding,
    }
    if facts.build_volume_mm is not None:
        stats["build_volume_mm"] = list(facts.build_volume_mm)
        stats["orientation"] = facts.orientation.as_dict() if facts.orientation else None
    stats["noise_shells"] = facts.noise_shells
    si = facts.self_intersections
    stats["self_intersecting_faces"] = si.count if si is not None else None
    if si is not None and si.count:
        stats["self_intersection_locations_mm"] = si.locations
    if facts.thin_walls is not None:
        tw = facts.thin_walls
        stats["thin_walls"] = {"min_wall_mm": tw.min_wall_mm, "regions": len(tw.regions),
                               "thin_faces": int(len(tw.facets)),
                               "first_regions": [r.as_dict() for r in tw.regions[:5]]}
    stats["timings_s"] = facts.timings_s
    if facts.notes:
        stats["notes"] = facts.notes
    return stats


def check_triangles(tri: Triangles, path: str, build_volume_mm: Sequence[float] | None = None, tol: Tolerances = DEFAULT,
                    min_wall_mm: float | None = None, detail: bool = False) -> MeshReport:
    """Check facets already read. ``detail`` keeps the measured facts (``report.facts``) for the picture."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        facts = analyse(tri, build_volume_mm, tol, min_wall_mm, detail)
        report = MeshReport(path=path, findings=run_checks(facts, tol), stats=stats_of(facts))
    if detail:
        report.facts = facts
    return report


def check_file(path: str | os.PathLike[str], build_volume_mm: tuple[float, float, float] | None = None,
               tol: Tolerances = DEFAULT, min_wall_mm: float | None = None, detail: bool = False) -> MeshReport:
    """Read and check one STL file. Raises :class:`~hospfab.mesh.MeshReadError` when it is unreadable.
    ``min_wall_mm`` (a nozzle diameter) turns on the thin-wall check."""
    tri = read_stl(path)
    return check_triangles(tri, str(Path(path)), build_volume_mm, tol, min_wall_mm, detail)
