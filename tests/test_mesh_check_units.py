"""Each mesh check of ``hospfab.mesh.checks`` on measured facts made by hand (no mesh, no analysis): when it
fires, its severity, and the exact message and advice the person at the printer reads. The same checks on real
meshes: tests/test_mesh_checks.py and tests/test_mesh_defects.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hospfab.mesh.analysis import MeshFacts
from hospfab.mesh.checks import REGISTRY, Finding, Severity, run_checks
from hospfab.mesh.intersections import SelfIntersections
from hospfab.mesh.orientation import Orientation
from hospfab.mesh.thickness import ThinRegion, ThinWalls
from hospfab.mesh.tolerances import DEFAULT, Tolerances
from hospfab.mesh.topology import EdgeStats

REPAIR = "run `hospfab repair IN -o OUT`, or fix and re-export it from the CAD source"


def facts(**changes) -> MeshFacts:
    """A clean 20 x 10 x 5 mm box, with ``changes``."""
    base = MeshFacts(
        triangles=12, format="binary", bounds_min=np.zeros(3), bounds_max=np.array([20.0, 10.0, 5.0]),
        area_mm2=700.0, volume_mm3=1000.0,
        welding={"cracks_hidden_by_welding": 0, "tolerance_mm": 1e-4, "merged_by_tolerance": 0},
        edges=EdgeStats(18, 0, 0, 0), degenerate_faces=0, duplicate_faces=0, bodies=1, shells=1,
        body_volumes_mm3=[1000.0], inverted_bodies=0, cavities=0, overlapping_pairs=0, overlap_pairs_tested=0,
        normals_disagree=0, normals_missing=0)
    return dataclasses.replace(base, **changes)


def only(f: MeshFacts, tol: Tolerances = DEFAULT) -> Finding:
    findings = run_checks(f, tol)
    assert len(findings) == 1, findings
    return findings[0]


def test_a_clean_part_has_no_finding():
    assert run_checks(facts()) == []
    assert run_checks(facts()) == run_checks(facts(), DEFAULT)


def test_the_registry_order_and_severities():
    assert [(c.key, c.severity.value) for c in REGISTRY] == [
        ("open_edges", "error"), ("non_manifold_edges", "error"), ("inconsistent_winding", "error"),
        ("inverted_normals", "error"), ("degenerate_faces", "error"), ("duplicate_faces", "error"),
        ("self_intersections", "error"), ("thin_walls", "warning"), ("exceeds_build_volume", "error"),
        ("multiple_bodies", "warning"), ("noise_shells", "warning"), ("overlapping_bodies", "warning"),
        ("stored_normals_mismatch", "warning"), ("welded_cracks", "warning"), ("suspicious_units", "warning")]


def test_findings_come_in_registry_order_and_render():
    findings = run_checks(facts(edges=EdgeStats(18, 2, 0, 1), bodies=2))
    assert [f.code for f in findings] == ["open_edges", "inconsistent_winding", "multiple_bodies"]
    assert findings[0].as_dict() == {
        "code": "open_edges", "severity": "error",
        "message": "2 edges belong to a single facet: the surface has holes or cracks, so it encloses no volume "
                   "and the slicer will guess",
        "advice": f"{REPAIR} (small holes are filled)"}


@pytest.mark.parametrize("changes, code, message, advice", [
    ({"edges": EdgeStats(18, 1, 0, 0)}, "open_edges",
     "1 edge belong to a single facet: the surface has holes or cracks, so it encloses no volume and the slicer "
     "will guess", f"{REPAIR} (small holes are filled)"),
    ({"edges": EdgeStats(18, 0, 1234, 0)}, "non_manifold_edges",
     "1,234 edges are shared by three or more facets: inside and outside are ambiguous there",
     "separate or boolean-union the touching parts in CAD and re-export"),
    ({"edges": EdgeStats(18, 0, 2, 0), "shells": 2}, "non_manifold_edges",
     "2 edges are shared by three or more facets joining 2 shells: inside and outside are ambiguous there",
     "separate or boolean-union the touching parts in CAD and re-export"),
    ({"edges": EdgeStats(18, 0, 0, 3)}, "inconsistent_winding",
     "3 edges join facets wound in opposite directions: some facets face inwards", REPAIR),
    ({"inverted_bodies": 1}, "inverted_normals",
     "1 body is inside out (negative volume): facets face inwards everywhere", REPAIR),
    ({"inverted_bodies": 2}, "inverted_normals",
     "2 bodies are inside out (negative volume): facets face inwards everywhere", REPAIR),
    ({"degenerate_faces": 5}, "degenerate_faces",
     "5 facets have no area (repeated or collinear corners, < 1e-10 mm^2)", REPAIR),
    ({"duplicate_faces": 1}, "duplicate_faces", "1 facet repeat another facet's three corners", REPAIR),
    ({"self_intersections": SelfIntersections(np.array([3, 4]), [[1.0, 2.5, 0.0], [4.0, 5.0, 6.25]])},
     "self_intersections",
     "2 facets cross other facets of the same body: the surface passes through itself, so inside and outside "
     "are wrong there (at (1, 2.5, 0); (4, 5, 6.25) mm)",
     "`hospfab repair` unions the part where it can; otherwise fix the crossing in CAD and re-export"),
    ({"build_volume_mm": (180.0, 180.0, 180.0)}, "exceeds_build_volume",
     "the part (20.0 x 10.0 x 5.0 mm) fits the build volume (180 x 180 x 180 mm) in none of the 6 flat "
     "orientations", "use a printer with a larger build volume, or split the part in CAD"),
    ({"bodies": 3}, "multiple_bodies", "the file holds 3 separate bodies",
     "fine for a plate of parts; for one part, check nothing came loose in the export"),
    ({"noise_shells": 1, "noise_volume_mm3": 0.0005}, "noise_shells",
     "1 tiny body (0.0005 mm3 in all) too small to print: under 0.3 mm, or under 0.001 mm3 and 2 mm; debris "
     "left by the export, not counted as bodies", "`hospfab repair` removes them"),
    ({"noise_shells": 2, "noise_volume_mm3": 0.000123}, "noise_shells",
     "2 tiny bodies (0.00012 mm3 in all) too small to print: under 0.3 mm, or under 0.001 mm3 and 2 mm; debris "
     "left by the export, not counted as bodies", "`hospfab repair` removes them"),
    ({"overlapping_pairs": 1}, "overlapping_bodies",
     "1 pair of bodies overlap: shells intersect instead of being united",
     "union the bodies in CAD; most slicers merge them but walls may print twice"),
    ({"normals_disagree": 1}, "stored_normals_mismatch",
     "1 stored normal point away from the normal given by the facet's corner order",
     "harmless for slicers that use the corner order; `hospfab repair` rewrites the normals"),
    ({"welding": {"cracks_hidden_by_welding": 4, "tolerance_mm": 0.00123, "merged_by_tolerance": 12345}},
     "welded_cracks",
     "4 edges only close after welding corners within 0.0012 mm (12,345 near-duplicate vertices)",
     "`hospfab repair` writes the welded mesh, so every tool sees it closed"),
])
def test_each_check_fires_with_its_wording(changes, code, message, advice):
    finding = only(facts(**changes))
    expected = next(c.severity for c in REGISTRY if c.key == code)
    assert (finding.code, finding.severity, finding.message, finding.advice) == (code, expected, message, advice)


def test_a_part_that_fits_some_orientation_is_not_too_big():
    fits = Orientation((0, 1, 2), (20.0, 10.0, 5.0))
    assert run_checks(facts(build_volume_mm=(180.0, 180.0, 180.0), orientation=fits)) == []


def test_no_crossing_found_is_no_finding():
    assert run_checks(facts(self_intersections=SelfIntersections(np.zeros(0, np.int64)))) == []


def test_one_body_is_not_several():
    assert run_checks(facts(bodies=1)) == [] and only(facts(bodies=2)).code == "multiple_bodies"


def test_stored_normals_tolerate_the_allowed_fraction():
    tol = Tolerances(normal_mismatch_fraction=0.25)  # 3 of 12 facets allowed
    assert run_checks(facts(normals_disagree=3), tol) == []
    assert only(facts(normals_disagree=4), tol).code == "stored_normals_mismatch"
    assert run_checks(facts(normals_disagree=0)) == []


def walls(*regions: ThinRegion, min_wall: float = 0.9) -> ThinWalls:
    return ThinWalls(min_wall, list(regions))


def test_thin_walls_that_print_wider_are_a_warning():
    tw = walls(ThinRegion(0.456, 0.8, 1234.5, [1.0, 2.0, 3.0]), ThinRegion(0.7, 0.85, 10.0, [5.0, 5.0, 5.0]))
    finding = only(facts(thin_walls=tw))
    assert (finding.code, finding.severity) == ("thin_walls", Severity.WARNING)
    assert finding.message == ("2 regions thinner than 0.9 mm, 1,244.5 mm2 in all; thinnest 0.46 mm over "
                               "1,234.5 mm2 at (1, 2, 3) mm: the slicer prints them wider than drawn, or weak")
    assert finding.advice == "thicken the walls to at least the nozzle diameter in CAD, or use a finer nozzle"


def test_thin_features_that_vanish_are_an_error():
    """At most a third of the minimum wall thick: the slicer drops them (an error, whatever the default)."""
    tw = walls(ThinRegion(0.2, 0.5, 3.0, [1.0, 1.0, 1.0]), ThinRegion(0.1, 0.25, 2.0, [7.0, 8.0, 9.0]),
               ThinRegion(0.1, 0.29, 2.0, [0.0, 0.0, 0.0]))
    finding = only(facts(thin_walls=tw))
    assert (finding.code, finding.severity) == ("thin_walls", Severity.ERROR)
    assert finding.message == ("3 regions thinner than 0.9 mm, 7.0 mm2 in all; thinnest 0.20 mm over 3.0 mm2 at "
                               "(1, 1, 1) mm; 2 features at most 0.25 mm thick (at (7, 8, 9) mm) will not print "
                               "at all")
    assert finding.advice == "thicken the walls to at least the nozzle diameter in CAD, or use a finer nozzle"
    at_third = walls(ThinRegion(0.1, 0.3, 1.0, [0.0, 0.0, 0.0]))  # exactly a third: printed, thin
    assert only(facts(thin_walls=at_third)).severity == Severity.WARNING


def test_no_thin_region_is_no_finding():
    assert run_checks(facts(thin_walls=walls())) == [] and run_checks(facts(thin_walls=None)) == []


def box(x: float, y: float, z: float) -> dict:
    return {"bounds_min": np.array([1.0, 1.0, 1.0]), "bounds_max": np.array([1.0 + x, 1.0 + y, 1.0 + z])}


def test_a_tiny_part_is_probably_in_other_units():
    finding = only(facts(**box(4.5, 2.0, 1.0)))
    assert (finding.code, finding.severity) == ("suspicious_units", Severity.WARNING)
    assert finding.message == ("every extent is under 5 mm (4.5 mm at most): units are probably inches, cm or "
                               "metres (x25.4 if drawn in inches)")
    assert finding.advice == "scale the part to millimetres before printing"
    assert run_checks(facts(**box(5.0, 2.0, 1.0))) == []  # 5 mm is a part


def test_the_inch_hint_only_up_to_its_bound():
    tol = Tolerances(small_part_mm=20.0, inch_like_max_mm=12.0)
    assert only(facts(**box(12.0, 1.0, 1.0)), tol).message.endswith("metres (x25.4 if drawn in inches)")
    assert only(facts(**box(13.0, 1.0, 1.0)), tol).message == (
        "every extent is under 20 mm (13 mm at most): units are probably inches, cm or metres")


def test_a_huge_part_is_probably_in_micrometres():
    finding = only(facts(**box(2500.4, 10.0, 10.0)))
    assert (finding.code, finding.severity) == ("suspicious_units", Severity.WARNING)
    assert finding.message == "the part is 2,500 mm long: units are probably micrometres or 0.1 mm"
    assert finding.advice == "scale the part to millimetres before printing"
    assert run_checks(facts(**box(2000.0, 10.0, 10.0))) == []  # 2 m is still a part


def test_a_check_may_override_its_default_severity():
    tw = walls(ThinRegion(0.1, 0.2, 1.0, [0.0, 0.0, 0.0]))
    warning_check = next(c for c in REGISTRY if c.key == "thin_walls")
    assert warning_check.severity == Severity.WARNING and only(facts(thin_walls=tw)).severity == Severity.ERROR
