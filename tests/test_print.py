"""`hospfab print` against real OctoPrint servers (Virtual Printer): the cases of issue 5, item 7."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from octoprint_fixtures import wait_until
from test_print_support import print_catalog, print_env, write_fleet  # noqa: F401 - fixture

from hospfab.errors import ExitCode
from hospfab.octoprint.localserver import free_port

pytestmark = pytest.mark.octoprint


@pytest.fixture
def env(print_env):
    return print_env




def test_print_and_wait_to_done_then_history(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    out = cli("print", "TEST-BOX", "--wait", "--material-lot", "LOT-77", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["state"] == "done" and data["ref"] == "TEST-BOX" and data["revision"] == 1
    assert data["printer"] == "vt-0" and data["job_id"] in data["file"] and len(data["sha256"]) == 64
    with octoprint_server.client() as client:
        info = client.file_info(data["file"])
        assert info.prints_success == 1 and info.userdata["hospfab"]["job_id"] == data["job_id"]
    shown = cli("jobs", "show", data["job_id"], "--json").json()["data"]
    assert shown["outcome"] == "done" and shown["material_lot"] == "LOT-77" and shown["operator"] == "ana"
    assert shown["started_at"] and shown["ended_at"] and shown["printer_url"] == octoprint_server.url
    csv_text = cli("history", "--csv").stdout
    header, row = csv_text.strip().splitlines()
    assert header.startswith("id,ref,revision,sha256") and data["job_id"] in row and ",done," in row
    assert cli("history", "--ref", "OTHER", "--json").json()["data"]["jobs"] == []
    assert cli("history", "--since", "2999-01-01", "--json").json()["data"]["jobs"] == []


def test_outcome_reconciled_after_the_printing_process_exits(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    out = cli("print", "TEST-BOX", "--json")  # no --wait: the command returns while printing
    assert out.exit_code == 0
    job_id = out.json()["data"]["job_id"]
    assert out.json()["data"]["state"] == "printing"
    wait_until(lambda: cli("jobs", "list", "--json").json()["data"]["jobs"][0]["outcome"] == "done")


def test_busy_printer_is_passed_over_with_a_reason(cli, env, octoprint_server_factory, monkeypatch, gcode_file):
    busy, free = octoprint_server_factory(2)
    write_fleet(env, [busy, free], monkeypatch)
    with busy.client() as client:  # busy with a job hospfab did not send
        assert client.upload(gcode_file(dwell_s=30), "other.gcode", print_=True).effective_print
    out = cli("print", "TEST-SLOW", "--json")
    assert out.exit_code == 0 and out.json()["data"]["printer"] == "vt-1"
    reasons = {row["printer"]: row["reason"] for row in out.json()["data"]["printers"]}
    assert reasons["vt-0"].startswith("busy: Printing") and reasons["vt-1"] is None
    refused = cli("print", "TEST-BOX")
    assert refused.exit_code == ExitCode.PRINTER
    assert "busy: Printing" in refused.stdout and "journal" in refused.stdout  # the table, one reason each
    assert refused.stderr.startswith("Error: no printer can take TEST-BOX")


def test_bad_api_key_exit_3_and_key_never_shown(cli, env, octoprint_server, monkeypatch):
    bad = "WRONGKEY0123456789SECRET"
    write_fleet(env, [octoprint_server], monkeypatch, **{"vt-0": {"api_key": bad}})
    for args in (("print", "TEST-BOX"), ("print", "TEST-BOX", "--json")):
        out = cli(*args)
        assert out.exit_code == ExitCode.PRINTER
        assert "API key was refused" in out.stdout + out.stderr
        assert bad not in out.stdout + out.stderr and octoprint_server.api_key not in out.stdout + out.stderr


def test_unreachable_printer(cli, env, monkeypatch):
    write_fleet(env, [f"http://127.0.0.1:{free_port()}"], monkeypatch)
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.PRINTER
    row = out.json()["data"]["printers"][0]
    assert row["state"] == "unreachable" and "cannot reach" in row["reason"]
    assert cli("jobs", "list", "--json").json()["data"]["jobs"] == []


def test_firmware_error_mid_print_gives_failed_with_reason(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    job_id = cli("print", "TEST-SLOW", "--json").json()["data"]["job_id"]
    time.sleep(0.5)
    with octoprint_server.client() as client:
        client.send_commands(["!!DEBUG:trigger_fatal_error_marlin"])
    job = wait_until(lambda: (d := cli("jobs", "show", job_id, "--json").json()["data"])["outcome"] != "printing" and d)
    assert job["outcome"] == "failed" and "kill() called" in job["reason"] and job["ended_at"]
    out = cli("print", "TEST-BOX", "--json")  # the printer is offline after the error
    assert out.exit_code == ExitCode.PRINTER
    assert "not operational" in out.json()["data"]["printers"][0]["reason"]


def test_cancel(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    job_id = cli("print", "TEST-SLOW", "--json").json()["data"]["job_id"]
    out = cli("jobs", "cancel", job_id, "--operator", "bob", "--json")
    assert out.exit_code == 0, out.stdout
    assert out.json()["data"]["outcome"] == "cancelled" and out.json()["data"]["reason"] == "cancelled by bob"
    with octoprint_server.client() as client:
        assert client.printer_state().is_idle
    again = cli("jobs", "cancel", job_id)
    assert again.exit_code == ExitCode.FAILED and "already ended" in again.stderr
    assert cli("print", "TEST-BOX", "--wait", "--json").exit_code == 0  # the printer takes the next job


def test_tampered_build_file_refused_exit_4(cli, env, print_catalog, octoprint_server, monkeypatch, tmp_path):  # noqa: F811
    tampered = tmp_path / "catalog"
    shutil.copytree(print_catalog, tampered)
    build = next((tampered / "TEST-BOX" / "rev-1" / "build").glob("*.gcode"))
    build.write_text(build.read_text() + "G1 Z150 F6000\n")
    monkeypatch.setenv("HOSPFAB_CATALOG", str(tampered))
    write_fleet(env, [octoprint_server], monkeypatch)
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.SAFETY
    assert build.name in out.json()["errors"][0]["message"]
    assert cli("jobs", "list", "--json").json()["data"]["jobs"] == []
    with octoprint_server.client() as client:
        assert client.list_files() == []
    draft = next((tampered / "TEST-DRAFT" / "rev-1" / "build").glob("*.gcode"))  # no manifest: recipe sha256
    draft.write_text(draft.read_text().replace("G28", "G28 X"))
    out = cli("print", "TEST-DRAFT", "--allow-draft", "--json")
    assert out.exit_code == ExitCode.SAFETY and "sha256 differs" in out.json()["errors"][0]["message"]
    assert cli("jobs", "list", "--json").json()["data"]["jobs"] == []


def test_draft_refused_unless_allowed_and_override_recorded(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    out = cli("print", "TEST-DRAFT@1")
    assert out.exit_code == ExitCode.SAFETY and "draft" in out.stderr and "--allow-draft" in out.stderr
    assert cli("print", "TEST-DRAFT", "--json").exit_code == ExitCode.SAFETY
    out = cli("print", "TEST-DRAFT", "--allow-draft", "--wait", "--json")
    assert out.exit_code == 0, out.stdout
    job = cli("jobs", "show", out.json()["data"]["job_id"], "--json").json()["data"]
    assert job["overrides"] == {"allow_draft": True, "status": "draft"}


def test_material_and_recipe_reasons_and_dry_run(cli, env, octoprint_server_factory, monkeypatch):
    servers = octoprint_server_factory(2)
    write_fleet(env, servers, monkeypatch, **{"vt-0": {"material": "petg"}, "vt-1": {"profile": "prusa-mk4"}})
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.PRINTER
    reasons = {r["printer"]: r["reason"] for r in out.json()["data"]["printers"]}
    assert reasons["vt-0"] == "material petg loaded, the recipe needs pla"
    assert reasons["vt-1"].startswith("no recipe for profile prusa-mk4")
    dry = cli("print", "TEST-PETG", "--dry-run", "--json")
    assert dry.exit_code == 0 and dry.json()["data"]["printer"] == "vt-0" and dry.json()["data"]["job_id"] is None
    with servers[0].client() as client:
        assert client.list_files() == []


def test_manual_bed_clearing(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch, bed_clearing="manual")
    assert cli("print", "TEST-BOX", "--wait", "--json").exit_code == 0
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.PRINTER
    assert "bed not confirmed clear" in out.json()["data"]["printers"][0]["reason"]
    cleared = cli("printers", "cleared", "vt-0", "--operator", "bob", "--json")
    assert cleared.exit_code == 0 and cleared.json()["data"]["operator"] == "bob"
    job_id = cli("print", "TEST-SLOW", "--json").json()["data"]["job_id"]  # a ~40 s job: surely still on it
    busy = cli("printers", "cleared", "vt-0")
    assert busy.exit_code == ExitCode.PRINTER and f"job {job_id} is still printing" in busy.stderr
    assert cli("jobs", "cancel", job_id, "--operator", "bob").exit_code == 0
    assert cli("printers", "cleared", "vt-0", "--operator", "bob").exit_code == 0  # ended: now it may be cleared
    assert cli("printers", "cleared", "nope").exit_code == ExitCode.USAGE


def _spawn(*args, env):
    return subprocess.Popen([sys.executable, "-m", "hospfab", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_concurrent_prints_never_share_a_printer(env, octoprint_server_factory, monkeypatch):
    servers = octoprint_server_factory(2)
    write_fleet(env, servers, monkeypatch)
    child_env = dict(os.environ)
    procs = [_spawn("print", "TEST-SLOW", "--json", env=child_env) for _ in range(3)]
    codes = sorted(p.wait(120) for p in procs)
    outputs = [p.communicate()[0] for p in procs]
    assert codes == [0, 0, ExitCode.PRINTER], outputs
    for server in servers:
        with server.client() as client:
            assert len(client.list_files()) == 1


def test_ctrl_c_stops_waiting_and_leaves_the_print_running(env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    proc = _spawn("print", "TEST-SLOW", "--wait", env=dict(os.environ, COLUMNS="200"))
    with octoprint_server.client() as client:
        wait_until(lambda: client.printer_state().is_busy, timeout_s=60)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stdout + stderr
        assert "Stopped waiting" in stdout and "still printing" in stdout and "Traceback" not in stderr
        assert client.printer_state().is_busy


def test_jobs_watch_follows_a_job_started_by_an_earlier_command(cli, env, octoprint_server, monkeypatch):
    write_fleet(env, [octoprint_server], monkeypatch)
    job_id = cli("print", "TEST-BOX", "--json").json()["data"]["job_id"]
    out = cli("jobs", "watch", job_id, "--json")
    assert out.exit_code == 0 and out.json()["data"]["jobs"][0]["outcome"] == "done"
    human = cli("jobs", "watch")  # nothing active any more
    assert human.exit_code == 0 and "0 job(s)" in human.stdout
