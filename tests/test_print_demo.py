"""`hospfab demo`: a real local OctoPrint, a demo fleet and trust store in a fresh home, a REAL validated recipe
of the seed catalog printed to done on the Virtual Printer (declared as a test printer), server stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml
from octoprint_fixtures import octoprint_executable, skip_or_fail

from hospfab.catalog.signing import generate_key_pair

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.octoprint
def test_demo_prints_a_real_seed_recipe_to_done_and_stops_the_server(cli, monkeypatch):
    executable = octoprint_executable()
    if executable is None:
        skip_or_fail("OctoPrint not installed: run `make octoprint`")
    out = cli("--catalog", REPO / "catalog", "demo", "--octoprint", str(executable), "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    job = data["job"]
    assert job["outcome"] == "done" and job["printer"] == "virtual-1" and job["ref"] == "EAR-SAVER"
    assert job["printer_profile"] in ("prusa-mk4", "prusa-mini"), "a real printer profile, not virtual-test"
    assert [j["id"] for j in data["journal"]] == [job["id"]]
    home = Path(data["home"])
    printer = yaml.safe_load((home / "fleet.yaml").read_text())["printers"][0]
    assert printer["api_key_file"] == "virtual-1.key" and printer["test_printer"] is True
    trust = yaml.safe_load((home / "trust" / "trust.yaml").read_text())
    assert [k["name"] for k in trust["keys"]] == ["Demo Validator"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(data["server_url"] + "/api/version", timeout=2)
    monkeypatch.setenv("HOSPFAB_HOME", data["home"])
    assert cli("history", "--json").json()["data"]["jobs"][0]["outcome"] == "done"


def test_demo_never_pins_a_replaced_demo_key(cli, tmp_path):
    """A catalog whose keys/demo-validator.pub was swapped for another key is refused before any server
    starts: the demo pins only the known demo fingerprint."""
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", catalog)
    _private, public, _ = generate_key_pair("demo-validator", tmp_path / "rogue")
    shutil.copy(public, catalog / "keys" / "demo-validator.pub")
    out = cli("--catalog", catalog, "demo", "--octoprint", "/nonexistent/octoprint")
    assert out.exit_code == 4 and "not trusted" in out.stderr and "Traceback" not in out.stderr


def test_demo_without_a_printable_reference(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    out = cli("--catalog", tmp_path / "empty", "demo")
    assert out.exit_code == 2 and "no validated reference" in out.stderr and "Traceback" not in out.stderr
