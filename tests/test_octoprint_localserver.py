"""The local real-OctoPrint launcher: headless config, known API key, loopback only, clean stop."""

from __future__ import annotations

import httpx
import pytest
import yaml

from hospfab.errors import PrinterError
from hospfab.octoprint.localserver import find_octoprint, launch


@pytest.mark.octoprint
def test_local_server_is_headless_on_loopback_with_a_known_key(octoprint_server):
    config = yaml.safe_load((octoprint_server.basedir / "config.yaml").read_text())
    assert config["server"]["host"] == "127.0.0.1" and config["server"]["firstRun"] is False
    assert config["plugins"]["virtual_printer"]["simulated_errors"] == []
    assert "discovery" in config["plugins"]["_disabled"]
    before = (octoprint_server.basedir / "scripts" / "gcode" / "beforePrintStarted").read_text()
    assert before.strip() == "M220 S10000"
    with httpx.Client(base_url=octoprint_server.url, trust_env=False) as http:
        assert http.get("/api/version", headers={"X-Api-Key": octoprint_server.api_key}).status_code == 200
        assert http.get("/api/version", headers={"X-Api-Key": "nope"}).status_code == 403
        # the admin password written without OctoPrint's CLI is a valid hash: the web login accepts it
        http.get("/")  # sets the CSRF cookie that the login form must echo
        csrf = {"X-CSRF-Token": next(v for k, v in http.cookies.items() if k.startswith("csrf_token"))}
        login = http.post("/api/login", json={"user": "admin", "pass": octoprint_server.password}, headers=csrf)
        assert login.status_code == 200 and login.json()["name"] == "admin"
        wrong = http.post("/api/login", json={"user": "admin", "pass": "not-the-password"}, headers=csrf)
        assert wrong.status_code == 403
    assert octoprint_server.api_key not in repr(octoprint_server)


def test_missing_octoprint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPFAB_OCTOPRINT", str(tmp_path / "no-such-octoprint"))
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_octoprint()
    if found is not None:  # this checkout has its own .octoprint-venv
        assert found.name == "octoprint"
        return
    with pytest.raises(PrinterError, match="OctoPrint is not installed: run `make octoprint`"):
        launch(tmp_path / "base")
