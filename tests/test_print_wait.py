"""`hospfab print --wait-for-printer` against real OctoPrint servers (Virtual Printer): it waits for a compatible
printer that is busy, prints on it once free through the usual path, gives up after --timeout with the
reasons, never waits on a printer that can never take the job, and Ctrl-C stops waiting with nothing sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from octoprint_fixtures import wait_until
from test_print_support import print_catalog, print_env, write_fleet  # noqa: F401 - fixture

from hospfab.errors import ExitCode

pytestmark = pytest.mark.octoprint


@pytest.fixture
def env(print_env):
    return print_env




def start_other_job(server, gcode_file, dwell_s: int) -> None:
    """Make the printer busy with a job hospfab did not send."""
    with server.client() as client:
        assert client.upload(gcode_file(dwell_s=dwell_s), "other.gcode", print_=True).effective_print


def test_waits_for_the_busy_printer_then_prints_on_it(cli, env, octoprint_server, monkeypatch, gcode_file):
    write_fleet(env, [octoprint_server], monkeypatch)
    start_other_job(octoprint_server, gcode_file, dwell_s=8)
    assert cli("print", "TEST-BOX").exit_code == ExitCode.PRINTER  # without the option: busy, exit 3
    out = cli("print", "TEST-BOX", "--wait-for-printer", "--poll", "1", "--timeout", "10", env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.stdout + out.stderr
    waited = [line for line in out.stdout.splitlines() if line.startswith("Waiting for a printer")]
    assert waited and "TEST-BOX@1: vt-0 busy: Printing" in waited[0] and "giving up in" in waited[0], out.stdout
    assert ("left)" in waited[0] and "first free in ~" in waited[0]) or "no estimate yet" in waited[0]
    assert "sent to vt-0" in out.stdout
    with octoprint_server.client() as client:
        other = client.file_info("other.gcode")
        assert other.prints_success == 1  # the other job ran to its end: it was never disturbed
    jobs = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert len(jobs) == 1 and jobs[0]["printer"] == "vt-0" and jobs[0]["ref"] == "TEST-BOX"
    wait_until(lambda: cli("jobs", "list", "--json").json()["data"]["jobs"][0]["outcome"] == "done")


def test_waits_on_the_compatible_printer_only_and_json_prints_one_envelope(
        cli, env, octoprint_server_factory, monkeypatch, gcode_file):
    busy, petg = octoprint_server_factory(2)
    write_fleet(env, [busy, petg], monkeypatch, **{"vt-1": {"material": "petg"}})  # free, but never compatible
    start_other_job(busy, gcode_file, dwell_s=6)
    out = cli("print", "TEST-BOX", "--wait-for-printer", "--poll", "1", "--timeout", "10", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = json.loads(out.stdout)["data"]  # the whole stdout is the one final envelope
    assert data["printer"] == "vt-0" and data["state"] in ("printing", "done")
    with petg.client() as client:
        assert client.list_files() == []  # the incompatible printer was never sent anything


def test_timeout_gives_exit_3_with_the_reason(cli, env, octoprint_server, monkeypatch, gcode_file):
    write_fleet(env, [octoprint_server], monkeypatch)
    start_other_job(octoprint_server, gcode_file, dwell_s=60)
    out = cli("print", "TEST-BOX", "--wait-for-printer", "--poll", "1", "--timeout", "0.05", "--json")
    assert out.exit_code == ExitCode.PRINTER, out.stdout
    error = out.json()["errors"][0]
    assert error["code"] == "wait_timed_out"
    assert "no compatible printer became free for TEST-BOX@1 in 0.05 min" in error["message"]
    assert "vt-0: busy: Printing" in error["message"]
    human = cli("print", "TEST-BOX", "--wait-for-printer", "--poll", "1", "--timeout", "0.05")
    assert human.exit_code == ExitCode.PRINTER
    assert human.stderr.count("\n") == 1 and "busy: Printing" in human.stderr
    assert cli("jobs", "list", "--json").json()["data"]["jobs"] == []  # nothing was sent


def test_no_compatible_printer_at_all_exits_3_at_once(cli, env, octoprint_server_factory, monkeypatch):
    petg, refused = octoprint_server_factory(2)
    write_fleet(env, [petg, refused], monkeypatch, **{"vt-0": {"material": "petg"}, "vt-1": {"api_key": "wrong"}})
    # the default timeout is an hour: the command returns because neither printer is worth waiting for
    out = cli("print", "TEST-BOX", "--wait-for-printer", "--json")
    assert out.exit_code == ExitCode.PRINTER
    error = out.json()["errors"][0]
    assert error["code"] == "no_printer_available", error
    reasons = {row["printer"]: row["reason"] for row in out.json()["data"]["printers"]}
    assert reasons["vt-0"].startswith("material petg loaded") and reasons["vt-1"]
    assert [row["state"] for row in out.json()["data"]["printers"]] == [None, "key refused"]  # fleet order
    write_fleet(env, [petg], monkeypatch, **{"vt-0": {"material": "petg"}})  # static reasons alone
    alone = cli("print", "TEST-BOX", "--wait-for-printer")
    assert alone.exit_code == ExitCode.PRINTER and "material petg loaded" in alone.stderr


def test_waiting_library_calls_back_with_eta_and_is_bounded(env, octoprint_server, monkeypatch, gcode_file):
    from hospfab.catalog import Catalog
    from hospfab.fleet.loading import load_printers
    from hospfab.journal import Journal
    from hospfab.printing.wait import WaitInterrupted, WaitTimedOut, print_when_free
    from hospfab.settings import Settings

    write_fleet(env, [octoprint_server], monkeypatch)
    start_other_job(octoprint_server, gcode_file, dwell_s=60)
    config = Settings.resolve()
    printers = load_printers(config)
    seen, now = [], [0.0]

    def fake_sleep(seconds):  # a scheduler's clock: no real time passes between looks
        now[0] += seconds

    with Journal(config.journal_path) as journal:
        with pytest.raises(WaitTimedOut):
            print_when_free(Catalog(config.catalog_dir), printers, journal, "TEST-BOX", timeout_s=30, poll_s=10,
                            on_wait=seen.append, clock=lambda: now[0], sleep=fake_sleep)
        assert [round(w.elapsed_s) for w in seen] == [0, 10, 20] and seen[0].printers[0]["printer"] == "vt-0"
        assert seen[0].remaining_s == 30 and seen[0].as_dict()["printers"][0]["reason"].startswith("busy")

        def interrupt(_seconds):
            raise KeyboardInterrupt

        with pytest.raises(WaitInterrupted, match="nothing was sent"):
            print_when_free(Catalog(config.catalog_dir), printers, journal, "TEST-BOX", sleep=interrupt)
        assert journal.jobs() == []  # nothing was claimed, let alone sent


def test_ctrl_c_stops_waiting_with_nothing_sent(env, octoprint_server, monkeypatch, gcode_file):
    write_fleet(env, [octoprint_server], monkeypatch)
    start_other_job(octoprint_server, gcode_file, dwell_s=60)
    proc = subprocess.Popen([sys.executable, "-m", "hospfab", "print", "TEST-BOX", "--wait-for-printer", "--poll",
                             "1"], env=dict(os.environ, COLUMNS="300"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    first = proc.stdout.readline()  # the progress line: it is waiting
    assert first.startswith("Waiting for a printer for TEST-BOX@1"), first
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert stderr.strip().splitlines() == ["Error: stopped waiting for a printer for TEST-BOX@1; nothing was sent"]
    with octoprint_server.client() as client:
        assert client.list_files() == ["other.gcode"]
