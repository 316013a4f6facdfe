"""Ray scenes cut into slabs (large meshes, bounded memory) find exactly what one scene of the whole mesh finds.

The slab path only runs on meshes above ``raycast.SLAB_FACETS`` facets; here the limit is lowered so that
small meshes made for the purpose (random folds, slivers spanning every slab, thin walls across slab borders,
plates of bodies) are cut into many slabs, and every finding is compared with the one-scene reference.
"""

from __future__ import annotations

import numpy as np
import pytest

import meshes as m
from hospfab.mesh import Triangles, raycast
from hospfab.mesh.analysis import analyse


def facts_of(tris, min_wall_mm, slab_facets, monkeypatch):
    monkeypatch.setattr(raycast, "SLAB_FACETS", slab_facets)
    tris = np.asarray(tris, np.float32)
    return analyse(Triangles(tris, np.zeros((len(tris), 3), np.float32), "binary"), min_wall_mm=min_wall_mm)


def rotated(tris: np.ndarray, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return tris @ q.T


def fan_disc_slab(segments: int = 60, radius: float = 20.0, thickness: float = 0.3) -> np.ndarray:
    """A thin round plate whose faces are fans of long slivers: every sliver spans most slabs."""
    angles = np.linspace(0, 2 * np.pi, segments + 1)[:-1]
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius
    tris = []
    for i in range(segments):
        a, b = ring[i], ring[(i + 1) % segments]
        top = [np.r_[0, 0, thickness], np.r_[a, thickness], np.r_[b, thickness]]
        bottom = [np.r_[0, 0, 0], np.r_[b, 0], np.r_[a, 0]]
        tris += [top, bottom, [np.r_[a, 0], np.r_[b, 0], np.r_[b, thickness]],
                 [np.r_[a, 0], np.r_[b, thickness], np.r_[a, thickness]]]
    return np.array(tris)


def randomly_folded_sphere(seed: int) -> np.ndarray:
    """A fine sphere with a random cap pushed through by a random amount (crossing or not)."""
    rng = np.random.default_rng(seed)
    return m.pushed_cap_sphere(4, 20.0, cap=rng.uniform(0.6, 0.95), push=rng.uniform(1.0, 2.5),
                               skew=rng.uniform(0.0, 0.3))


CASES = {
    "box, corner pulled through the bottom": (lambda: m.pulled_vertex_box(), None),
    "strip folded back across itself": (lambda: m.folded_strip(), None),
    "open folded sphere (every edge cast both ways)": (lambda: m.without(m.pushed_cap_sphere(), 0, 5, 9), None),
    "pinched torus": (lambda: _pinched_torus(), None),
    "fan-sliver plate 0.3 mm thick": (lambda: rotated(fan_disc_slab(), 1), 0.4),
    "hollow box, 0.25 mm walls, rotated": (lambda: rotated(m.hollow_box(0.25), 2), 0.4),
    "0.1 mm fin on a base": (lambda: m.fin_on_base(0.1), 0.4),
    "knife-edge wedge": (lambda: m.wedge(), 0.4),
    "plate of crossing and clean bodies": (lambda: np.concatenate(
        [m.pulled_vertex_box(), m.torus(800, center=(40.0, 0, 0)), m.fin_on_base(0.2) + [0, 40, 0],
         m.hollow_box(0.3) + [40, 40, 0]]), 0.4),
    **{f"random folded sphere {seed}": (lambda seed=seed: rotated(randomly_folded_sphere(seed), seed), 0.5)
       for seed in range(4)},
}


def _pinched_torus() -> np.ndarray:
    t = m.torus(3000)
    outer = np.linalg.norm(t[:, :, :2], axis=2) > 48
    t[outer & (t[:, :, 0] > 30)] *= [-0.2, 1.0, 1.0]
    return t


@pytest.mark.parametrize("parts", [3, 17])
@pytest.mark.parametrize("case", sorted(CASES))
def test_slabs_find_what_one_scene_finds(case, parts, monkeypatch):
    make, wall = CASES[case]
    tris = make()
    slab_facets = max(2, len(tris) // parts)  # the case really is cut into slabs
    whole = facts_of(tris, wall, 10**9, monkeypatch)
    cut = facts_of(tris, wall, slab_facets, monkeypatch)
    assert np.array_equal(cut.self_intersections.facets, whole.self_intersections.facets)
    assert cut.self_intersections.locations == whole.self_intersections.locations
    if wall is not None:
        assert [r.as_dict() for r in cut.thin_walls.regions] == [r.as_dict() for r in whole.thin_walls.regions]
        assert np.array_equal(cut.thin_walls.facets, whole.thin_walls.facets)
        assert np.array_equal(cut.thin_walls.region_of_facet, whole.thin_walls.region_of_facet)


def test_the_cases_find_something():
    """The comparison above is not between two empty answers."""
    found = {case: analyse(Triangles(np.asarray(make(), np.float32), np.zeros((len(make()), 3), np.float32),
                                     "binary"), min_wall_mm=wall) for case, (make, wall) in CASES.items()}
    assert all(found[c].self_intersections.count for c in
               ("box, corner pulled through the bottom", "strip folded back across itself", "pinched torus",
                "open folded sphere (every edge cast both ways)"))
    assert all(found[c].thin_walls.regions for c in
               ("fan-sliver plate 0.3 mm thick", "hollow box, 0.25 mm walls, rotated", "0.1 mm fin on a base"))
    assert found["plate of crossing and clean bodies"].self_intersections.count
    assert found["plate of crossing and clean bodies"].thin_walls.regions


@pytest.mark.parametrize("seed", range(3))
def test_each_facet_in_one_slab_whose_scene_holds_all_it_can_reach(seed):
    rng = np.random.default_rng(seed)
    tris = rotated(np.concatenate([fan_disc_slab(40), m.sphere(3, 10.0, (30.0, 5.0, 0.0))]), seed)
    positions, inverse = np.unique(tris.reshape(-1, 3), axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3)
    reach = float(rng.uniform(0.0, 3.0))
    seen = np.zeros(len(faces), int)
    lo, hi = positions[faces].min(axis=1), positions[faces].max(axis=1)
    for slab in raycast.SlabPlan(positions, faces, reach, max_facets=int(rng.integers(20, 200))):
        seen[slab.facets] += 1
        held = np.zeros(len(faces), bool)
        held[slab.scene.ids] = True
        assert np.array_equal(slab.scene.positions[slab.scene.faces], positions[faces[slab.scene.ids]])
        for f in slab.facets:  # every facet whose box comes within reach of this facet's box is held
            near = np.all(lo <= hi[f] + reach, axis=1) & np.all(hi >= lo[f] - reach, axis=1)
            assert held[near].all()
    assert (seen == 1).all()


def test_slab_scene_reports_hits_by_whole_mesh_facet():
    tris = np.concatenate([m.box(), m.box(origin=(20.0, 0, 0)), m.box(origin=(40.0, 0, 0))])
    positions, inverse = np.unique(tris.reshape(-1, 3), axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3)
    for slab in raycast.SlabPlan(positions, faces, 1.0, max_facets=12):
        centre = positions[faces[slab.facets]].mean(axis=1)
        x = centre[:, 0].mean()
        prim, dist = slab.scene.first_hits(np.array([[x, 5.0, 20.0]]), np.array([[0.0, 0.0, -1.0]]),
                                           np.array([30.0]))
        assert prim[0] in slab.facets and abs(dist[0] - 10.0) < 1e-4  # the top of this slab's box
