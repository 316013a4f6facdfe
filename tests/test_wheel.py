"""The wheel, installed at a hospital: built from this checkout, installed with its dependencies into a fresh
venv in a temporary folder, and run from another folder (no access to the checkout's profiles/ or catalog/)
against a copy of the seed catalog, the real prusa-slicer and a real local OctoPrint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``<venv>/bin/hospfab`` of a fresh venv holding the wheel built from this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = sorted(dist.glob("hospfab-*.whl"))
    assert len(wheels) == 1
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])],
                             capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stdout + install.stderr
    return venv / "bin" / "hospfab"


@pytest.fixture
def run(installed, tmp_path):
    """Run the installed hospfab from an empty working folder with an empty home."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOSPFAB_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOSPFAB_HOME"] = str(home)

    def call(*args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(installed), *map(str, args)], cwd=work, capture_output=True, text=True,
                              env={**env, **(extra_env or {})}, timeout=600)

    call.work, call.home = work, home  # type: ignore[attr-defined]
    return call


def _json(out: subprocess.CompletedProcess) -> dict:
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def test_wheel_ships_the_profiles_and_runs_outside_the_checkout(run, installed):
    doc = _json(run("profiles", "list", "--json"))
    assert doc["exit_code"] == 0
    profiles_dir = Path(doc["data"]["profiles_dir"])
    assert "_shipped" in profiles_dir.parts and REPO not in profiles_dir.parents
    refs = {p["ref"] for p in doc["data"]["profiles"]}
    assert {"printer/prusa-mk4", "material/petg", "process/standard", "printer/virtual-test"} <= refs
    assert _json(run("profiles", "check", "--json"))["data"]["invalid"] == 0
    # the installed package is the one running, not this checkout's source
    where = subprocess.run([str(installed.parent / "python"), "-c", "import hospfab; print(hospfab.__file__)"],
                           capture_output=True, text=True, cwd=run.work, check=True).stdout
    assert str(REPO) not in where


def test_missing_profiles_folder_is_an_error_not_an_empty_list(run, tmp_path):
    out = run("--profiles", tmp_path / "nowhere", "profiles", "list")
    assert out.returncode == 2, out.stdout
    assert "profiles folder not found" in out.stderr and "Traceback" not in out.stderr


def test_no_catalog_configured_says_what_to_do(run):
    out = run("catalog", "list")
    assert out.returncode == 2
    assert "hospfab init --catalog" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slicer
@pytest.mark.octoprint
def test_check_slice_gcode_verify_and_print_from_an_installed_wheel(run, tmp_path, octoprint_server):
    if shutil.which("prusa-slicer") is None:
        pytest.skip("prusa-slicer not installed (scripts/install-system-deps)")
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", catalog)
    stl = catalog / "EAR-SAVER" / "rev-1" / "model.stl"

    out = run("check", stl, "--printer", "prusa-mk4", "--json")
    assert _json(out)["exit_code"] == 0, out.stderr

    shutil.copy(stl, run.work / "ear.stl")  # relative paths, as people type them
    out = run("slice", "ear.stl", "--printer", "prusa-mk4", "--material", "petg", "-o", "ear.gcode", "--json")
    assert _json(out)["exit_code"] == 0, out.stderr
    assert (run.work / "ear.gcode").stat().st_size > 10_000

    out = run("gcode", "check", "ear.gcode", "--printer", "prusa-mk4", "--material", "petg", "--json")
    assert _json(out)["data"]["ok"] is True

    # nothing is trusted until the site pins the validator's key (never from the catalog folder)
    assert run("catalog", "verify", "--catalog", catalog).returncode == 4
    out = run("keys", "trust", catalog / "keys" / "demo-validator.pub", "--name", "Demo Validator",
              "--role", "biomedical engineer")
    assert out.returncode == 0, out.stderr
    out = run("catalog", "verify", "--catalog", catalog, "--json")
    doc = _json(out)
    assert doc["exit_code"] == 0 and doc["data"], out.stderr
    # a changed build file is caught by the installed tool too
    damaged = tmp_path / "damaged"
    shutil.copytree(catalog, damaged)
    target = sorted((damaged / "EAR-SAVER" / "rev-1" / "build").glob("*.gcode"))[0]
    target.write_bytes(target.read_bytes() + b"; extra\n")
    assert run("catalog", "verify", "--catalog", damaged).returncode == 4

    # site set-up with `hospfab init`, then print to a real OctoPrint through the configured catalog and fleet
    key_file = run.home / "vt-0.key"
    run.home.mkdir(exist_ok=True)
    key_file.write_text(octoprint_server.api_key + "\n")
    key_file.chmod(0o600)
    fleet = run.home / "fleet.yaml"
    fleet.write_text(yaml.safe_dump({"printers": [{
        "name": "vt-0", "url": octoprint_server.url, "api_key_file": str(key_file), "profile": "prusa-mini",
        "material": "petg", "material_lot": "LOT-1", "site": "lab", "bed_clearing": "automatic",
        "test_printer": True}]}))  # OctoPrint's Virtual Printer standing in for a real MINI
    out = run("init", "--catalog", catalog, "--fleet", fleet, "--site", "lab", "--json")
    assert _json(out)["exit_code"] == 0, out.stderr
    out = run("print", "EAR-SAVER", "--printer", "vt-0", "--operator", "wheel-test", "--json")
    doc = _json(out)
    assert doc["exit_code"] == 0, out.stderr
    assert doc["data"]["printer"] == "vt-0" and doc["data"]["job_id"]
    with octoprint_server.client() as client:
        assert doc["data"]["file"] in client.list_files()


def test_site_profiles_extend_and_override_the_shipped_ones(run, tmp_path):
    site = tmp_path / "site-profiles"
    (site / "printers").mkdir(parents=True)
    (site / "printers" / "prusa-mk4.yaml").write_text(
        "inherits: prusa-mk4\ndescription: Our MK4s, enclosure limits the bed temperature\nmax_bed_temp_c: 90\n")
    (site / "materials").mkdir()
    (site / "materials" / "petg-blue.yaml").write_text("inherits: petg\ndescription: Hospital blue PETG\n")
    assert _json(run("init", "--site-profiles", site, "--json"))["exit_code"] == 0
    shown = _json(run("profiles", "show", "printer/prusa-mk4", "--json"))["data"]
    assert shown["max_bed_temp_c"] == 90 and shown["build_volume_mm"] == [250.0, 210.0, 220.0]
    refs = {p["ref"] for p in _json(run("profiles", "list", "--json"))["data"]["profiles"]}
    assert "material/petg-blue" in refs and "material/petg" in refs
    assert _json(run("profiles", "check", "--json"))["exit_code"] == 0
