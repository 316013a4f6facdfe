"""`hospfab demo`: a real local OctoPrint, a demo fleet in a fresh home, one print to done, server stopped."""

from __future__ import annotations

import httpx
import pytest
import yaml
from octoprint_fixtures import octoprint_executable, skip_or_fail
from test_print_support import print_catalog  # noqa: F401 - fixture

pytestmark = pytest.mark.octoprint


def test_demo_prints_to_done_and_stops_the_server(cli, print_catalog, monkeypatch):  # noqa: F811
    executable = octoprint_executable()
    if executable is None:
        skip_or_fail("OctoPrint not installed: run `make octoprint`")
    monkeypatch.setenv("HOSPFAB_CATALOG", str(print_catalog))
    out = cli("demo", "--ref", "TEST-BOX", "--octoprint", str(executable), "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["job"]["outcome"] == "done" and data["job"]["printer"] == "virtual-1"
    assert [j["id"] for j in data["journal"]] == [data["job"]["id"]]
    fleet_text = (__import__("pathlib").Path(data["home"]) / "fleet.yaml").read_text()
    assert yaml.safe_load(fleet_text)["printers"][0]["api_key_file"] == "virtual-1.key"
    with pytest.raises(httpx.HTTPError):
        httpx.get(data["server_url"] + "/api/version", timeout=2)
    monkeypatch.setenv("HOSPFAB_HOME", data["home"])
    assert cli("history", "--json").json()["data"]["jobs"][0]["outcome"] == "done"


def test_demo_without_a_printable_reference(cli, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("HOSPFAB_CATALOG", str(tmp_path / "empty"))
    out = cli("demo")
    assert out.exit_code == 2 and "virtual-test" in out.stderr and "Traceback" not in out.stderr
