"""The defect picture: which facets each finding colours, and `catalog new` keeping it beside the preview."""

from __future__ import annotations

import numpy as np

import meshes as m
from hospfab.mesh import Triangles
from hospfab.mesh.picture import highlights
from hospfab.mesh.report import check_triangles


def detailed(tris, **kw):
    tris = np.asarray(tris, np.float32)
    return check_triangles(Triangles(tris, np.zeros((len(tris), 3), np.float32), "binary"), "t.stl",
                           detail=True, **kw)


def test_each_topology_finding_names_its_facets():
    open_box = detailed(m.without(m.box(), 4))
    assert len(open_box.facts.facet_sets["open_edges"]) == 3  # the hole's three neighbours
    flipped = detailed(m.flipped(m.box(), [7]))
    assert 7 in flipped.facts.facet_sets["inconsistent_winding"].tolist()
    degenerate = detailed(m.with_degenerate(m.box()))
    assert degenerate.facts.facet_sets["degenerate_faces"].tolist() == [12]
    duplicate = detailed(m.with_duplicate(m.box(), 3))
    assert duplicate.facts.facet_sets["duplicate_faces"].tolist() == [12]
    shared = detailed(m.edge_sharing_boxes())
    assert len(shared.facts.facet_sets["non_manifold_edges"]) == 4
    overlap = detailed(np.concatenate([m.box(origin=(40.0, 0, 0)), m.box(), m.box(origin=(5.0, 5.0, 5.0))]))
    assert overlap.facts.facet_sets["overlapping_bodies"].tolist() == list(range(12, 36))
    inside_out = detailed(m.flipped(m.torus(800)))
    assert len(inside_out.facts.facet_sets["inverted_normals"]) == len(m.torus(800))


def test_highlights_follow_the_findings_errors_first():
    tris = np.concatenate([m.fin_on_base(0.2), m.pulled_vertex_box() + [30.0, 0.0, 0.0]])
    report = detailed(tris, min_wall_mm=0.4)
    codes = [code for code, _, _ in highlights(report)]
    assert codes == ["self_intersections", "thin_walls"]
    crossing = dict((code, idx) for code, _, idx in highlights(report))["self_intersections"]
    assert crossing.min() >= len(m.fin_on_base(0.2))  # only the pulled box's facets


def test_catalog_new_keeps_the_mesh_picture(cli, tmp_path):
    catalog = tmp_path / "catalog"
    dirty = m.write_binary(tmp_path / "dirty.stl", np.concatenate([m.box((40.0, 40.0, 2.0)), m.specks(6)]))
    clean = m.write_binary(tmp_path / "clean.stl", m.box((40.0, 40.0, 2.0)))
    for ref, stl in (("TEST-DIRTY", dirty), ("TEST-CLEAN", clean)):
        out = cli("--catalog", catalog, "catalog", "new", ref, "--title", "Plate", "--model", stl, "--json")
        assert out.exit_code == 0, out.stderr
    dirty_pngs = [p.name for p in (catalog / "TEST-DIRTY").rglob("*.png")]
    clean_pngs = [p.name for p in (catalog / "TEST-CLEAN").rglob("*.png")]
    assert sorted(dirty_pngs) == ["mesh-check.png", "preview.png"]
    assert clean_pngs == ["preview.png"]
