"""Mesh checks as small units behind a registry.

Each check has a stable ``key`` (the code reported in JSON), a severity (an error fails the part, a warning
does not) and a function of the measured :class:`~hospfab.mesh.analysis.MeshFacts` that returns a finding
(message and advice for the person at the printer, optionally a severity that overrides the default) or
None. Adding a check is adding one decorated function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

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

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "advice": self.advice}


#: What a check returns: None, or (message, advice) and optionally a severity overriding the default.
Outcome = tuple[str, str] | tuple[str, str, Severity] | None
CheckFn = Callable[[MeshFacts, Tolerances], Outcome]


@dataclass(frozen=True)
class Check:
    key: str
    severity: Severity
    run: CheckFn


REGISTRY: list[Check] = []
REPAIR = "run `hospfab repair IN -o OUT`, or fix and re-export it from the CAD source"


def check(key: str, severity: Severity) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        REGISTRY.append(Check(key, severity, fn))
        return fn
    return register


def run_checks(facts: MeshFacts, tol: Tolerances = DEFAULT) -> list[Finding]:
    findings: list[Finding] = []
    for unit in REGISTRY:
        outcome = unit.run(facts, tol)
        if outcome is not None:
            message, advice, *severity = outcome
            findings.append(Finding(unit.key, severity[0] if severity else unit.severity, message, advice))
    return findings


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


@check("open_edges", Severity.ERROR)
def _open(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.edges.open:
        return (f"{_n(f.edges.open, 'edge')} belong to a single facet: the surface has holes or cracks, so it "
                "encloses no volume and the slicer will guess", f"{REPAIR} (small holes are filled)")
    return None


@check("non_manifold_edges", Severity.ERROR)
def _non_manifold(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.edges.non_manifold:
        shells = f" joining {f.shells} shells" if f.shells > 1 else ""
        return (f"{_n(f.edges.non_manifold, 'edge')} are shared by three or more facets{shells}: inside and "
                "outside are ambiguous there", "separate or boolean-union the touching parts in CAD and re-export")
    return None


@check("inconsistent_winding", Severity.ERROR)
def _winding(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.edges.inconsistent:
        return (f"{_n(f.edges.inconsistent, 'edge')} join facets wound in opposite directions: some facets "
                "face inwards", REPAIR)
    return None


@check("inverted_normals", Severity.ERROR)
def _inverted(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.inverted_bodies:
        verb = "is" if f.inverted_bodies == 1 else "are"
        return (f"{_n(f.inverted_bodies, 'body', 'bodies')} {verb} inside out "
                "(negative volume): facets face inwards everywhere", REPAIR)
    return None


@check("degenerate_faces", Severity.ERROR)
def _degenerate(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.degenerate_faces:
        return (f"{_n(f.degenerate_faces, 'facet')} have no area (repeated or collinear corners, "
                f"< {tol.degenerate_area_mm2:g} mm^2)", REPAIR)
    return None


@check("duplicate_faces", Severity.ERROR)
def _duplicate(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.duplicate_faces:
        return (f"{_n(f.duplicate_faces, 'facet')} repeat another facet's three corners", REPAIR)
    return None


def _at(points: Iterable[Iterable[float]]) -> str:
    return "; ".join("(" + ", ".join(f"{x:g}" for x in p) + ")" for p in points)


@check("self_intersections", Severity.ERROR)
def _self_intersections(f: MeshFacts, tol: Tolerances) -> Outcome:
    si = f.self_intersections
    if si is not None and si.count:
        return (f"{_n(si.count, 'facet')} cross other facets of the same body: the surface passes through "
                f"itself, so inside and outside are wrong there (at {_at(si.locations)} mm)",
                "`hospfab repair` unions the part where it can; otherwise fix the crossing in CAD and re-export")
    return None


@check("thin_walls", Severity.WARNING)
def _thin_walls(f: MeshFacts, tol: Tolerances) -> Outcome:
    tw = f.thin_walls
    if tw is None or not tw.regions:
        return None
    vanish = [r for r in tw.regions if r.max_mm < tol.thin_vanish_fraction * tw.min_wall_mm]
    first = tw.regions[0]
    what = (f"{_n(len(tw.regions), 'region')} thinner than {tw.min_wall_mm:g} mm, "
            f"{sum(r.area_mm2 for r in tw.regions):,.1f} mm2 in all; thinnest {first.min_mm:.2f} mm over "
            f"{first.area_mm2:,.1f} mm2 at {_at([first.location_mm])} mm")
    if vanish:
        v = vanish[0]
        return (f"{what}; {_n(len(vanish), 'feature')} at most {v.max_mm:.2f} mm thick (at "
                f"{_at([v.location_mm])} mm) will not print at all",
                "thicken the walls to at least the nozzle diameter in CAD, or use a finer nozzle", Severity.ERROR)
    return (f"{what}: the slicer prints them wider than drawn, or weak",
            "thicken the walls to at least the nozzle diameter in CAD, or use a finer nozzle")


@check("exceeds_build_volume", Severity.ERROR)
def _build_volume(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.build_volume_mm is not None and f.orientation is None:
        size = " x ".join(f"{e:.1f}" for e in f.extents_mm)
        bed = " x ".join(f"{e:g}" for e in f.build_volume_mm)
        return (f"the part ({size} mm) fits the build volume ({bed} mm) in none of the 6 flat orientations",
                "use a printer with a larger build volume, or split the part in CAD")
    return None


@check("multiple_bodies", Severity.WARNING)
def _bodies(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.bodies > 1:
        return (f"the file holds {f.bodies} separate bodies", "fine for a plate of parts; for one part, "
                "check nothing came loose in the export")
    return None


@check("noise_shells", Severity.WARNING)
def _noise(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.noise_shells:
        return (f"{_n(f.noise_shells, 'tiny body', 'tiny bodies')} ({f.noise_volume_mm3:.2g} mm3 in all) "
                "too small to print: "
                f"under {tol.noise_size_mm:g} mm, or under {tol.noise_volume_mm3:g} mm3 and "
                f"{tol.noise_volume_size_mm:g} mm; debris left by the export, not counted as bodies",
                "`hospfab repair` removes them")
    return None


@check("overlapping_bodies", Severity.WARNING)
def _overlap(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.overlapping_pairs:
        return (f"{_n(f.overlapping_pairs, 'pair')} of bodies overlap: shells intersect instead of being "
                "united", "union the bodies in CAD; most slicers merge them but walls may print twice")
    return None


@check("stored_normals_mismatch", Severity.WARNING)
def _normals(f: MeshFacts, tol: Tolerances) -> Outcome:
    if f.normals_disagree > tol.normal_mismatch_fraction * f.triangles:
        return (f"{_n(f.normals_disagree, 'stored normal')} point away from the normal given by the facet's "
                "corner order", "harmless for slicers that use the corner order; `hospfab repair` rewrites "
                "the normals")
    return None


@check("welded_cracks", Severity.WARNING)
def _cracks(f: MeshFacts, tol: Tolerances) -> Outcome:
    hidden = f.welding["cracks_hidden_by_welding"]
    if hidden:
        return (f"{_n(hidden, 'edge')} only close after welding corners within "
                f"{f.welding['tolerance_mm']:.2g} mm ({f.welding['merged_by_tolerance']:,} near-duplicate "
                "vertices)", "`hospfab repair` writes the welded mesh, so every tool sees it closed")
    return None


@check("suspicious_units", Severity.WARNING)
def _units(f: MeshFacts, tol: Tolerances) -> Outcome:
    ext = f.extents_mm
    if float(ext.max()) < tol.small_part_mm:
        hint = " (x25.4 if drawn in inches)" if float(ext.max()) <= tol.inch_like_max_mm else ""
        return (f"every extent is under {tol.small_part_mm:g} mm ({ext.max():.3g} mm at most): units are "
                f"probably inches, cm or metres{hint}", "scale the part to millimetres before printing")
    if float(ext.max()) > tol.huge_part_mm:
        return (f"the part is {ext.max():,.0f} mm long: units are probably micrometres or 0.1 mm",
                "scale the part to millimetres before printing")
    return None
