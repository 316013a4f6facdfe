"""The result of checking one STL file, and :func:`check_file`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hospfab.mesh.analysis import MeshFacts, analyse
from hospfab.mesh.checks import Finding, Severity, run_checks
from hospfab.mesh.stlio import read_stl
from hospfab.mesh.tolerances import DEFAULT, Tolerances


@dataclass
class MeshReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return [f.code for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[str]:
        return [f.code for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "errors": self.errors, "warnings": self.warnings,
                "stats": self.stats, "findings": [f.as_dict() for f in self.findings]}


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def stats_of(facts: MeshFacts) -> dict:
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
    if facts.notes:
        stats["notes"] = facts.notes
    return stats


def check_triangles(tri, path: str, build_volume_mm=None, tol: Tolerances = DEFAULT) -> MeshReport:
    facts = analyse(tri, build_volume_mm, tol)
    return MeshReport(path=path, findings=run_checks(facts, tol), stats=stats_of(facts))


def check_file(path: str | os.PathLike, build_volume_mm: tuple[float, float, float] | None = None,
               tol: Tolerances = DEFAULT) -> MeshReport:
    """Read and check one STL file. Raises :class:`~hospfab.mesh.MeshReadError` when it is unreadable."""
    tri = read_stl(path)
    return check_triangles(tri, str(Path(path)), build_volume_mm, tol)
