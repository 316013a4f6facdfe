"""`hospfab check` and `hospfab repair` through the CLI: verdicts, exit codes, the JSON contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import meshes as m

FILE_KEYS = {"path", "ok", "errors", "warnings", "stats"}


def test_check_ok_json(cli, tmp_path):
    path = m.write_binary(tmp_path / "box.stl", m.box())
    out = cli("check", path, "--json")
    assert out.exit_code == 0
    doc = out.json()
    assert doc["command"] == "check" and doc["ok"] is True and doc["errors"] == []
    (entry,) = doc["data"]["files"]
    assert FILE_KEYS <= set(entry) and entry["ok"] is True and entry["errors"] == []
    for key in ("triangles", "extents_mm", "volume_mm3", "area_mm2", "bodies", "open_edges", "welding"):
        assert key in entry["stats"]


def test_check_failure_exit_1_and_table(cli, tmp_path):
    path = m.write_binary(tmp_path / "open.stl", m.without(m.box(), 0))
    out = cli("check", path)
    assert out.exit_code == 1
    assert "open_edges" in out.stdout and "repair" in out.stdout
    assert out.stderr.strip().startswith("Error:") and "open.stl" in out.stderr
    doc = cli("check", path, "--json").json()
    assert doc["exit_code"] == 1 and doc["data"]["files"][0]["errors"] == ["open_edges"]


def test_check_warning_only_is_ok(cli, tmp_path):
    path = m.write_binary(tmp_path / "two.stl", np.concatenate([m.box(), m.box(origin=(20, 0, 0))]))
    out = cli("check", path, "--json")
    assert out.exit_code == 0 and out.json()["data"]["files"][0]["warnings"] == ["multiple_bodies"]


def test_unreadable_exit_2_no_traceback(cli, tmp_path):
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\0" * 80 + (1000).to_bytes(4, "little") + b"\0" * 100)
    good = m.write_binary(tmp_path / "good.stl", m.box())
    out = cli("check", good, bad)
    assert out.exit_code == 2 and "Traceback" not in out.stdout + out.stderr
    assert "bad.stl" in out.stderr
    doc = cli("check", good, bad, "--json").json()
    assert doc["exit_code"] == 2 and [f["ok"] for f in doc["data"]["files"]] == [True, False]
    assert doc["errors"][0]["code"] == "unreadable" and "bad.stl" in doc["errors"][0]["message"]
    missing = cli("check", tmp_path / "nope.stl", "--json").json()
    assert missing["exit_code"] == 2


def test_check_folder_and_empty_folder(cli, tmp_path):
    m.write_binary(tmp_path / "a.stl", m.box())
    m.write_ascii(tmp_path / "b.STL", m.box())
    doc = cli("check", tmp_path, "--json").json()
    assert [f["path"].rsplit("/", 1)[-1] for f in doc["data"]["files"]] == ["a.stl", "b.STL"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("check", empty).exit_code == 2


def test_check_printer_build_volume(cli, tmp_path):
    fits = m.write_binary(tmp_path / "tall.stl", m.box((20, 20, 240)))
    doc = cli("check", fits, "--printer", "prusa-mk4", "--json").json()
    assert doc["exit_code"] == 0
    assert doc["data"]["printer"]["build_volume_mm"] == [250, 210, 220]
    assert doc["data"]["files"][0]["stats"]["orientation"]["rotated"] is True
    big = m.write_binary(tmp_path / "big.stl", m.box((300, 300, 300)))
    out = cli("check", big, "--printer", "prusa-mk4")
    assert out.exit_code == 1 and "exceeds_build_volume" in out.stdout
    unknown = cli("check", fits, "--printer", "no-such-printer", "--json").json()
    assert unknown["exit_code"] == 2 and "no-such-printer" in unknown["errors"][0]["message"]


def test_repair_cli(cli, tmp_path):
    src = m.write_binary(tmp_path / "flip.stl", m.flipped(m.box()))
    out = cli("repair", src, "-o", tmp_path / "fixed.stl")
    assert out.exit_code == 0 and "before" in out.stdout and "after" in out.stdout
    doc = cli("repair", src, "-o", tmp_path / "fixed2.stl", "--json").json()
    assert doc["ok"] and doc["data"]["before"]["errors"] == ["inverted_normals"] and doc["data"]["after"]["ok"]
    same = cli("repair", src, "-o", src, "--json").json()
    assert same["exit_code"] == 2 and "overwrite" in same["errors"][0]["message"]
    bad = cli("repair", m.write_binary(tmp_path / "nm.stl", m.edge_sharing_boxes()), "-o", tmp_path / "o.stl")
    assert bad.exit_code == 1 and "still fails" in bad.stderr


def test_whole_process_check(tmp_path):
    path = m.write_binary(tmp_path / "box.stl", m.box())
    run = subprocess.run([sys.executable, "-m", "hospfab", "check", str(path), "--json"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and '"ok": true' in run.stdout


def _pixels_near(png, rgb, tol=40) -> int:
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    return int(np.count_nonzero(np.abs(pixels - rgb).max(axis=1) < tol))


def test_check_printer_nozzle_finds_thin_walls(cli, tmp_path):
    fin = m.write_binary(tmp_path / "fin.stl", m.fin_on_base(0.2))
    doc = cli("check", fin, "--printer", "prusa-mk4", "--json").json()
    assert doc["exit_code"] == 0 and doc["data"]["min_wall_mm"] == 0.4
    assert doc["data"]["printer"]["nozzle_diameter_mm"] == 0.4
    assert doc["data"]["files"][0]["warnings"] == ["thin_walls"]
    assert cli("check", fin, "--json").json()["data"]["files"][0]["warnings"] == []
    assert cli("check", fin, "--min-wall", "0.15", "--json").json()["data"]["files"][0]["warnings"] == []
    vanishing = m.write_binary(tmp_path / "fin01.stl", m.fin_on_base(0.1))
    out = cli("check", vanishing, "--printer", "prusa-mk4")
    assert out.exit_code == 1 and "thin_walls" in out.stdout and "will not print" in out.stdout


def test_check_picture_colours_each_defect(cli, tmp_path):
    from hospfab.mesh.picture import PALETTE

    bad = np.concatenate([m.pulled_vertex_box(), m.fin_on_base(0.2) + [20.0, 0.0, 0.0],
                          m.specks(10, origin=(0.0, 30.0, 0.0))])
    path = m.write_binary(tmp_path / "bad.stl", bad)
    png = tmp_path / "bad.png"
    doc = cli("check", path, "--min-wall", "0.4", "--picture", png, "--json").json()
    assert doc["exit_code"] == 1
    shown = doc["data"]["files"][0]["picture"]["shows"]
    assert shown == ["self_intersections", "thin_walls", "noise_shells"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for colour in PALETTE[:3]:  # each code's colour is on the picture (facets and the legend)
        assert _pixels_near(png, colour) > 50, colour
    clean = tmp_path / "clean.png"
    out = cli("check", m.write_binary(tmp_path / "box.stl", m.box()), "--picture", clean)
    assert out.exit_code == 0 and clean.exists() and _pixels_near(clean, PALETTE[0]) == 0
    two = cli("check", path, path, "--picture", tmp_path / "x.png", "--json").json()
    assert two["exit_code"] == 2 and "exactly one" in two["errors"][0]["message"]


def test_check_and_repair_refuse_coordinates_float32_cannot_hold(tmp_path):
    huge = m.box() * 1e38
    huge[0, 0, 0] = 5e38  # fits in an ASCII float, not in binary STL's float32
    src = m.write_ascii(tmp_path / "huge.stl", huge)
    for args in (["check", str(src)], ["repair", str(src), "-o", str(tmp_path / "out.stl")]):
        run = subprocess.run([sys.executable, "-m", "hospfab", *args], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "huge.stl" in lines[0] and "float32" in lines[0]
        assert "Warning" not in run.stderr + run.stdout
    assert not (tmp_path / "out.stl").exists()


def test_no_numpy_warning_reaches_the_terminal(tmp_path):
    big = m.write_ascii(tmp_path / "big.stl", m.box() * 3e37)  # holdable, but products overflow float32
    for args in (["check", str(big), "--min-wall", "0.4", "--picture", str(tmp_path / "b.png")],
                 ["repair", str(big), "-o", str(tmp_path / "out.stl")]):
        run = subprocess.run([sys.executable, "-W", "default", "-m", "hospfab", *args], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode in (0, 1), run.stderr
        assert "Warning" not in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_repair_cli_lists_the_new_codes(cli, tmp_path):
    src = m.write_binary(tmp_path / "specks.stl", np.concatenate([m.box((40.0, 40.0, 2.0)), m.specks(12)]))
    out = cli("repair", src, "-o", tmp_path / "clean.stl")
    assert out.exit_code == 0 and "noise_shells" in out.stdout and "noise shells removed: 12" in out.stdout
    crossing = m.write_binary(tmp_path / "pulled.stl", m.pulled_vertex_box())
    out = cli("repair", crossing, "-o", tmp_path / "still.stl")
    assert out.exit_code == 1 and "self_intersections" in out.stdout and "fix that in CAD" in out.stdout
