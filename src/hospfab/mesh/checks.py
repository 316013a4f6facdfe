"""Mesh checks as small units behind a registry.

Each check has a stable ``key`` (the code reported in JSON), a severity (an error fails the part, a warning
does not) and a function of the measured :class:`~hospfab.mesh.analysis.MeshFacts` that returns a finding
(message and advice for the person at the printer) or None. Adding a check is adding one decorated function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from hospfab.mesh.analysis import MeshFacts
from hospfab.mesh.tolerances import DEFAULT, Tolerances


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    advice: str

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "advice": self.advice}


@dataclass(frozen=True)
class Check:
    key: str
    severity: Severity
    run: Callable[[MeshFacts, Tolerances], tuple[str, str] | None]


REGISTRY: list[Check] = []
REPAIR = "run `hospfab repair IN -o OUT`, or fix and re-export it from the CAD source"


def check(key: str, severity: Severity):
    def register(fn):
        REGISTRY.append(Check(key, severity, fn))
        return fn
    return register


def run_checks(facts: MeshFacts, tol: Tolerances = DEFAULT) -> list[Finding]:
    findings = []
    for unit in REGISTRY:
        outcome = unit.run(facts, tol)
        if outcome is not None:
            findings.append(Finding(unit.key, unit.severity, *outcome))
    return findings


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@check("open_edges", Severity.ERROR)
def _open(f: MeshFacts, tol):
    if f.edges.open:
        return (f"{_n(f.edges.open, 'edge')} belong to a single facet: the surface has holes or cracks, so it "
                "encloses no volume and the slicer will guess", f"{REPAIR} (small holes are filled)")


@check("non_manifold_edges", Severity.ERROR)
def _non_manifold(f: MeshFacts, tol):
    if f.edges.non_manifold:
        shells = f" joining {f.shells} shells" if f.shells > 1 else ""
        return (f"{_n(f.edges.non_manifold, 'edge')} are shared by three or more facets{shells}: inside and "
                "outside are ambiguous there", "separate or boolean-union the touching parts in CAD and re-export")


@check("inconsistent_winding", Severity.ERROR)
def _winding(f: MeshFacts, tol):
    if f.edges.inconsistent:
        return (f"{_n(f.edges.inconsistent, 'edge')} join facets wound in opposite directions: some facets "
                "face inwards", REPAIR)


@check("inverted_normals", Severity.ERROR)
def _inverted(f: MeshFacts, tol):
    if f.inverted_bodies:
        return (f"{_n(f.inverted_bodies, 'body')} {'is' if f.inverted_bodies == 1 else 'are'} inside out "
                "(negative volume): facets face inwards everywhere", REPAIR)


@check("degenerate_faces", Severity.ERROR)
def _degenerate(f: MeshFacts, tol):
    if f.degenerate_faces:
        return (f"{_n(f.degenerate_faces, 'facet')} have no area (repeated or collinear corners, "
                f"< {tol.degenerate_area_mm2:g} mm^2)", REPAIR)


@check("duplicate_faces", Severity.ERROR)
def _duplicate(f: MeshFacts, tol):
    if f.duplicate_faces:
        return (f"{_n(f.duplicate_faces, 'facet')} repeat another facet's three corners", REPAIR)


@check("exceeds_build_volume", Severity.ERROR)
def _build_volume(f: MeshFacts, tol):
    if f.build_volume_mm is not None and f.orientation is None:
        size = " x ".join(f"{e:.1f}" for e in f.extents_mm)
        bed = " x ".join(f"{e:g}" for e in f.build_volume_mm)
        return (f"the part ({size} mm) fits the build volume ({bed} mm) in none of the 6 flat orientations",
                "use a printer with a larger build volume, or split the part in CAD")


@check("multiple_bodies", Severity.WARNING)
def _bodies(f: MeshFacts, tol):
    if f.bodies > 1:
        return (f"the file holds {f.bodies} separate bodies", "fine for a plate of parts; for one part, "
                "check nothing came loose in the export")


@check("overlapping_bodies", Severity.WARNING)
def _overlap(f: MeshFacts, tol):
    if f.overlapping_pairs:
        return (f"{_n(f.overlapping_pairs, 'pair')} of bodies overlap: shells intersect instead of being "
                "united", "union the bodies in CAD; most slicers merge them but walls may print twice")


@check("stored_normals_mismatch", Severity.WARNING)
def _normals(f: MeshFacts, tol):
    if f.normals_disagree > tol.normal_mismatch_fraction * f.triangles:
        return (f"{_n(f.normals_disagree, 'stored normal')} point away from the normal given by the facet's "
                "corner order", "harmless for slicers that use the corner order; `hospfab repair` rewrites "
                "the normals")


@check("welded_cracks", Severity.WARNING)
def _cracks(f: MeshFacts, tol):
    hidden = f.welding["cracks_hidden_by_welding"]
    if hidden:
        return (f"{_n(hidden, 'edge')} only close after welding corners within "
                f"{f.welding['tolerance_mm']:.2g} mm ({f.welding['merged_by_tolerance']:,} near-duplicate "
                "vertices)", "`hospfab repair` writes the welded mesh, so every tool sees it closed")


@check("suspicious_units", Severity.WARNING)
def _units(f: MeshFacts, tol):
    ext = f.extents_mm
    if float(ext.max()) < tol.small_part_mm:
        hint = " (x25.4 if drawn in inches)" if float(ext.max()) <= tol.inch_like_max_mm else ""
        return (f"every extent is under {tol.small_part_mm:g} mm ({ext.max():.3g} mm at most): units are "
                f"probably inches, cm or metres{hint}", "scale the part to millimetres before printing")
    if float(ext.max()) > tol.huge_part_mm:
        return (f"the part is {ext.max():,.0f} mm long: units are probably micrometres or 0.1 mm",
                "scale the part to millimetres before printing")
