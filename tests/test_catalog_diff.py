"""`hospfab catalog diff`: what changed in each recipe (printer, material, process, copies, slicer settings
from the G-code's config block, estimates) and `supersedes`, on a seed reference re-built with the real
slicer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hospfab.catalog.diffing import slicer_config

REPO = Path(__file__).resolve().parents[1]


def test_slicer_settings_are_read_from_a_real_build_file():
    gcode = REPO / "catalog" / "EAR-SAVER" / "rev-1" / "build" / "prusa-mk4_petg_standard.gcode"
    settings = slicer_config(gcode)
    assert settings is not None and len(settings) > 100
    assert settings["layer_height"] == "0.2" and "fill_density" in settings
    assert slicer_config(REPO / "README.md") is None


@pytest.mark.slicer
def test_diff_of_a_rebuilt_reference_says_what_changed(cli, tmp_path):
    if shutil.which("prusa-slicer") is None:
        pytest.skip("prusa-slicer not installed")
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", catalog)
    c = ("--catalog", catalog)
    assert cli(*c, "catalog", "revise", "EAR-SAVER", "--changelog", "Draft layers, two per plate").exit_code == 0
    out = cli(*c, "catalog", "build", "EAR-SAVER@2", "--printer", "prusa-mk4", "--material", "petg",
              "--process", "draft", "--copies", "2")
    assert out.exit_code == 0, out.stderr
    data = cli(*c, "catalog", "diff", "EAR-SAVER@1", "EAR-SAVER@2", "--json").json()["data"]
    assert data["supersedes"]["b"] == 1
    mk4 = next(r for r in data["recipes"] if r["printer"] == "prusa-mk4")
    assert mk4["change"] == "changed" and mk4["build_file_changed"] is True
    fields = {f["field"]: (f["a"], f["b"]) for f in mk4["fields"]}
    assert fields["process"] == ("standard", "draft") and fields["copies"] == (4, 2)
    settings = {s["setting"]: (s["a"], s["b"]) for s in mk4["settings"]}
    assert settings["layer_height"] == ("0.2", "0.3")
    assert any(e["estimate"] == "print_time_s" for e in mk4["estimates"])
    removed = {r["printer"] for r in data["recipes"] if r["change"] == "removed"}
    assert "prusa-mini" in removed  # rev 2 was built for the MK4 only

    text = cli(*c, "catalog", "diff", "EAR-SAVER@1", "EAR-SAVER@2").stdout
    assert "EAR-SAVER@2 supersedes EAR-SAVER@1" in text
    assert "process: standard -> draft" in text and "copies: 4 -> 2" in text
    assert "setting layer_height: 0.2 -> 0.3" in text
    assert "supersedes: None" not in text
