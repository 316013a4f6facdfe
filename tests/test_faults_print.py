"""`hospfab print` under faults injected between hospfab and a REAL OctoPrint (tests/fault_proxy.py).

Each test asserts what the printer itself counted (OctoPrint's per-file print statistics: no part made twice),
what the journal recorded, and what the operator was told.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from octoprint_fixtures import wait_until
from fault_proxy import FaultProxy, SilentServer
from test_print_support import print_catalog, print_env, write_fleet  # noqa: F401 - fixture

from hospfab.errors import ExitCode

pytestmark = pytest.mark.octoprint

UPLOAD = "/api/files/local"


@pytest.fixture
def env(print_env):
    return print_env


@pytest.fixture
def proxied(octoprint_server, env, monkeypatch):
    """One real OctoPrint behind a fault proxy, in the fleet as vt-0 (answer timeout 1 s)."""
    proxy = FaultProxy(octoprint_server.url)
    write_fleet(env, [proxy.url], monkeypatch, **{"vt-0": {"api_key": octoprint_server.api_key, "timeout_s": 1}})
    try:
        yield proxy, octoprint_server
    finally:
        proxy.close()




def printed(server) -> dict[str, int]:
    """Successful + failed prints per file, as the printer counts them."""
    with server.client() as client:
        out = {}
        for name in client.list_files():
            info = client.file_info(name)
            out[name] = info.prints_success + info.prints_failure
        return out


def job_of(cli, job_id):
    return cli("jobs", "show", job_id, "--json").json()["data"]


@pytest.mark.parametrize(
    "fault, kwargs",
    [
        ("error_after", {"status": 500}),
        ("error_after", {"status": 409}),
        ("truncate", {}),
        ("drop", {}),
        ("slow", {"delay_s": 4.0}),  # answer after the 3 s upload timeout (3 x timeout_s)
    ],
)
def test_lost_answer_after_the_printer_started_is_printing_not_failed(cli, proxied, fault, kwargs):
    proxy, server = proxied
    proxy.add("POST", UPLOAD, fault, **kwargs)
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["state"] == "printing" and "answer to the upload lost" in data["note"]
    assert "the printer shows" in data["note"] or "recorded a print" in data["note"]
    final = wait_until(lambda: (j := job_of(cli, data["job_id"]))["outcome"] == "done" and j)
    assert final["outcome"] == "done" and "answer to the upload lost" in final["reason"]
    assert printed(server) == {data["file"]: 1}  # made once, recorded once
    human = cli("print", "TEST-BOX", "--dry-run")  # the printer is free again: nothing dangling
    assert human.exit_code == 0


def test_error_before_the_printer_saw_it_is_not_sent_and_a_retry_prints_once(cli, proxied):
    proxy, server = proxied
    proxy.add("POST", UPLOAD, "error_before", status=500)
    out = cli("print", "TEST-BOX")
    assert out.exit_code == ExitCode.PRINTER
    assert "not sent" in out.stderr and "nothing was started" in out.stderr and len(out.stderr.splitlines()) == 1
    jobs = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert [j["outcome"] for j in jobs] == ["failed"] and jobs[0]["reason"].startswith("not sent")
    assert printed(server) == {}
    again = cli("print", "TEST-BOX", "--wait", "--json")
    assert again.exit_code == 0 and again.json()["data"]["state"] == "done"
    assert list(printed(server).values()) == [1]


def test_printer_that_cannot_be_asked_gives_unknown_keeps_it_claimed_then_reconciles(cli, proxied):
    proxy, server = proxied
    proxy.add("POST", UPLOAD, "error_after", status=500)
    job_rule = proxy.add("GET", "/api/job", "error_before", status=500, times=None)
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.PRINTER
    error = out.json()["errors"][0]
    assert error["code"] == "print_outcome_unknown" and "may be printing" in error["message"]
    job_id = error["details"]["job_id"]
    assert job_id in error["message"] and "before any retry" in error["message"]
    with_jobs = cli("jobs", "list", "--json").json()["data"]
    assert [j["outcome"] for j in with_jobs["jobs"]] == ["unknown"]
    assert "vt-0" in with_jobs["not_reconciled"]  # named: it could not be asked
    second = cli("print", "TEST-BOX", "--json")  # the printer stays reserved: no second copy
    assert second.exit_code == ExitCode.PRINTER
    assert f"job {job_id} is unknown" in second.json()["data"]["printers"][0]["reason"]
    job_rule.times = 0  # the printer answers again
    final = wait_until(lambda: (j := job_of(cli, job_id))["outcome"] == "done" and j)
    assert final["outcome"] == "done"
    assert list(printed(server).values()) == [1]


def test_effective_print_false_is_not_sent_and_the_file_removed(cli, proxied, gcode_file):
    """The printer becomes busy between the choice and the upload: OctoPrint answers 201 with
    effectivePrint false. Fails if the effectivePrint check is removed."""
    proxy, server = proxied

    def foreign_job():
        with server.client() as client:
            assert client.upload(gcode_file(dwell_s=5), "foreign.gcode", print_=True).effective_print

    proxy.add("POST", UPLOAD, "before", action=foreign_job)
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == ExitCode.PRINTER
    assert "did not start" in out.json()["errors"][0]["message"]
    jobs = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert jobs[0]["outcome"] == "failed" and jobs[0]["reason"].startswith("not sent")
    with server.client() as client:
        assert client.list_files() == ["foreign.gcode"]  # ours removed, the foreign job untouched
        assert client.job().file_name == "foreign.gcode"


@pytest.mark.parametrize("path, fault", [("/api/job", "hang"), ("/api/files/", "error_before")])
def test_print_wait_shows_a_silent_printer_and_gives_up_with_exit_3(cli, proxied, path, fault):
    proxy, server = proxied
    rule = proxy.add("GET", path, fault, times=None)
    out = cli("print", "TEST-BOX", "--wait", "--give-up", "2", "--json")
    assert out.exit_code == ExitCode.PRINTER, out.stdout
    error = out.json()["errors"][0]
    assert error["code"] == "wait_abandoned" and "has not answered for 2 s" in error["message"]
    job_id = out.json()["errors"][0]["details"]["job_id"]
    listed = cli("jobs", "list", "--json").json()["data"]
    assert listed["jobs"][0]["outcome"] == "printing" and "vt-0" in listed["not_reconciled"]
    rule.times = 0
    proxy.clear()
    final = wait_until(lambda: (j := job_of(cli, job_id))["outcome"] == "done" and j)
    assert final["outcome"] == "done" and list(printed(server).values()) == [1]


def test_print_wait_bar_says_the_printer_is_not_answering(cli, proxied):
    proxy, _server = proxied
    proxy.add("GET", "/api/job", "error_before", status=500, times=None)
    out = cli("print", "TEST-BOX", "--wait", "--give-up", "2", env={"COLUMNS": "200"})
    assert out.exit_code == ExitCode.PRINTER
    assert "printer not answering for" in out.stdout
    assert out.stderr.startswith("Error: job ") and len(out.stderr.strip().splitlines()) == 1


def test_a_printer_that_never_answers_costs_one_short_timeout(cli, env, octoprint_server, monkeypatch):
    silent = SilentServer()
    try:
        write_fleet(env, [silent.url, octoprint_server], monkeypatch)
        out = cli("print", "TEST-BOX", "--json")
        assert out.exit_code == 0, out.stdout
        data = out.json()["data"]
        assert data["printer"] == "vt-1"
        reasons = {r["printer"]: r["reason"] for r in data["printers"]}
        assert "no answer" in reasons["vt-0"]
        assert len(silent.accepted) == 1  # one request, no retry: not 3 x 10 s
        status = cli("printers", "status", "--timeout", "1", "--json")
        assert status.exit_code == ExitCode.PRINTER
        rows = {p["name"]: p for p in status.json()["data"]["printers"]}
        assert rows["vt-0"]["state"] == "unreachable" and rows["vt-1"]["reachable"]
    finally:
        silent.close()


def test_ctrl_c_during_the_upload_asks_the_printer_and_says_it_is_printing(env, octoprint_server, monkeypatch):
    proxy = FaultProxy(octoprint_server.url)
    try:
        write_fleet(env, [proxy.url], monkeypatch, **{"vt-0": {"api_key": octoprint_server.api_key, "timeout_s": 5}})
        proxy.add("POST", UPLOAD, "slow", delay_s=10.0)
        proc = subprocess.Popen([sys.executable, "-m", "hospfab", "print", "TEST-BOX"], env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_until(lambda: proxy.hits("POST", UPLOAD) and proxy.hits("POST", UPLOAD)[0].status, timeout_s=60)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stdout + stderr
        assert "IS PRINTING" in stderr and "Traceback" not in stderr
        with octoprint_server.client() as client:
            names = client.list_files()
        assert len(names) == 1
    finally:
        proxy.close()
