"""Slicing with the real prusa-slicer: every printer profile, refusals, header, CLI envelope."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospfab.errors import CheckFailed, InputError
from hospfab.gcode import check_gcode
from hospfab.profiles import ProfileStore
from hospfab.slicing import plate_fits, slice_parts

from tests.test_profiles import SHIPPED

STORE = ProfileStore(SHIPPED)
pytestmark = [pytest.mark.slicer]  # skipped without prusa-slicer, failed with CI set (octoprint_fixtures)


def _box(path: Path, size=(20.0, 20.0, 10.0), open_faces: int = 0) -> Path:
    import trimesh

    mesh = trimesh.creation.box(extents=size)
    if open_faces:
        mesh = trimesh.Trimesh(mesh.vertices, mesh.faces[:-open_faces], process=False)
    mesh.export(path)
    return path


@pytest.fixture(scope="module")
def box(tmp_path_factory) -> Path:
    return _box(tmp_path_factory.mktemp("stl") / "box.stl")


@pytest.mark.parametrize("printer", STORE.names("printer"))
def test_every_printer_profile_slices_and_passes_gcode_check(printer, box, tmp_path):
    p = STORE.printer(printer)
    material, process = STORE.material("petg"), STORE.process("draft")
    out = tmp_path / f"{printer}.gcode"
    result = slice_parts([box], p, material, process, output=out)
    assert out.is_file() and result.output == out and len(result.sha256) == 64
    assert result.layers == 33  # 10 mm in 0.3 mm layers
    est = result.estimates
    assert est["print_time_s"] > 0 and est["filament_mm"] > 0 and est["filament_g"] > 0
    assert result.slicer.name == "PrusaSlicer" and result.slicer.version
    report = check_gcode(out, p, material)
    assert report.ok, report.errors
    # The part is centred on the bed: its 20 mm footprint is inside the printing extents.
    x, y, _ = p.build_volume_mm
    ext = report.stats["extents_mm"]
    assert ext["x"][0] <= x / 2 - 10 + 0.5 and ext["x"][1] >= x / 2 + 10 - 0.5
    assert ext["z"][1] == pytest.approx(10.0, abs=0.3)  # last 0.3 mm layer
    head = out.read_text().splitlines()[:12]
    assert head[0] == "; hospfab header begin"
    assert f"; hospfab printer = {printer}" in head
    assert any(line.startswith("; hospfab input = box.stl sha256:") for line in head)
    if p.test_only:
        text = out.read_text()
        assert "\nM109" not in text and "\nM190" not in text


def test_copies_and_airtight(box, tmp_path):
    out = tmp_path / "four.gcode"
    result = slice_parts([box], STORE.printer("prusa-mk4"), STORE.material("pla"), STORE.process("airtight"),
                         copies=4, output=out)
    assert result.copies == 4
    single = slice_parts([box], STORE.printer("prusa-mk4"), STORE.material("pla"), STORE.process("airtight"),
                         output=tmp_path / "one.gcode")
    assert result.estimates["filament_mm"] == pytest.approx(4 * single.estimates["filament_mm"], rel=0.1)


def test_part_too_large_is_refused_before_slicing(tmp_path):
    big = _box(tmp_path / "big.stl", (200.0, 200.0, 10.0))
    out = tmp_path / "big.gcode"
    with pytest.raises(CheckFailed) as err:
        slice_parts([big], STORE.printer("prusa-mini"), STORE.material("pla"), STORE.process("draft"), output=out)
    assert err.value.code == "exceeds_build_volume" and "prusa-mini" in err.value.message
    assert not out.exists()


def test_copies_that_do_not_fit_are_refused(box, tmp_path):
    with pytest.raises(CheckFailed) as err:
        slice_parts([box], STORE.printer("prusa-mini"), STORE.material("pla"), STORE.process("draft"),
                    copies=100, output=tmp_path / "x.gcode")
    assert err.value.code == "exceeds_build_volume"


def test_failing_mesh_refused_unless_forced(tmp_path):
    broken = _box(tmp_path / "open.stl", open_faces=2)
    out = tmp_path / "open.gcode"
    args = ([broken], STORE.printer("prusa-mk4"), STORE.material("pla"), STORE.process("draft"))
    with pytest.raises(CheckFailed) as err:
        slice_parts(*args, output=out)
    assert err.value.code == "mesh_check_failed" and "open.stl" in err.value.message and not out.exists()
    result = slice_parts(*args, output=out, force=True)
    assert result.forced and result.mesh_errors
    assert "; hospfab forced = yes" in out.read_text()[:2000]


def test_bad_inputs(box, tmp_path):
    p, m, q = STORE.printer("prusa-mk4"), STORE.material("pla"), STORE.process("draft")
    with pytest.raises(InputError, match="no such STL"):
        slice_parts([tmp_path / "missing.stl"], p, m, q, output=tmp_path / "o.gcode")
    with pytest.raises(InputError, match="copies"):
        slice_parts([box], p, m, q, copies=0, output=tmp_path / "o.gcode")
    with pytest.raises(InputError, match="output folder"):
        slice_parts([box], p, m, q, output=tmp_path / "nope" / "o.gcode")


def test_plate_fits():
    assert plate_fits([(20, 20)] * 4, (180, 180))
    assert not plate_fits([(100, 100)] * 2, (180, 180))
    assert plate_fits([(80, 80)] * 4, (180, 180))


def test_cli_slice_json_and_gcode_check(cli, box, tmp_path):
    out = tmp_path / "cli.gcode"
    res = cli("slice", box, "--printer", "prusa-mk4", "--material", "pla", "--process", "draft", "-o", out, "--json")
    doc = res.json()
    assert res.exit_code == 0, doc["errors"]
    data = doc["data"]
    assert {"estimates", "layers", "extents_mm", "copies", "slicer", "output", "sha256"} <= set(data)
    assert {"print_time_s", "filament_mm", "filament_g"} <= set(data["estimates"])
    res = cli("gcode", "check", out, "--printer", "prusa-mk4", "--material", "pla", "--json")
    assert res.exit_code == 0 and res.json()["data"]["ok"]
    res = cli("gcode", "check", out, "--printer", "prusa-mk4", "--material", "abs")
    assert res.exit_code == 1 and "temperature_out_of_range" not in res.stderr  # messages, not codes
    assert "below the material's minimum" in res.stderr and "Traceback" not in res.stderr


def test_cli_slice_refusals(cli, tmp_path):
    big = _box(tmp_path / "big.stl", (300.0, 20.0, 10.0))
    res = cli("slice", big, "-p", "prusa-mk4", "-m", "pla", "-o", tmp_path / "o.gcode", "--json")
    assert res.exit_code == 1 and res.json()["errors"][0]["code"] == "exceeds_build_volume"
    res = cli("slice", big, "-p", "nope", "-m", "pla", "-o", tmp_path / "o.gcode")
    assert res.exit_code == 2 and "available:" in res.stderr
