"""The queue runner against real OctoPrint servers (Virtual Printer): lots across printers, a firmware error,
kill -9 and restart, a server stopped mid-print, manual bed clearing.

"Printed exactly once" is checked with the printers' own statistics: every attempt of a plate is uploaded under
a unique file name, and OctoPrint counts successful prints per file.
"""

from __future__ import annotations

import json

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from octoprint_fixtures import wait_until
from test_print_support import TEST_META, trusted_test_key, write_fleet

from hospfab.catalog import Catalog
from hospfab.fleet import Fleet
from hospfab.journal import Journal
from hospfab.octoprint.exceptions import PrinterNotFound
from hospfab.queue.runner import QueueRunner, RunnerOptions
from hospfab.queue.store import DONE, QueueStore

pytestmark = pytest.mark.octoprint

REF = "TEST-LOT"


def _build_lot_catalog(tmp_path_factory) -> Path:
    """TEST-LOT@1: a validated, signed revision whose virtual-test/pla recipe is a ~2.5 s job, 2 per plate."""
    from meshes import box, write_binary
    from octoprint_fixtures import make_gcode

    base = tmp_path_factory.mktemp("lot-catalog")
    root, work = base / "catalog", base / "work"
    work.mkdir()
    private, catalog = trusted_test_key(root, work, "lot-validator")
    catalog.new(REF, "test lot part", write_binary(work / "part.stl", box((10.0, 10.0, 2.0))), meta=TEST_META)
    gcode = make_gcode(work / "lot.gcode", moves=60, dwell_s=2)
    catalog.add_recipe(f"{REF}@1", gcode, printer="virtual-test", material="pla", process="standard", copies=2,
                       estimates={"print_time_s": 3})  # fmt: skip
    catalog.validate(f"{REF}@1", key_file=private)
    return root


_BUILT: dict[str, Path] = {}  # built once per session (the fixture is imported by name elsewhere)


@pytest.fixture
def lot_catalog(tmp_path_factory, monkeypatch) -> Path:
    """TEST-LOT@1, its validator pinned in this test's trust store (HOSPFAB_TRUST_STORE)."""
    if "root" not in _BUILT:
        _BUILT["root"] = _build_lot_catalog(tmp_path_factory)
    monkeypatch.setenv("HOSPFAB_TRUST_STORE", str(_BUILT["root"].parent / "trust.yaml"))
    return _BUILT["root"]


@pytest.fixture
def farm(octoprint_server_factory, lot_catalog, tmp_path, monkeypatch):
    """Factory: farm(n, bed_clearing=...) -> (servers, fleet path); catalog and fleet set in the environment."""

    def make(count: int = 2, **kwargs):
        servers = octoprint_server_factory(count)
        fleet = write_fleet(tmp_path / "fleet.yaml", servers, monkeypatch, **kwargs)
        monkeypatch.setenv("HOSPFAB_CATALOG", str(lot_catalog))
        monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
        return servers, fleet

    return make


def journal_path(home: Path | None) -> Path | str:
    """The database the runner and the CLI use: HOSPFAB_DATABASE (set by the ``database`` fixture, SQLite or
    PostgreSQL) or the SQLite journal of ``home``."""
    if home is None:
        return os.environ["HOSPFAB_DATABASE"]
    return os.environ.get("HOSPFAB_DATABASE") or home / "journal.sqlite3"


def new_lot(cli, quantity: int, *extra: str) -> dict:
    out = cli("batch", REF, "--quantity", quantity, "--json", *extra)
    assert out.exit_code == 0, out.stdout + out.stderr
    return out.json()["data"]


def run_in_thread(home: Path, fleet: Path, catalog: Path, log=None, **options) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target() -> None:
        opts = RunnerOptions(poll_s=0.2, until_empty=True, **options)
        printers = Fleet.load(fleet).printers
        with QueueRunner(journal_path(home), printers, catalog=Catalog(catalog), options=opts, log=log) as runner:
            result["summary"] = runner.run()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result




def plates(home: Path | None, lot_id: str):
    with QueueStore(journal_path(home)) as store:
        return store.lot(lot_id).plates


def printed_once_everywhere(servers, home: Path | None, lot_id: str) -> dict[str, int]:
    """Successful prints per plate, summed over every attempt's file on every printer (from OctoPrint)."""
    with Journal(journal_path(home)) as journal:
        attempts = [j for j in journal.jobs() if j.lot_id == lot_id]
    counts: dict[str, int] = {p.id: 0 for p in plates(home, lot_id)}
    for server in servers:
        with server.client() as client:
            for job in attempts:
                try:
                    counts[job.plate_id] += client.file_info(job.remote_file).prints_success
                except PrinterNotFound:
                    pass
    return counts


def test_lot_is_spread_over_printers_and_recorded(farm, cli, hospfab_home, tmp_path, database):
    servers, _fleet = farm(2)
    plan = new_lot(cli, 8, "--chart", tmp_path / "plan.png")
    assert plan["units_per_plate"] == 2 and plan["plates"] == 4 and plan["units"] == 8
    assert {p["printer"]: p["plates"] for p in plan["plan"]} == {"vt-0": 2, "vt-1": 2}
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lot_id = plan["lot_id"]
    run = cli("queue", "run", "--until-empty", "--poll", "0.2", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.json()["data"]["done"] == 4
    show = cli("lots", "show", lot_id, "--json").json()["data"]
    assert show["units_made"] == 8 and show["status"] == "complete"
    assert set(show["plates_per_printer"]) == {"vt-0", "vt-1"}
    assert set(printed_once_everywhere(servers, hospfab_home, lot_id).values()) == {1}
    assert len(show["lot"]["sampling"]["units"]) == 1
    record = tmp_path / "unit.yaml"
    record.write_text("measurements:\n- {name: width, nominal_mm: 10, measured_mm: 10.05, tolerance_mm: 0.2}\n")
    unit = show["lot"]["sampling"]["units"][0]
    release = cli("lots", "release", lot_id, "--by", "QA Lead", "--manual", f"{unit}={record}", "--json")
    assert release.exit_code == 4  # never released
    assert "test-only printer profile virtual-test" in release.json()["errors"][0]["message"]
    release = cli("lots", "release", lot_id, "--by", "QA Lead", "--reject", "--note", "test rig", "--json")
    assert release.exit_code == 0 and release.json()["data"]["inspection"] == "fail"
    for suffix in ("csv", "json", "html"):
        out = cli("lots", "export", lot_id, "-o", tmp_path / f"dhr.{suffix}", "--json")
        assert out.exit_code == 0, out.stderr
    csv_rows = (tmp_path / "dhr.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 1 + 4 and all(",done," in row for row in csv_rows[1:])
    assert "QA Lead" in (tmp_path / "dhr.html").read_text()
    dhr = json.loads((tmp_path / "dhr.json").read_text())
    validators = json.dumps(dhr)
    assert "Test Validator" in validators and "biomedical engineer" in validators  # from the signed record


def test_firmware_error_mid_lot_reprints_the_plate_elsewhere(farm, cli, hospfab_home, lot_catalog):
    servers, fleet = farm(2)
    lot_id = new_lot(cli, 8)["lot_id"]
    thread, result = run_in_thread(hospfab_home, fleet, lot_catalog)
    victim = wait_until(lambda: next((p for p in plates(hospfab_home, lot_id)
                                      if p.state == "printing" and p.printer == "vt-0"), None))  # fmt: skip
    with servers[0].client() as client:
        client.send_commands(["!!DEBUG:trigger_fatal_error_marlin"])
    thread.join(120)
    assert not thread.is_alive()
    after = {p.id: p for p in plates(hospfab_home, lot_id)}
    assert all(p.state == DONE for p in after.values())
    redone = after[victim.id]
    assert redone.attempts == 2 and redone.printer == "vt-1" and redone.avoid == ["vt-0"]
    assert result["summary"].requeued >= 1
    assert set(printed_once_everywhere(servers, hospfab_home, lot_id).values()) == {1}


def test_runner_killed_mid_lot_and_restarted_prints_each_plate_once(farm, cli, hospfab_home, database):
    servers, _fleet = farm(2)
    lot_id = new_lot(cli, 12)["lot_id"]  # 6 plates, 3 rounds of ~2.5 s on 2 printers
    command = [sys.executable, "-m", "hospfab", "queue", "run", "--until-empty", "--poll", "0.2", "--lease", "3",
               "--json"]  # the killed runner's lease expires 3 s after its last heartbeat
    first = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: sum(p.state == DONE for p in plates(hospfab_home, lot_id)) >= 2
                   and any(p.state in ("printing", "dispatching") for p in plates(hospfab_home, lot_id)),
                   timeout_s=90)  # fmt: skip
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    mid = plates(hospfab_home, lot_id)
    assert any(p.state in ("printing", "dispatching") for p in mid)  # killed with plates on printers
    second = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    final = plates(hospfab_home, lot_id)
    assert [p.state for p in final] == [DONE] * 6
    assert printed_once_everywhere(servers, hospfab_home, lot_id) == {p.id: 1 for p in final}
    total_success = 0
    for server in servers:  # and nothing else of this lot was printed
        with server.client() as client:
            for name in client.list_files():
                if lot_id in name:
                    total_success += client.file_info(name).prints_success
    assert total_success == 6


def test_server_stopped_mid_print_keeps_the_plate_until_the_printer_answers(farm, cli, hospfab_home, lot_catalog):
    """A silent printer may still be printing (a network fault does not stop OctoPrint): its job becomes
    unknown and the plate is NOT given to another printer. When the printer answers again (restarted, with
    no print of the file), the attempt is lost and the plate is printed elsewhere, once."""
    from hospfab.octoprint.localserver import launch, wait_ready

    servers, fleet = farm(2)
    lot_id = new_lot(cli, 6)["lot_id"]
    log: list[str] = []
    thread, result = run_in_thread(hospfab_home, fleet, lot_catalog, lost_after_s=1.0, log=log.append)
    victim = wait_until(lambda: next((p for p in plates(hospfab_home, lot_id)
                                      if p.state == "printing" and p.printer == "vt-0"), None))  # fmt: skip
    servers[0].stop()
    with Journal(journal_path(hospfab_home)) as journal:
        unknown = wait_until(lambda: next((j for j in journal.jobs() if j.id == victim.job_id
                                           and j.outcome == "unknown"), None))  # fmt: skip
    assert "may still be printing" in unknown.reason
    assert any("vt-0 not answering" in line for line in log)
    time.sleep(2.0)  # several rounds while vt-1 is free: the plate stays on vt-0
    held = {p.id: p for p in plates(hospfab_home, lot_id)}[victim.id]
    assert held.state == "printing" and held.printer == "vt-0" and held.attempts == 1
    restarted = launch(servers[0].basedir, port=servers[0].port, api_key=servers[0].api_key)
    try:
        wait_ready(restarted)
        thread.join(120)
        assert not thread.is_alive(), "\n".join(log[-20:])
        after = {p.id: p for p in plates(hospfab_home, lot_id)}
        assert all(p.state == DONE for p in after.values())
        assert after[victim.id].printer == "vt-1" and after[victim.id].attempts == 2
        with Journal(journal_path(hospfab_home)) as journal:
            lost = [j for j in journal.jobs() if j.plate_id == victim.id and j.outcome == "lost"]
        assert len(lost) == 1 and "not printed" in lost[0].reason
        assert set(printed_once_everywhere(servers, hospfab_home, lot_id).values()) == {1}
    finally:
        restarted.stop()


def test_manual_bed_clearing_holds_the_next_plate(farm, cli, hospfab_home, lot_catalog):
    _servers, fleet = farm(1, bed_clearing="manual")
    lot_id = new_lot(cli, 4)["lot_id"]  # 2 plates on one printer
    thread, result = run_in_thread(hospfab_home, fleet, lot_catalog)
    wait_until(lambda: plates(hospfab_home, lot_id)[0].state == DONE)
    time.sleep(1.5)  # several runner rounds: the second plate must wait for the bed
    assert [p.state for p in plates(hospfab_home, lot_id)] == [DONE, "queued"]
    out = cli("printers", "cleared", "vt-0", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    thread.join(60)
    assert not thread.is_alive()
    assert [p.state for p in plates(hospfab_home, lot_id)] == [DONE, DONE]


def test_site_stagger_spaces_starts_and_survives_a_restart(farm, cli, hospfab_home, lot_catalog):
    """Two printers on one site, a 4 s gap (a plate prints in ~2.5 s, so a busy printer cannot explain the
    gap): the first runner starts one plate and stops; a new runner must still wait out the gap (it is read
    from the journal, not remembered in memory), then space its own starts too."""
    gap = 4.0
    _servers, fleet = farm(2)  # vt-0 and vt-1, both on site test-lab, automatic bed clearing
    lot_id = new_lot(cli, 6)["lot_id"]  # 3 plates
    options = RunnerOptions(poll_s=0.2, stagger_s=gap, until_empty=True)
    printers = Fleet.load(fleet).printers
    catalog = Catalog(lot_catalog)
    with QueueRunner(journal_path(hospfab_home), printers, catalog=catalog, options=options) as first:
        first.step()  # one round: both printers are free, only one may start
        assert first.summary.dispatched == 1
        waiting = [why for why in first.summary.waiting.values() if why.startswith("stagger: site test-lab")]
        assert len(waiting) == 1
    with QueueRunner(journal_path(hospfab_home), printers, catalog=catalog, options=options) as second:
        summary = second.run()  # a fresh runner: nothing in memory about the first start
    assert summary.dispatched == 2 and summary.done == 3
    assert [p.state for p in plates(hospfab_home, lot_id)] == [DONE] * 3
    with Journal(journal_path(hospfab_home)) as journal:
        starts = sorted(datetime.fromisoformat(j.started_at) for j in journal.jobs() if j.lot_id == lot_id)
    assert len(starts) == 3
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]
    assert gaps[0] >= gap  # across the restart
    assert gaps[1] >= gap  # within one runner
