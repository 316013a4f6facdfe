"""Small things the night shift hits: `printers set --bed-clearing` (recorded), a short `queue prioritize`
answer, and runner summaries that add up when two runners settle the same plates."""

from __future__ import annotations

import os
import socket

import yaml

from hospfab.journal import DONE, Job, Journal, now_iso
from hospfab.queue.bed_clearing import BedClearingLog
from hospfab.queue.runner import QueueRunner, RunnerOptions
from hospfab.queue.store import QueueStore

RECIPE = {"printer": "mk4", "material": "petg", "process": "std", "build_file": "x.gcode", "sha256": "0" * 64,
          "copies": 2, "print_time_s": 60.0}  # fmt: skip


def write_fleet(path, bed_clearing="manual"):
    path.write_text(yaml.safe_dump({"printers": [{
        "name": "mk4-01", "url": "http://127.0.0.1:9", "api_key_env": "HOSPFAB_TEST_UNUSED", "profile": "mk4",
        "material": "petg", "bed_clearing": bed_clearing}]}))  # fmt: skip
    return path


def test_printers_set_bed_clearing_rewrites_the_fleet_and_records_who_and_when(cli, hospfab_home, tmp_path,
                                                                               monkeypatch):
    fleet = write_fleet(tmp_path / "fleet.yaml")
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    out = cli("printers", "set", "mk4-01", "--bed-clearing", "automatic", "--operator", "ana", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["before"] == "manual" and data["after"] == "automatic" and data["operator"] == "ana"
    assert yaml.safe_load(fleet.read_text())["printers"][0]["bed_clearing"] == "automatic"
    with BedClearingLog(hospfab_home / "journal.sqlite3") as log:
        [change] = log.changes("mk4-01")
    assert change.operator == "ana" and change.at == data["at"]
    assert cli("printers", "set", "mk4-01", "--bed-clearing", "sometimes").exit_code == 2
    missing = cli("printers", "set", "nope", "--bed-clearing", "manual")
    assert missing.exit_code == 2 and "nope" in missing.stderr


def lot(store, n, priority=0):
    return store.create_lot(ref="EAR", revision=1, quantity=2 * n, recipes=[RECIPE], plates=[("mk4-01", 2)] * n,
                            operator="t", priority=priority)  # fmt: skip


def test_queue_prioritize_answers_with_a_short_summary(cli, hospfab_home):
    with QueueStore(hospfab_home / "journal.sqlite3") as store:
        mine = lot(store, 30)
        lot(store, 2, priority=20)
    out = cli("queue", "prioritize", mine.id, "10")
    assert out.exit_code == 0, out.stderr
    assert out.stdout.strip().count("\n") == 0  # one line, not thirty plates
    assert f"{mine.id}: 30 plates now priority 10 (30 queued); 2 queued plates of higher priority" in out.stdout
    data = cli("queue", "prioritize", mine.id, "30", "--json").json()["data"]
    assert data["plates"] == 30 and data["by_state"] == {"queued": 30} and data["queued_ahead"] == 0


def test_two_runners_settling_the_same_plates_never_double_count(hospfab_home):
    """Two runners watch the same journal and both see three plates printing, then done (each reads the plate
    before either settles it): each plate is counted once, by the runner that settled it."""
    path = hospfab_home / "journal.sqlite3"
    with QueueStore(path) as store, Journal(path) as journal:
        plates = lot(store, 3).plates
        for i, plate in enumerate(plates):
            job_id = f"job-{i}"
            store.claim(plate.id, runner=f"{socket.gethostname()}:{os.getpid()}:aaaaaa", printer="mk4-01",
                        job_id=job_id)  # fmt: skip
            journal.add(Job(id=job_id, ref="EAR", revision=1, build_file="x.gcode", sha256="0" * 64,
                            printer="mk4-01", printer_url=None, printer_profile="mk4", material="petg",
                            material_lot=None, operator="t", created_at=now_iso(), outcome="printing",
                            plate_id=plate.id, lot_id=plate.lot_id))  # fmt: skip
            store.mark_printing(plate.id, job_id)
            journal.finish(job_id, DONE)
        seen = store.plates(states=("printing",))  # what both runners read at the start of their round
    logs = []
    with QueueRunner(path, [], log=logs.append) as a, QueueRunner(path, []) as b:
        for plate in seen[:2]:
            a.observe(plate)
        for plate in seen:
            b.observe(plate)  # stale for the first two: a settled them in between
        for plate in seen:
            a.observe(plate)
    assert a.summary.done + b.summary.done == 3 and (a.summary.done, b.summary.done) == (2, 1)
    with QueueStore(path) as store:
        assert [p.state for p in store.plates()] == ["done"] * 3


def test_the_runner_logs_what_it_reconciled_on_start(hospfab_home):
    path = hospfab_home / "journal.sqlite3"
    with QueueStore(path) as store, Journal(path) as journal:
        plate = lot(store, 1).plates[0]
        store.claim(plate.id, runner="elsewhere:1:x", printer="mk4-01", job_id="job-1")
        journal.add(Job(id="job-1", ref="EAR", revision=1, build_file="x.gcode", sha256="0" * 64, printer="mk4-01",
                        printer_url=None, printer_profile="mk4", material="petg", material_lot=None, operator="t",
                        created_at=now_iso(), outcome="printing", plate_id=plate.id, lot_id=plate.lot_id))
        store.mark_printing(plate.id, "job-1")
        journal.finish("job-1", DONE)
    logs = []
    with QueueRunner(path, [], options=RunnerOptions(poll_s=0.05), log=logs.append) as runner:
        runner.run(max_rounds=1)
    assert logs[0] == "on start: 1 plates were being sent or printed; reconciling with the printers"
    assert f"on start: plate {plate.id} on mk4-01: printing -> done" in logs
