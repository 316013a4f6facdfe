"""Self-intersections, thin walls and noise shells: meshes made here that must fire, and controls that must not."""

from __future__ import annotations

import numpy as np
import pytest

import meshes as m
from hospfab.mesh import Triangles
from hospfab.mesh.report import check_triangles


def check(tris, min_wall_mm=None, **kw):
    tris = np.asarray(tris, np.float32)  # as a binary STL stores them
    return check_triangles(Triangles(tris, np.zeros((len(tris), 3), np.float32), "binary"), "t.stl",
                           min_wall_mm=min_wall_mm, **kw)


def leaked_strip() -> np.ndarray:
    """A variant: a straight strip with a second strip welded onto its end that dives back through it."""
    path = np.concatenate([np.stack([np.linspace(0, 20, 12), np.zeros(12), np.zeros(12)], axis=1),
                           np.stack([np.linspace(20, 8, 8)[1:], np.zeros(7), np.linspace(0, -4, 8)[1:] +
                                     np.linspace(0, 1, 8)[1:] * 6 - 3], axis=1)])
    return m.swept_slab(path, width=4.0, thickness=2.0)


SELF_INTERSECTING = {
    "box, top corner pulled through the bottom": lambda: m.pulled_vertex_box(),
    "box, corner pulled through a side": lambda: m.pulled_vertex_box((-3.0, 4.0, 5.0)),
    "sphere, cap pushed through the far side": lambda: m.pushed_cap_sphere(),
    "fine sphere, small cap pushed through": lambda: m.pushed_cap_sphere(5, 30.0, cap=0.9, push=2.1, skew=0.21),
    "strip folded back across itself": lambda: m.folded_strip(),
    "torus, a ring of vertices pushed through the hole": lambda: _pinched_torus(),
}


def _pinched_torus() -> np.ndarray:
    t = m.torus(4000)
    outer = np.linalg.norm(t[:, :, :2], axis=2) > 48  # the outer equator's band
    t[outer & (t[:, :, 0] > 30)] *= [-0.2, 1.0, 1.0]  # folded inwards across the tube and the hole
    return t


@pytest.mark.parametrize("case", sorted(SELF_INTERSECTING))
def test_self_intersections_fire(case):
    report = check(SELF_INTERSECTING[case]())
    assert "self_intersections" in report.errors, report.findings
    assert report.stats["self_intersecting_faces"] > 0
    locations = report.stats["self_intersection_locations_mm"]
    assert 1 <= len(locations) <= 5 and all(len(p) == 3 for p in locations)
    message = next(f.message for f in report.findings if f.code == "self_intersections")
    assert "mm" in message and "facet" in message


def test_self_intersection_location_is_where_it_crosses():
    report = check(m.pulled_vertex_box((7.0, 6.0, -5.0)))
    for x, y, z in report.stats["self_intersection_locations_mm"]:
        assert abs(z) < 1e-3 and 0 <= x <= 10 and 0 <= y <= 10  # on the bottom face it passes through


CLEAN = {
    "box": lambda: m.box(),
    "torus": lambda: m.torus(20000),
    "fine sphere": lambda: m.sphere(6),
    "noisy torus": lambda: m.torus(50000, noise=0.01, seed=3),
    "straight strip": lambda: m.swept_slab(np.stack([np.linspace(0, 30, 20), np.zeros(20), np.zeros(20)], 1)),
    "corner pulled onto the bottom (touching, not crossing)": lambda: m.pulled_vertex_box((7.0, 6.0, 0.0)),
    "corner pulled to the bottom's middle (coplanar contact)": lambda: m.pulled_vertex_box((5.0, 5.0, 0.0)),
    "fin on a base (one body, a union)": lambda: m.fin_on_base(1.6),
    "plate of separate parts": lambda: np.concatenate([m.box(origin=(20.0 * i, 0, 0)) for i in range(4)]),
    "cavity inside a box": lambda: m.hollow_box(2.0),
}


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_clean_meshes_have_no_self_intersections(case):
    report = check(CLEAN[case](), min_wall_mm=0.4)
    assert report.stats["self_intersecting_faces"] == 0
    assert "self_intersections" not in report.errors


def test_crossing_separate_bodies_are_overlapping_bodies_not_self_intersections():
    report = check(np.concatenate([m.box(), m.box(origin=(5.0, 5.0, 5.0))]))
    assert report.errors == [] and "overlapping_bodies" in report.warnings
    assert report.stats["self_intersecting_faces"] == 0


def test_degenerate_facets_are_not_reported_twice():
    plain = check(m.pulled_vertex_box())
    # a needle facet lying across the crossing: degenerate, and it would cross the bottom too
    needle = np.array([[[7.0, 6.0, -5.0], [7.0, 6.0, 5.0], [7.0, 6.0, 5.0 + 1e-12]]])
    report = check(np.concatenate([m.pulled_vertex_box(), needle]), detail=True)
    assert {"degenerate_faces", "self_intersections"} <= set(report.errors)
    assert report.stats["self_intersecting_faces"] == plain.stats["self_intersecting_faces"]
    assert 12 not in set(report.facts.facet_sets["self_intersections"].tolist())


# ---- thin walls ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("thickness", [0.2, 0.25, 0.3])
def test_thin_fin_is_a_warning(thickness):
    report = check(m.fin_on_base(thickness), min_wall_mm=0.4)
    assert report.errors == [] and "thin_walls" in report.warnings
    (region, *_) = report.stats["thin_walls"]["first_regions"]
    assert region["min_thickness_mm"] == pytest.approx(thickness, abs=1e-3)
    assert region["area_mm2"] == pytest.approx(2 * 10 * 10, rel=0.05)  # both sides of the fin above the base
    assert 9 < region["location_mm"][1] < 11 and region["location_mm"][2] > 3


def test_fin_that_would_vanish_is_an_error():
    report = check(m.fin_on_base(0.1), min_wall_mm=0.4)
    assert report.errors == ["thin_walls"]
    assert "will not print" in report.findings[0].message


def test_box_with_thin_walls_is_reported_all_over():
    report = check(m.hollow_box(0.25), min_wall_mm=0.4)
    assert "thin_walls" in report.warnings
    tw = report.stats["thin_walls"]
    assert tw["first_regions"][0]["min_thickness_mm"] == pytest.approx(0.25, abs=1e-3)
    assert sum(r["area_mm2"] for r in tw["first_regions"]) > 0.9 * (6 * 20 * 20 + 6 * 19.5 * 19.5)


def test_min_wall_sets_the_limit():
    assert "thin_walls" in check(m.fin_on_base(0.6), min_wall_mm=0.8).warnings
    assert "thin_walls" not in check(m.fin_on_base(0.6), min_wall_mm=0.4).warnings


THICK_ENOUGH = {
    "1.6 mm fin": lambda: m.fin_on_base(1.6),
    "0.45 mm fin": lambda: m.fin_on_base(0.45),
    "box with 2 mm walls": lambda: m.hollow_box(2.0),
    "torus": lambda: m.torus(20000),
    "fine sphere": lambda: m.sphere(6),
    "20 degree knife edge (a sharp edge, not a wall)": lambda: m.wedge(20.0),
    "8 degree knife edge": lambda: m.wedge(8.0),
    "rounded plate (fillets all round)": lambda: _rounded_plate(),
    "plate of separate parts": lambda: np.concatenate([m.box(origin=(20.0 * i, 0, 0)) for i in range(4)]),
    "overlapping bodies (coincident inner faces are not walls)": lambda: np.concatenate(
        [m.box(), m.box(origin=(5.0, 0.0, 0.0))]),
}


def _rounded_plate() -> np.ndarray:
    """A 30 x 30 x 3 mm plate with every edge rounded (r = 1.5 mm): a flattened torus closed by discs."""
    import trimesh

    core = trimesh.creation.cylinder(radius=13.5, height=3.0, sections=64).triangles
    rim = m.torus(6000, major=13.5, minor=1.5)
    return m.united(core, rim)


@pytest.mark.parametrize("case", sorted(THICK_ENOUGH))
def test_no_thin_walls_where_none_are(case):
    report = check(THICK_ENOUGH[case](), min_wall_mm=0.4)
    assert "thin_walls" not in report.errors + report.warnings, report.stats["thin_walls"]


def test_thin_walls_only_measured_when_asked():
    report = check(m.fin_on_base(0.2))
    assert "thin_walls" not in report.warnings and "thin_walls" not in report.stats


def test_thin_walls_skipped_on_open_meshes_with_a_note():
    report = check(m.without(m.fin_on_base(0.2), 0), min_wall_mm=0.4)
    assert "thin_walls" not in report.warnings and any("not measured" in n for n in report.stats["notes"])


# ---- noise shells -------------------------------------------------------------------------------------------

def test_specks_are_noise_not_bodies():
    report = check(np.concatenate([m.box((40.0, 40.0, 2.0)), m.specks(40)]))
    assert report.errors == [] and report.warnings == ["noise_shells"]
    assert report.stats["noise_shells"] == 40 and report.stats["bodies"] == 1


def test_noise_among_a_plate_of_parts_counts_apart():
    plate = np.concatenate([m.box(origin=(20.0 * i, 0, 0)) for i in range(3)] + [m.specks(5, origin=(0, 0, 20))])
    report = check(plate)
    assert report.stats["bodies"] == 3 and report.stats["noise_shells"] == 5
    assert {"multiple_bodies", "noise_shells"} <= set(report.warnings)


@pytest.mark.parametrize("tris", [
    pytest.param(lambda: np.concatenate([m.box(), m.box((0.5, 0.5, 0.5), origin=(20, 0, 0))]), id="0.5 mm cube"),
    pytest.param(lambda: np.concatenate([m.box(), m.box((3.0, 3.0, 0.05), origin=(20, 0, 0))]), id="3 mm flake"),
])
def test_small_real_parts_are_not_noise(tris):
    report = check(tris())
    assert report.stats["noise_shells"] == 0 and report.stats["bodies"] == 2


# ---- weld scope (a mutation probe) --------------------------------------------------------------------------

def test_tolerance_welding_joins_only_open_edge_vertices():
    """Two closed boxes whose corners are 0.5 um apart stay two bodies (tolerance welding must not reach
    vertices on closed edges, even when a stray open facet elsewhere makes it run), while a crack of the
    same size in one box is closed (it must reach those)."""
    stray = np.array([[[50.0, 0.0, 0.0], [60.0, 0.0, 0.0], [50.0, 10.0, 0.0]]])
    near = np.concatenate([m.box(origin=(-10.0, -10.0, -10.0)), m.box(origin=(3e-7, 3e-7, 3e-7)), stray])
    report = check(near)
    assert report.stats["open_edges"] == 3  # the stray facet: crack closing runs
    assert report.stats["bodies"] == 3 and report.stats["welding"]["merged_by_tolerance"] == 0
    cracked = check(m.with_crack(m.box(), 5e-7))  # (0, 0, 0) moved 0.87 um
    assert cracked.stats["open_edges"] == 0 and cracked.stats["welding"]["merged_by_tolerance"] == 1
    assert cracked.warnings == ["welded_cracks"]
