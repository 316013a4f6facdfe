"""Mesh checks on synthetic meshes: one case per code, stats cross-checked against trimesh."""

from __future__ import annotations

import numpy as np
import pytest

from hospfab.mesh import REGISTRY, check_file, fits_build_volume
from hospfab.mesh.orientation import orientations
import meshes as m


def check(tmp_path, tris, name="part.stl", fmt="binary", **kw):
    path = tmp_path / name
    (m.write_binary if fmt == "binary" else m.write_ascii)(path, tris)
    return check_file(path, **kw)


@pytest.mark.parametrize("fmt", ["binary", "ascii"])
def test_closed_box_passes_with_exact_stats(tmp_path, fmt):
    r = check(tmp_path, m.box((20, 10, 5)), fmt=fmt)
    assert r.ok and r.errors == [] and r.warnings == []
    s = r.stats
    assert s["triangles"] == 12 and s["extents_mm"] == [20, 10, 5]
    assert s["volume_mm3"] == pytest.approx(1000) and s["area_mm2"] == pytest.approx(700)
    assert s["bodies"] == 1 and s["edges"] == 18 and s["open_edges"] == 0
    assert s["welding"]["exact_vertices"] == 8 and s["welding"]["merged_by_tolerance"] == 0
    assert set(r.to_dict()) >= {"path", "ok", "errors", "warnings", "stats"}


def test_torus_matches_trimesh(tmp_path):
    import trimesh

    tris = m.torus(3000)
    r = check(tmp_path, tris)
    ref = trimesh.load_mesh(tmp_path / "part.stl")
    assert r.ok
    assert r.stats["volume_mm3"] == pytest.approx(ref.volume, rel=1e-6)
    assert r.stats["area_mm2"] == pytest.approx(ref.area, rel=1e-6)
    assert r.stats["edges"] == len(ref.edges_unique)
    assert r.stats["welding"]["exact_vertices"] == len(ref.vertices)


CASES = {
    "open_edges": (lambda: m.without(m.box(), 4), {"open_edges": 3}),
    "non_manifold_edges": (m.edge_sharing_boxes, {"non_manifold_edges": 1}),
    "inconsistent_winding": (lambda: m.flipped(m.box(), [0]), {"inconsistent_edges": 3}),
    "inverted_normals": (lambda: m.flipped(m.box()), {"inverted_bodies": 1}),
    "degenerate_faces": (lambda: m.with_degenerate(m.box()), {"degenerate_faces": 1}),
    "duplicate_faces": (lambda: m.with_duplicate(m.box()), {"duplicate_faces": 1, "non_manifold_edges": 0}),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_error_code(tmp_path, code):
    build, expected = CASES[code]
    r = check(tmp_path, build())
    assert not r.ok
    assert r.errors == [code]
    for key, value in expected.items():
        assert r.stats[key] == value, key
    finding = next(f for f in r.findings if f.code == code)
    assert finding.message and finding.advice


def test_reversed_duplicate_face_is_a_duplicate(tmp_path):
    tris = np.concatenate([m.box(), m.flipped(m.box()[:1])])
    r = check(tmp_path, tris)
    assert "duplicate_faces" in r.errors and r.stats["duplicate_faces"] == 1


def test_exceeds_build_volume_and_orientation(tmp_path):
    long = m.box((240, 20, 10))
    r = check(tmp_path, long, build_volume_mm=(250, 210, 220))
    assert r.ok and r.stats["orientation"]["rotated"] is False
    tall = m.box((20, 20, 240))  # too tall as modelled, fits lying down
    r = check(tmp_path, tall, build_volume_mm=(250, 210, 220))
    assert r.ok and r.stats["orientation"]["rotated"] is True
    assert r.stats["orientation"]["extents_mm"][2] == 20
    huge = m.box((300, 260, 230))
    r = check(tmp_path, huge, build_volume_mm=(250, 210, 220))
    assert r.errors == ["exceeds_build_volume"] and r.stats["orientation"] is None


def test_fits_build_volume_tries_the_six_orientations():
    assert len({o.axes for o in orientations((1, 2, 3))}) == 6
    o = fits_build_volume((100, 240, 30), (250, 210, 220))
    assert o.rotated and o.extents_mm == (240, 100, 30) and "turned" in o.name
    assert fits_build_volume((230, 100, 240), (250, 210, 220)) is None
    assert fits_build_volume((260, 260, 260), (250, 210, 220)) is None
    assert fits_build_volume((10, 10, 10), (250, 210, 220)).rotated is False


def test_multiple_and_overlapping_bodies(tmp_path):
    apart = np.concatenate([m.box(), m.box(origin=(30, 0, 0))])
    r = check(tmp_path, apart)
    assert r.ok and r.warnings == ["multiple_bodies"] and r.stats["bodies"] == 2
    overlap = np.concatenate([m.box(), m.box(origin=(5, 5, 5))])
    r = check(tmp_path, overlap)
    assert r.ok and set(r.warnings) == {"multiple_bodies", "overlapping_bodies"}
    assert r.stats["overlapping_body_pairs"] == 1


def test_cavity_is_not_inverted(tmp_path):
    hollow = np.concatenate([m.box((30, 30, 30)), m.flipped(m.box((10, 10, 10), origin=(10, 10, 10)))])
    r = check(tmp_path, hollow)
    assert r.ok, r.findings
    assert r.stats["cavities"] == 1 and r.stats["inverted_bodies"] == 0
    assert r.stats["volume_mm3"] == pytest.approx(27000 - 1000)
    lonely = np.concatenate([m.box(), m.flipped(m.box(origin=(30, 0, 0)))])
    assert check(tmp_path, lonely).errors == ["inverted_normals"]


def test_stored_normals_mismatch(tmp_path):
    tris = m.box()
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals[:3] *= -1
    m.write_binary(tmp_path / "n.stl", tris, normals=normals)
    r = check_file(tmp_path / "n.stl")
    assert r.ok and r.warnings == ["stored_normals_mismatch"] and r.stats["stored_normals_mismatch"] == 3
    m.write_binary(tmp_path / "z.stl", tris, normals=np.zeros((12, 3)))
    r = check_file(tmp_path / "z.stl")
    assert r.warnings == [] and r.stats["stored_normals_missing"] == 12


@pytest.mark.parametrize("size", [(1, 2, 3), (3000, 10, 10)])
def test_suspicious_units(tmp_path, size):
    r = check(tmp_path, m.box(size))
    assert r.ok and r.warnings == ["suspicious_units"]


def test_cracks_hidden_by_welding_are_reported(tmp_path):
    r = check(tmp_path, m.with_crack(m.box(), 1e-12), fmt="ascii")
    assert r.ok and r.warnings == ["welded_cracks"]
    w = r.stats["welding"]
    assert w["exact_vertices"] == 9 and w["welded_vertices"] == 8 and w["merged_by_tolerance"] == 1
    assert w["cracks_hidden_by_welding"] == 4 and w["tolerance_mm"] == 1e-6
    # a gap larger than the weld tolerance stays a crack
    r = check(tmp_path, m.with_crack(m.box(), 1e-3))
    assert r.errors == ["open_edges"] and r.stats["welding"]["merged_by_tolerance"] == 0


def test_registry_keys_are_unique_and_cover_the_contract():
    keys = [c.key for c in REGISTRY]
    assert len(keys) == len(set(keys))
    assert set(keys) >= {"open_edges", "non_manifold_edges", "inconsistent_winding", "inverted_normals",
                         "degenerate_faces", "duplicate_faces", "exceeds_build_volume", "multiple_bodies",
                         "stored_normals_mismatch", "suspicious_units", "overlapping_bodies"}


def test_large_mesh_counts(tmp_path):
    r = check(tmp_path, m.torus(200_000))
    assert r.ok and r.stats["triangles"] >= 190_000
    assert r.stats["edges"] == r.stats["triangles"] * 3 // 2


@pytest.mark.parametrize("tris", [np.zeros((12, 3, 3)), np.ones((4, 3, 3)) * 5.0], ids=["all-zero", "all-one-point"])
def test_only_degenerate_facets_fail_without_crashing(tmp_path, tris):
    """Every facet collapsed to a point: no body is left, and the verdict is degenerate_faces, not a crash."""
    report = check_file(m.write_binary(tmp_path / "collapsed.stl", tris))
    assert not report.ok
    assert "degenerate_faces" in report.errors
    assert report.stats["bodies"] == 0
