"""`hospfab doctor`: each failure it reports, produced for real (no slicer on PATH, a key file others can read,
an unreachable printer, a damaged or unreadable catalog, a journal from a newer hospfab), and a clean
workstation (real slicer, real OctoPrint, seed catalog) that passes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed_catalog(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("doctor") / "catalog"
    shutil.copytree(REPO / "catalog", target)
    return target


def _results(out) -> dict[str, dict]:
    doc = out.json()
    return {r["key"]: r for r in doc["data"]["results"]}


def _fleet(home: Path, printers: list[dict]) -> Path:
    path = home / "fleet.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "printers": printers}))
    return path


def _printer(name: str, url: str, key_file: Path, **extra) -> dict:
    return {"name": name, "url": url, "api_key_file": str(key_file), "profile": "virtual-test",
            "material": "petg", "material_lot": "LOT-1", "site": "lab", "bed_clearing": "automatic", **extra}


def _key(home: Path, name: str, value: str, mode: int = 0o600) -> Path:
    path = home / f"{name}.key"
    path.write_text(value + "\n")
    path.chmod(mode)
    return path


def test_no_slicer_on_path(cli, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    out = cli("doctor", "--only", "slicer", "--json", env={"PATH": str(empty), "HOSPFAB_PRUSA_SLICER": ""})
    assert out.exit_code == 1
    result = _results(out)["slicer"]
    assert result["status"] == "fail" and "not found" in result["message"]
    assert "apt-get install prusa-slicer" in result["fix"]


def test_slicer_version_outside_the_supported_range(cli, tmp_path):
    old = tmp_path / "prusa-slicer"
    old.write_text("#!/bin/sh\necho 'PrusaSlicer-2.4.2+linux-x64 based on Slic3r'\n")
    old.chmod(0o755)
    out = cli("doctor", "--only", "slicer", "--json", env={"HOSPFAB_PRUSA_SLICER": str(old)})
    result = _results(out)["slicer"]
    assert out.exit_code == 1 and result["status"] == "fail"
    assert "2.4.2 is not supported" in result["message"]


@pytest.mark.slicer
def test_real_slicer_passes(cli):
    if shutil.which("prusa-slicer") is None:
        pytest.skip("prusa-slicer not installed")
    out = cli("doctor", "--only", "slicer", "--json")
    assert out.exit_code == 0, out.stdout
    assert _results(out)["slicer"]["message"].startswith("PrusaSlicer 2.")


def test_key_file_readable_by_others_and_unreachable_printer(cli, hospfab_home):
    from hospfab.octoprint.localserver import free_port

    loose = _key(hospfab_home, "loose", "0123456789ABCDEF", mode=0o644)
    tight = _key(hospfab_home, "tight", "0123456789ABCDEF")
    _fleet(hospfab_home, [_printer("loose-1", "http://127.0.0.1:9", loose),
                          _printer("gone-1", f"http://127.0.0.1:{free_port()}", tight)])
    out = cli("doctor", "--only", "fleet", "--timeout", "2", "--json")
    assert out.exit_code == 1
    results = _results(out)
    assert results["fleet"]["status"] == "ok"
    key = results["key:loose-1"]
    assert key["status"] == "fail" and "0644" in key["message"] and key["fix"] == f"chmod 600 {loose}"
    gone = results["printer:gone-1"]
    assert gone["status"] == "fail" and "gone-1" in gone["message"]
    assert "0123456789ABCDEF" not in out.stdout
    # the key file is the only thing wrong with loose-1: fixing it removes the finding
    loose.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert "key:loose-1" not in _results(cli("doctor", "--only", "fleet", "--timeout", "2", "--json"))


def test_unknown_profile_and_broken_fleet(cli, hospfab_home):
    key = _key(hospfab_home, "k", "abc")
    _fleet(hospfab_home, [_printer("odd-1", "http://127.0.0.1:9", key, profile="no-such-printer")])
    results = _results(cli("doctor", "--only", "fleet", "--timeout", "1", "--json"))
    assert results["profile:odd-1"]["status"] == "fail"
    assert "no-such-printer" in results["profile:odd-1"]["message"]
    (hospfab_home / "fleet.yaml").write_text("printers: [\n")
    out = cli("doctor", "--only", "fleet", "--json")
    assert out.exit_code == 1 and _results(out)["fleet"]["status"] == "fail"


def test_no_catalog_configured(cli, tmp_path):
    out = cli("--catalog", tmp_path / "nowhere", "doctor", "--only", "catalog", "--json")
    result = _results(out)["catalog"]
    assert out.exit_code == 1 and result["status"] == "fail" and "not found" in result["message"]
    assert "hospfab init" in result["fix"]


def test_damaged_and_unreadable_catalog(cli, seed_catalog, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(seed_catalog, damaged)
    _pin_demo_key(cli, damaged)
    build = damaged / "KNOB-D6-30" / "rev-1" / "build"
    victim = sorted(build.glob("*.gcode"))[0]
    victim.write_bytes(victim.read_bytes()[:-10])
    out = cli("--catalog", damaged, "doctor", "--only", "catalog", "--json")
    result = _results(out)["catalog"]
    assert out.exit_code == 1 and result["status"] == "fail" and victim.name in result["message"]
    # a part file that is not YAML at all
    (damaged / "EAR-SAVER" / "part.yaml").write_bytes(b"\xff\xfe not yaml: [")
    result = _results(cli("--catalog", damaged, "doctor", "--only", "catalog", "--json"))["catalog"]
    assert result["status"] == "fail" and "catalog verify" in result["fix"]


def test_catalog_without_trusted_keys(cli, seed_catalog, hospfab_home):
    # the catalog ships the demo public key, but nothing is trusted until the site pins it
    results = _results(cli("--catalog", seed_catalog, "doctor", "--only", "catalog", "--json"))
    assert results["trust"]["status"] == "fail" and "keys trust" in results["trust"]["fix"]
    _pin_demo_key(cli, seed_catalog)
    results = _results(cli("--catalog", seed_catalog, "doctor", "--only", "catalog", "--json"))
    assert results["trust"]["status"] == "ok", results["trust"]
    assert results["catalog"]["status"] == "ok", results["catalog"]


def _pin_demo_key(cli, catalog: Path) -> None:
    out = cli("keys", "trust", catalog / "keys" / "demo-validator.pub", "--name", "Demo Validator",
              "--role", "biomedical engineer")
    assert out.exit_code == 0, out.stderr


def test_journal_from_a_newer_hospfab(cli, hospfab_home):
    from hospfab.journal import Journal

    with Journal(hospfab_home / "journal.sqlite3"):
        pass
    assert _results(cli("doctor", "--only", "database", "--json"))["database"]["status"] == "ok"
    conn = sqlite3.connect(hospfab_home / "journal.sqlite3")
    conn.execute("UPDATE schema_migrations SET version = 99 WHERE component = 'journal'")
    conn.commit()
    conn.close()
    out = cli("doctor", "--only", "database", "--json")
    assert out.exit_code == 1 and "newer hospfab" in _results(out)["database"]["message"]


def test_unknown_check_is_a_usage_error(cli):
    out = cli("doctor", "--only", "nonsense")
    assert out.exit_code == 2 and "slicer" in out.stderr


@pytest.mark.slicer
@pytest.mark.octoprint
def test_a_ready_workstation_passes(cli, hospfab_home, seed_catalog, octoprint_server):
    if shutil.which("prusa-slicer") is None:
        pytest.skip("prusa-slicer not installed")
    key = _key(hospfab_home, "vt-0", octoprint_server.api_key)
    fleet = _fleet(hospfab_home, [_printer("vt-0", octoprint_server.url, key)])
    assert cli("init", "--catalog", seed_catalog, "--fleet", fleet, "--site", "lab").exit_code == 0
    _pin_demo_key(cli, seed_catalog)
    out = cli("doctor", "--json")
    results = _results(out)
    assert out.exit_code == 0, [r for r in results.values() if r["status"] == "fail"]
    assert results["printer:vt-0"]["status"] == "ok" and results["catalog"]["status"] == "ok"
    assert {"versions", "slicer", "config", "profiles", "catalog", "trust", "fleet", "database",
            "disk:journal", "disk:staging"} <= set(results)
    human = cli("doctor")
    assert human.exit_code == 0 and "ready" in human.stdout
    assert os.stat(hospfab_home / "config.yaml").st_mode & 0o077 == 0
