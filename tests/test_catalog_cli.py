"""`hospfab catalog ...` and `hospfab keys ...` end to end through the CLI, with the real slicer."""

from __future__ import annotations

import os
import stat

import pytest

from test_catalog_lifecycle import write_box

pytestmark = pytest.mark.slicer


@pytest.fixture
def workspace(tmp_path, cli, monkeypatch):
    catalog = tmp_path / "catalog"
    monkeypatch.setenv("HOSPFAB_KEY_PASSPHRASE", "correct horse battery")
    out = cli("--catalog", catalog, "keys", "new", "qa-lead", "--dir", tmp_path / "private", "--json")
    assert out.exit_code == 0, out.stderr
    key = out.json()["data"]
    assert stat.S_IMODE(os.stat(key["private_key"]).st_mode) == 0o600 and key["encrypted"]
    out = cli("keys", "trust", key["public_key"], "--name", "J. Martin", "--role", "biomedical engineer")
    assert out.exit_code == 0 and "trusted" in out.stdout, out.stderr
    meta = tmp_path / "meta.yaml"
    meta.write_text("category: PPE\nintended_use: Holds a visor.\nintended_users: [nurses]\nlicence: CC0-1.0\n"
                    "cleaning: Wipe with 70 % alcohol.\n"
                    "acceptance:\n  fit_test: Clips on\n  surface_tolerance_mm: 0.4\n  dimensions:\n"
                    "  - {name: width, nominal_mm: 30, tolerance_mm: 0.5}\n"
                    "sampling: {lot_size: 20, sample_size: 1, method: random draw}\n")
    return catalog, tmp_path / "private" / "qa-lead.key", write_box(tmp_path / "clip.stl"), meta


def test_catalog_commands_end_to_end(workspace, cli, tmp_path):
    catalog, key, stl, meta = workspace
    c = ("--catalog", catalog)
    out = cli(*c, "catalog", "new", "TEST-CLIP", "--title", "Test clip", "--model", stl, "--meta", meta, "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["data"]["status"] == "draft"

    out = cli(*c, "catalog", "build", "TEST-CLIP@1", "--printer", "prusa-mk4", "--material", "petg",
              "--process", "draft", "--copies", "2", "--json")
    assert out.exit_code == 0, out.stderr
    recipe = out.json()["data"]["recipe"]
    assert recipe["copies"] == 2 and recipe["estimates"]["print_time_s"] > 0

    out = cli(*c, "catalog", "validate", "TEST-CLIP@1", "--key", key, "--inspection", "dimensions within tolerance")
    assert out.exit_code == 0, out.stderr
    assert "validated by J. Martin (biomedical engineer)" in out.stdout

    out = cli(*c, "catalog", "list", "--json")
    parts = out.json()["data"]["parts"]
    assert [(p["ref"], p["title"], p["latest_validated"], p["printers"]) for p in parts] == [
        ("TEST-CLIP", "Test clip", 1, ["prusa-mk4"])]
    assert parts[0]["revisions"][0]["rev"] == 1 and parts[0]["revisions"][0]["status"] == "validated"

    out = cli(*c, "catalog", "show", "TEST-CLIP")
    assert out.exit_code == 0 and "preview: " in out.stdout and "Test clip" in out.stdout
    shown = cli(*c, "catalog", "show", "TEST-CLIP@1", "--json").json()["data"]
    assert shown["revision"]["preview"].endswith("preview.png")
    assert shown["revision"]["acceptance"]["fit_test"] == "Clips on"

    assert cli(*c, "catalog", "verify").exit_code == 0

    out = cli(*c, "catalog", "revise", "TEST-CLIP", "--changelog", "Re-slice after slicer update", "--json")
    assert out.exit_code == 0 and out.json()["data"]["rev"] == 2
    out = cli(*c, "catalog", "diff", "TEST-CLIP@1", "TEST-CLIP@2", "--json")
    assert out.json()["data"]["same_model"] is True

    out = cli(*c, "catalog", "build", "TEST-CLIP@1", "--printer", "prusa-mk4", "--material", "petg")
    assert out.exit_code == 4 and "immutable" in out.stderr

    gcode = catalog / "TEST-CLIP" / "rev-1" / "build" / "prusa-mk4_petg_draft.gcode"
    with gcode.open("a") as handle:
        handle.write("; one more line\n")
    out = cli(*c, "catalog", "verify", "--json")
    doc = out.json()
    assert out.exit_code == 4 and doc["exit_code"] == 4
    assert doc["errors"][0]["code"] == "integrity_failed"
    assert "prusa-mk4_petg_draft.gcode" in doc["errors"][0]["message"]
    out = cli(*c, "catalog", "verify")
    assert out.exit_code == 4 and "Error:" in out.stderr and "prusa-mk4_petg_draft.gcode" in out.stderr

    out = cli(*c, "catalog", "retire", "TEST-CLIP@1", "--reason", "tampered", "--key", key, "--json")
    assert out.json()["data"]["status"] == "retired"


def test_cli_refusals_are_one_line_errors(workspace, cli, tmp_path):
    catalog, key, stl, _meta = workspace
    c = ("--catalog", catalog)
    cli(*c, "catalog", "new", "TEST-CLIP", "--title", "Test clip", "--model", stl)
    out = cli(*c, "catalog", "validate", "TEST-CLIP@1", "--key", key)
    assert out.exit_code == 1 and "no recipe" in out.stderr
    out = cli(*c, "keys", "new", "stranger", "--dir", tmp_path / "other", "--no-passphrase")
    assert out.exit_code == 0
    cli(*c, "catalog", "build", "TEST-CLIP@1", "--printer", "prusa-mk4", "--material", "petg", "--process", "draft")
    out = cli(*c, "catalog", "validate", "TEST-CLIP@1", "--key", tmp_path / "other" / "stranger.key")
    assert out.exit_code == 4 and "not trusted" in out.stderr
    out = cli(*c, "keys", "new", "inside", "--dir", catalog / "keys")
    assert out.exit_code == 4 and "inside the catalog" in out.stderr
    (catalog / "TEST-CLIP" / "part.yaml").write_text("title: [oops\n")
    out = cli(*c, "catalog", "show", "TEST-CLIP")
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and "broken YAML" in out.stderr and "Traceback" not in out.stderr
    out = cli(*c, "catalog", "show", "NOPE")
    assert out.exit_code == 2 and "not found" in out.stderr
    assert cli(*c, "keys", "list", "--json").json()["data"]["keys"][0]["name"] == "J. Martin"
