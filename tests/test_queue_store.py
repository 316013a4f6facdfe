"""Lots and plates on both backends: transitions, attempts, exclusive claims (with their journal job in one
transaction), release."""

from __future__ import annotations

import multiprocessing
import random

import pytest

from hospfab.errors import InputError, NotFoundError
from hospfab.journal.db import schema_version
from hospfab.queue.store import (
    CANCELLED,
    DISPATCHING,
    DONE,
    FAILED,
    PRINTING,
    QUEUED,
    QueueStore,
    draw_sample,
    remote_file_name,
)

RECIPES = [{"printer": "virtual-test", "material": "PLA", "sha256": "ab" * 32, "copies": 2}]


@pytest.fixture
def store(database):
    with QueueStore(database) as s:
        yield s


def make_lot(store, plates=3, **kw):
    return store.create_lot(ref="EAR-SAVER", revision=1, quantity=2 * plates, recipes=RECIPES,
                            plates=[("p1", 2)] * plates, operator="ana", **kw)


def test_lot_is_created_with_queued_plates_and_the_queue_schema_version(store):
    lot = make_lot(store)
    assert schema_version(store.conn, "queue") == len(QueueStore.MIGRATIONS)
    assert [p.state for p in lot.plates] == [QUEUED] * 3
    assert [p.id for p in lot.plates] == [f"{lot.id}-001", f"{lot.id}-002", f"{lot.id}-003"]
    assert lot.units_planned == 6 and lot.units_made == 0 and lot.status == "queued"
    assert store.lot(lot.id[:-2]).id == lot.id  # unique prefix
    with pytest.raises(NotFoundError):
        store.lot("L-nope")


def test_plate_lifecycle_done(store):
    plate = make_lot(store, 1).plates[0]
    claimed = store.claim(plate.id, runner="r1", printer="p1", job_id="J1")
    assert claimed.state == DISPATCHING and claimed.attempts == 1
    assert claimed.remote_file == remote_file_name(plate.id, 1) and plate.id in claimed.remote_file
    assert store.claim(plate.id, runner="r2", printer="p2", job_id="J2") is None
    assert store.mark_printing(plate.id, "J1").state == PRINTING
    done = store.finish_attempt(plate.id, "J1", ok=True, units=2)
    assert done.state == DONE and done.units == 2
    lot = store.lot(plate.lot_id)
    assert lot.units_made == 2 and lot.status == "complete"
    states = [(e["from_state"], e["to_state"]) for e in store.events(plate.id)]
    assert states == [(None, QUEUED), (QUEUED, DISPATCHING), (DISPATCHING, PRINTING), (PRINTING, DONE)]
    # a late report about the same attempt changes nothing
    assert store.finish_attempt(plate.id, "J1", ok=False, reason="late").state == DONE


def test_failed_attempts_requeue_avoiding_the_printer_then_fail(store):
    plate = make_lot(store, 1, max_attempts=2).plates[0]
    store.claim(plate.id, runner="r", printer="p1", job_id="J1")
    again = store.finish_attempt(plate.id, "J1", ok=False, reason="firmware error")
    assert again.state == QUEUED and again.avoid == ["p1"] and again.attempts == 1
    store.claim(plate.id, runner="r", printer="p2", job_id="J2")
    assert store.plate(plate.id).remote_file.endswith("-a2.gcode")
    final = store.finish_attempt(plate.id, "J2", ok=False, reason="lost")
    assert final.state == FAILED and final.avoid == ["p1", "p2"]
    assert store.lot(plate.lot_id).status == "incomplete"
    retried = store.retry(plate.id, by="ana")
    assert [p.state for p in retried] == [QUEUED]
    assert store.claim(plate.id, runner="r", printer="p3", job_id="J3").attempts == 3


def test_unclaim_never_gives_the_attempt_back(store):
    plate = make_lot(store, 1).plates[0]
    first = store.claim(plate.id, runner="r", printer="p1", job_id="J1")
    back = store.unclaim(plate.id, "J1", "printer busy")
    assert back.state == QUEUED and back.attempts == 1
    assert store.unclaim(plate.id, "J1", "twice").state == QUEUED  # idempotent
    again = store.claim(plate.id, runner="r", printer="p1", job_id="J2")
    assert again.attempts == 2 and again.remote_file != first.remote_file  # a name is never reused


def test_a_claim_and_its_journal_job_are_one_transaction(store):
    from hospfab.errors import PrinterError
    from hospfab.journal import Journal
    from test_journal_store import make_job

    first, second = make_lot(store, 2).plates
    job = make_job(printer="p1")
    claimed = store.claim(first.id, runner="r", printer="p1", job_id=job.id, job=job)
    journal = Journal(store.conn)
    recorded = journal.get(job.id)
    assert recorded.remote_file == claimed.remote_file and recorded.plate_id == first.id
    other = make_job(printer="p1")
    with pytest.raises(PrinterError, match="already has job"):
        store.claim(second.id, runner="r", printer="p1", job_id=other.id, job=other)
    after = store.plate(second.id)
    assert after.state == QUEUED and after.attempts == 0  # nothing of the refused claim remains
    with pytest.raises(NotFoundError):
        journal.get(other.id)


def test_cancel_prioritize_and_release(store):
    lot = make_lot(store, 3)
    first = lot.plates[0]
    store.claim(first.id, runner="r", printer="p1", job_id="J1")
    with pytest.raises(InputError, match="cancel the job on the printer"):
        store.cancel(first.id, by="ana")
    cancelled = store.cancel(lot.id, by="ana")
    assert sorted(p.seq for p in cancelled) == [2, 3]
    assert all(p.priority == 9 for p in store.prioritize(lot.id, 9))
    assert store.lot(lot.id).priority == 9
    with pytest.raises(InputError, match="still queued or printing"):
        store.release(lot.id, by="qa", inspection="pass")
    store.finish_attempt(first.id, "J1", ok=True, units=2)
    with pytest.raises(InputError, match="pass"):
        store.release(lot.id, by="qa", inspection="maybe")
    released = store.release(lot.id, by="qa", inspection="pass", note="sample 3 ok")
    assert released.state == "released" and released.released_by == "qa" and released.units_made == 2
    with pytest.raises(InputError, match="already released"):
        store.release(lot.id, by="qa", inspection="fail")
    assert [p.state for p in released.plates] == [DONE, CANCELLED, CANCELLED]


def _claim_all(path, runner, ids, out):
    with QueueStore(path) as s:
        out.put([i for i in ids if s.claim(i, runner=runner, printer=f"{runner}-{i}", job_id=f"{runner}-{i}")])


def test_two_processes_never_claim_the_same_plate(database):
    path = database
    with QueueStore(path) as s:
        ids = [p.id for p in make_lot(s, 40).plates]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, f"r{k}", ids, out)) for k in range(3)]
    for p in procs:
        p.start()
    claimed = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    flat = [i for part in claimed for i in part]
    assert sorted(flat) == sorted(ids)  # every plate claimed exactly once
    with QueueStore(path) as s:
        assert {p.state for p in s.plates()} == {DISPATCHING}


def test_sample_draws_one_unit_per_block():
    units = draw_sample(250, 100, 1, random.Random(3))
    assert len(units) == 3
    assert 1 <= units[0] <= 100 < units[1] <= 200 < units[2] <= 250
    assert draw_sample(5, 100, 2, random.Random(1)).__len__() == 2
