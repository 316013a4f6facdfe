"""`repair_file`: each fixable defect is fixed, the input is never touched, the result is re-checked."""

from __future__ import annotations

import numpy as np
import pytest

from hospfab.errors import InputError
from hospfab.mesh import check_file, repair_file
import meshes as m

FIXABLE = {
    "open_edges": lambda: m.without(m.box(), 4),
    "inconsistent_winding": lambda: m.flipped(m.box(), [0, 7]),
    "inverted_normals": lambda: m.flipped(m.torus(800)),
    "degenerate_faces": lambda: m.with_degenerate(m.box()),
    "duplicate_faces": lambda: m.with_duplicate(m.box()),
    "crack": lambda: m.with_crack(m.box(), 1e-4),
}


@pytest.mark.parametrize("case", sorted(FIXABLE))
def test_repair_fixes(tmp_path, case):
    src = m.write_binary(tmp_path / "in.stl", FIXABLE[case]())
    original = src.read_bytes()
    report = repair_file(src, tmp_path / "out.stl")
    assert not report.before.ok and report.after.ok, report.after.findings
    assert src.read_bytes() == original
    after = check_file(tmp_path / "out.stl")
    assert after.ok and after.stats["volume_mm3"] > 0
    assert set(report.to_dict()) >= {"source", "output", "ok", "actions", "before", "after"}


def test_repair_keeps_the_volume_of_a_closed_part(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", m.flipped(m.box((20, 10, 5)), [1]))
    report = repair_file(src, tmp_path / "out.stl")
    assert report.after.stats["volume_mm3"] == pytest.approx(1000)
    assert report.actions["faces_reversed"] == 1


def test_repair_refuses_to_overwrite_input(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", m.box())
    with pytest.raises(InputError, match="overwrite"):
        repair_file(src, tmp_path / "." / "in.stl")


def test_unfixable_stays_failed(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", m.edge_sharing_boxes())
    report = repair_file(src, tmp_path / "out.stl")
    assert not report.ok and "non_manifold_edges" in report.after.errors


def test_repair_corpus_open_meshes(corpus, tmp_path):
    for name in ("ear-saver-stretched.stl", "makair-filter-box-bottom-v4.stl"):
        report = repair_file(corpus / name, tmp_path / name)
        assert report.before.errors == ["open_edges"] and report.after.ok
        assert report.after.stats["volume_mm3"] == pytest.approx(report.before.stats["volume_mm3"], rel=1e-4)
        assert np.isfinite(report.after.stats["area_mm2"])


def test_repair_removes_noise_shells_and_says_how_many(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", np.concatenate([m.box((40.0, 40.0, 2.0)), m.specks(40)]))
    report = repair_file(src, tmp_path / "out.stl")
    assert report.before.warnings == ["noise_shells"] and report.after.warnings == []
    assert report.actions["noise_shells_removed"] == 40
    assert report.after.stats["triangles"] == 12 and report.after.stats["volume_mm3"] == pytest.approx(3200)


def test_repair_unites_crossing_shells(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", np.concatenate([m.box(), m.box(origin=(5.0, 5.0, 5.0))]))
    report = repair_file(src, tmp_path / "out.stl")
    assert "overlapping_bodies" in report.before.warnings
    assert report.after.ok and report.after.warnings == [] and report.actions["shells_united"] == 2
    assert report.after.stats["volume_mm3"] == pytest.approx(2 * 1000 - 125, rel=1e-4)


def test_repair_says_when_a_self_intersection_is_left(tmp_path):
    src = m.write_binary(tmp_path / "in.stl", m.pushed_cap_sphere())
    report = repair_file(src, tmp_path / "out.stl")
    assert report.before.errors == ["self_intersections"] and report.after.errors == ["self_intersections"]
    assert "fix that in CAD" in report.actions["self_intersections_left"]
    assert not report.ok
