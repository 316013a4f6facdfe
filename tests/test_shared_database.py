"""Several workstations, one database: `hospfab print` on both backends, and two workstations (separate
HOSPFAB_HOME, one PostgreSQL) printing to one idle printer at the same instant, against real OctoPrint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_print_support import API_KEY_ENV, print_catalog, write_fleet  # noqa: F401 - fixture

from hospfab.errors import ExitCode
from hospfab.journal import Journal

pytestmark = pytest.mark.octoprint


def test_print_records_the_job_in_the_configured_backend(cli, database, print_catalog, octoprint_server,  # noqa: F811
                                                         tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPFAB_CATALOG", str(print_catalog))
    fleet = write_fleet(tmp_path / "fleet.yaml", [octoprint_server], monkeypatch)
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    with Journal(database) as other_workstation:  # a spool change recorded elsewhere: the fleet file says LOT-0
        other_workstation.record_material_load("vt-0", "pla", "LOT-DB", "bo")
    out = cli("print", "TEST-BOX", "--wait", "--operator", "ana", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    job_id = out.json()["data"]["job_id"]
    with Journal(database) as journal:
        job = journal.get(job_id)
        assert job.outcome == "done" and job.operator == "ana" and job.material_lot == "LOT-DB"
    listed = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert [j["id"] for j in listed] == [job_id]


def test_two_workstations_print_to_one_idle_printer_at_once_exactly_one_wins(
    print_catalog, octoprint_server, pg_url, tmp_path, monkeypatch  # noqa: F811
):
    fleet = write_fleet(tmp_path / "fleet.yaml", [octoprint_server], monkeypatch)
    procs = []
    for station in ("ws-a", "ws-b"):
        home = tmp_path / station
        env = dict(os.environ, HOSPFAB_HOME=str(home), HOSPFAB_DATABASE=pg_url, HOSPFAB_FLEET=str(fleet),
                   HOSPFAB_CATALOG=str(print_catalog), HOSPFAB_OPERATOR=station)  # fmt: skip
        env[API_KEY_ENV.format(0)] = octoprint_server.api_key
        procs.append(subprocess.Popen([sys.executable, "-m", "hospfab", "print", "TEST-SLOW", "--printer", "vt-0",
                                       "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))  # fmt: skip
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, ExitCode.PRINTER], results
    with Journal(pg_url) as journal:  # one journal: both workstations' attempts are in it
        jobs = journal.jobs()
        active = [j for j in jobs if j.active]
        assert len(active) == 1 and active[0].operator in ("ws-a", "ws-b")
    with octoprint_server.client() as client:  # the printer itself: exactly one file was sent, and it prints
        assert client.job().file_name == active[0].remote_file
        sent = [name for name in client.list_files() if any(j.id in name for j in jobs)]
        assert sent == [active[0].remote_file]
