"""Printer claims, plate claims and runner leases on a real SQLite database: each test fails when a claim
check is removed or loosened (written against the mutmut survivors of the journal/queue claim paths)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hospfab.errors import PrinterError
from hospfab.journal import DONE, FAILED, PRINTING, Job, Journal, new_job_id, now_iso
from hospfab.journal.db import parse_time
from hospfab.journal.store import BedClear
from hospfab.queue.leases import RunnerLeases
from hospfab.queue.store import DISPATCHING, QUEUED, QueueStore, remote_file_name

RECIPES = [{"printer": "virtual-test", "material": "PLA", "sha256": "ab" * 32, "copies": 2}]
T0 = "2026-01-01T12:00:00.000000+00:00"


def at(seconds: float) -> str:
    return (parse_time(T0) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


class Clock:
    """The database clock of one connection, set by the test."""

    def __init__(self, conn, start: str = T0) -> None:
        self.value = start
        conn.now = lambda: self.value


class TickingClock:
    """A database clock one microsecond later at each reading (every ``now()`` call tells apart)."""

    def __init__(self, conn) -> None:
        self.ticks = 0

        def now() -> str:
            self.ticks += 1
            return (parse_time(T0) + timedelta(microseconds=self.ticks)).isoformat(timespec="microseconds")

        conn.now = now


def make_job(printer="p1", **kw) -> Job:
    base = dict(id=new_job_id(), ref="KNOB", revision=1, build_file="box.gcode", sha256="ab" * 32,
                printer=printer, printer_url="http://127.0.0.1:1", printer_profile="virtual-test",
                material="pla", material_lot="L1", operator="ana", created_at=now_iso())
    base.update(kw)
    return Job(**base)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "journal.sqlite3")


# ---- printer claims (journal) ----------------------------------------------------------------------------


def test_a_claimed_printer_is_refused_with_the_busy_job_named(db):
    j = Journal(db)
    first = make_job()
    assert j.claim(first, require_bed_clear=False) is None
    with pytest.raises(PrinterError) as info:
        j.claim(make_job(), require_bed_clear=False)
    assert info.value.code == "printer_claimed"
    assert info.value.message == f"printer p1: already has job {first.id} (uploading) in the journal"
    j.update(first.id, outcome=PRINTING, started_at="now")
    with pytest.raises(PrinterError, match=rf"job {first.id} \(printing\)"):
        j.claim(make_job(), require_bed_clear=False)
    j.update(first.id, outcome="unknown")
    with pytest.raises(PrinterError, match=r"\(unknown\)"):
        j.claim(make_job(), require_bed_clear=False)
    assert [x.id for x in j.active_jobs("p1")] == [first.id]


def test_a_final_outcome_releases_the_printer_and_a_queued_job_never_holds_it(db):
    j = Journal(db)
    j.add(make_job(outcome="queued"))  # a queued job holds no printer
    for outcome in (DONE, FAILED, "cancelled", "lost"):
        job = make_job()
        j.claim(job, require_bed_clear=False)
        assert j.active_on("p1").id == job.id
        ended = j.finish(job.id, outcome, "why")
        assert ended.outcome == outcome and ended.ended_at and j.active_on("p1") is None
        assert ended.reason == "why" and ended.progress == (100.0 if outcome == DONE else None)
    with pytest.raises(ValueError, match="not a final outcome: printing"):
        j.finish(job.id, PRINTING)


def test_finish_keeps_an_earlier_reason_and_the_progress_unless_done(db):
    j = Journal(db)
    job = make_job()
    j.claim(job, require_bed_clear=False)
    j.update(job.id, outcome=PRINTING, started_at="now", progress=42.5, reason="answer lost")
    failed = j.finish(job.id, FAILED)
    assert failed.reason == "answer lost" and failed.progress == 42.5
    assert j.finish(job.id, DONE, "late").outcome == FAILED  # settled: no-op


def test_the_database_index_refusal_reads_as_a_claimed_printer(db, monkeypatch):
    """A claim that loses a race (the check saw no active job, the insert hits the unique index) is refused
    like any claimed printer, not as a database error."""
    import hospfab.journal.store as store

    j = Journal(db)
    j.claim(make_job(), require_bed_clear=False)
    monkeypatch.setattr(store, "_active_on", lambda conn, printer: None)
    with pytest.raises(PrinterError) as info:
        j.claim(make_job(), require_bed_clear=False)
    assert info.value.code == "printer_claimed"
    assert info.value.message == (
        "printer p1: already has an active job (claimed at the same instant) in the journal")
    assert len(j.active_jobs("p1")) == 1


def test_another_constraint_violation_is_not_called_a_claim(db):
    from hospfab.journal.db import ConstraintViolation

    j = Journal(db)
    job = make_job(printer="p1")
    j.claim(job, require_bed_clear=False)
    j.finish(job.id, DONE)
    again = make_job(printer="p2", id=job.id)  # same id, another printer: the primary key refuses it
    with pytest.raises(ConstraintViolation):
        j.claim(again, require_bed_clear=False)


def test_bed_clear_compares_the_confirmation_with_the_last_job_end(db):
    j = Journal(db)
    clock = Clock(j.conn)
    job = make_job()
    j.claim(job, require_bed_clear=True)
    assert j.get(job.id).created_at == T0  # the claim's time is the database's
    j.update(job.id, outcome=PRINTING, started_at="now")
    clock.value = at(60)
    j.finish(job.id, DONE)
    with pytest.raises(PrinterError) as info:
        j.claim(make_job(), require_bed_clear=True)
    assert info.value.code == "bed_not_clear" and "`hospfab printers cleared p1`" in info.value.message
    clock.value = at(60)  # confirmed at the very instant the job ended: clear
    j.mark_bed_clear("p1", "ana")
    assert j.bed_clear("p1")
    assert j.last_bed_clear("p1") == BedClear("p1", at(60), "ana") and j.last_bed_clear("p2") is None
    j.claim(make_job(), require_bed_clear=True)


def test_a_bed_confirmed_before_the_job_ended_is_not_clear(db):
    j = Journal(db)
    j.add(make_job(started_at=at(0), ended_at=at(100), outcome=DONE))
    j.conn.execute("INSERT INTO bed_clear(printer, cleared_at, operator) VALUES ('p1', ?, 'ana')", (at(50),))
    assert not j.bed_clear("p1")  # after the start, before the end
    with pytest.raises(PrinterError, match="bed not confirmed clear"):
        j.claim(make_job(), require_bed_clear=True)
    j.claim(make_job(printer="p2"), require_bed_clear=True)  # the other printer never printed


def test_a_job_without_an_end_counts_from_its_start(db):
    j = Journal(db)
    j.add(make_job(started_at=at(0), ended_at=None, outcome="lost"))
    j.conn.execute("INSERT INTO bed_clear(printer, cleared_at, operator) VALUES ('p1', ?, 'ana')", (at(1),))
    assert j.bed_clear("p1")
    j.conn.execute("UPDATE bed_clear SET cleared_at=? WHERE printer='p1'", (at(-1),))
    assert not j.bed_clear("p1")


def test_the_newest_active_job_is_the_one_reported(db):
    j = Journal(db)
    old = make_job(created_at=at(0), outcome="unknown", printer=None)
    j.add(old)
    assert j.active_on("p1") is None
    job = make_job()
    j.claim(job, require_bed_clear=False)
    assert j.active_on("p1").id == job.id and j.active_on("p2") is None


# ---- plate claims (queue) --------------------------------------------------------------------------------


@pytest.fixture
def store(db):
    Journal(db).close()  # the jobs table, for the claims that record their job
    with QueueStore(db) as s:
        yield s


def make_lot(store, plates=2, max_attempts=3):
    return store.create_lot(ref="EAR-SAVER", revision=1, quantity=2 * plates, recipes=RECIPES,
                            plates=[("p1", 2)] * plates, operator="ana", max_attempts=max_attempts)


def test_a_claimed_plate_is_not_claimed_again_and_the_claim_is_recorded(store):
    Clock(store.conn)
    plate = make_lot(store, 1).plates[0]
    claimed = store.claim(plate.id, runner="r1", printer="p2", job_id="J1")
    got = (claimed.state, claimed.attempts, claimed.printer, claimed.job_id, claimed.runner, claimed.reason)
    assert got == (DISPATCHING, 1, "p2", "J1", "r1", None)
    assert claimed.remote_file == remote_file_name(plate.id, 1) == f"hospfab-{plate.id}-a1.gcode"
    assert claimed.updated_at == T0
    assert store.claim(plate.id, runner="r2", printer="p1", job_id="J2") is None  # taken: nothing changes
    assert store.plate(plate.id) == claimed
    last = store.events(plate.id)[-1]
    got = (last["from_state"], last["to_state"], last["printer"], last["job_id"], last["note"], last["at"])
    assert got == (QUEUED, DISPATCHING, "p2", "J1", "attempt 1 by runner r1", T0)
    assert len(store.events(plate.id)) == 2


def test_a_plate_claim_records_its_job_at_the_same_instant(store):
    plate = make_lot(store, 1).plates[0]
    TickingClock(store.conn)
    job = make_job(printer="elsewhere", created_at=at(-999))
    claimed = store.claim(plate.id, runner="r1", printer="p1", job_id=job.id, job=job)
    recorded = Journal(store.conn).get(job.id)
    assert (recorded.printer, recorded.plate_id, recorded.remote_file, recorded.created_at) == (
        "p1", plate.id, claimed.remote_file, claimed.updated_at)  # one reading of the clock for both
    assert store.events(plate.id)[-1]["at"] == claimed.updated_at


def test_a_plate_claim_passes_the_bed_rule_on(store):
    first, second = make_lot(store, 2).plates
    journal = Journal(store.conn)
    done = make_job()
    journal.claim(done, require_bed_clear=False)
    journal.update(done.id, outcome=PRINTING, started_at="now")
    journal.finish(done.id, DONE)
    with pytest.raises(PrinterError, match="bed not confirmed clear"):
        store.claim(first.id, runner="r", printer="p1", job_id="J1", job=make_job(), require_bed_clear=True)
    assert store.plate(first.id).state == QUEUED
    # the default: not required
    assert store.claim(second.id, runner="r", printer="p1", job_id="J2", job=make_job())


def test_unclaim_queues_the_plate_without_its_runner_only_for_its_own_attempt(store):
    plate = make_lot(store, 1).plates[0]
    store.claim(plate.id, runner="r1", printer="p1", job_id="J1")
    assert store.unclaim(plate.id, "J0", "someone else's").state == DISPATCHING  # another attempt: untouched
    back = store.unclaim(plate.id, "J1", "printer busy")
    assert (back.state, back.runner, back.reason, back.attempts) == (QUEUED, None, "printer busy", 1)
    last = store.events(plate.id)[-1]
    assert (last["from_state"], last["to_state"], last["job_id"], last["note"], last["printer"]) == (
        DISPATCHING, QUEUED, "J1", "printer busy", "p1")


def test_mark_printing_keeps_the_runner_and_a_printing_plate_cannot_be_unclaimed(store):
    plate = make_lot(store, 1).plates[0]
    store.claim(plate.id, runner="r1", printer="p1", job_id="J1")
    printing = store.mark_printing(plate.id, "J1")
    assert (printing.state, printing.runner, printing.reason) == (PRINTING, "r1", None)
    assert store.unclaim(plate.id, "J1", "too late").state == PRINTING  # on the printer: never re-queued
    assert store.claim(plate.id, runner="r2", printer="p2", job_id="J2") is None


def test_a_failed_attempt_requeues_until_the_last_then_fails(store):
    plate = make_lot(store, 1, max_attempts=2).plates[0]
    store.claim(plate.id, runner="r1", printer="p1", job_id="J1")
    store.mark_printing(plate.id, "J1")
    assert store.finish_attempt(plate.id, "J0", ok=False).state == PRINTING  # not its attempt
    again = store.finish_attempt(plate.id, "J1", ok=False, units=2, reason="spaghetti")
    assert (again.state, again.units, again.avoid, again.runner, again.reason) == (
        QUEUED, 0, ["p1"], None, "spaghetti")
    store.claim(plate.id, runner="r1", printer="p1", job_id="J2")
    failed = store.finish_attempt(plate.id, "J2", ok=False, reason="warped")
    assert failed.state == "failed" and failed.avoid == ["p1"]  # the printer is listed once
    last = store.events(plate.id)[-1]
    assert (last["from_state"], last["to_state"], last["printer"], last["job_id"], last["note"]) == (
        DISPATCHING, "failed", "p1", "J2", "warped")
    ok = make_lot(store, 1).plates[0]
    store.claim(ok.id, runner="r1", printer="p2", job_id="J3")
    made = store.finish_attempt(ok.id, "J3", ok=True, units=2)
    assert (made.state, made.units, made.avoid, made.runner) == ("done", 2, [], None)
    assert store.finish_attempt(ok.id, "J3", ok=False).state == "done"  # settled: no-op
    bare = make_lot(store, 1).plates[0]
    store.claim(bare.id, runner="r1", printer="p2", job_id="J4")
    assert store.finish_attempt(bare.id, "J4", ok=True).units == 0  # no units given: none counted


# ---- runner leases ---------------------------------------------------------------------------------------


@pytest.fixture
def leases(db):
    with RunnerLeases(db) as lease_db:
        yield lease_db


def test_a_lease_lives_exactly_lease_s_on_the_database_clock(leases):
    import os
    import socket

    clock = Clock(leases.conn)
    lease = leases.acquire("r1", site="north", lease_s=10)
    assert (lease.id, lease.host, lease.pid, lease.site, lease.started_at, lease.heartbeat_at,
            lease.expires_at, lease.stopped_at) == (
        "r1", socket.gethostname(), os.getpid(), "north", T0, T0, at(10), None)
    assert lease.as_dict() == {"id": "r1", "host": lease.host, "pid": lease.pid, "site": "north",
                               "started_at": T0, "heartbeat_at": T0, "expires_at": at(10), "stopped_at": None}
    clock.value = at(9.999999)
    assert leases.alive("r1") and [x.id for x in leases.active()] == ["r1"]
    assert leases.heartbeat("r1", lease_s=10)
    renewed = leases.get("r1")
    assert (renewed.heartbeat_at, renewed.expires_at, renewed.started_at) == (at(9.999999), at(19.999999), T0)
    clock.value = at(19.999999)  # the expiry instant: gone
    assert not leases.alive("r1") and leases.active() == []
    assert not leases.heartbeat("r1", lease_s=10)
    assert leases.get("r1").expires_at == at(19.999999)  # an expired lease is not renewed


def test_a_released_lease_stays_released_until_acquired_again(leases):
    clock = Clock(leases.conn)
    leases.acquire("r1", site=None, lease_s=60)
    leases.acquire("r0", site=None, lease_s=60)
    clock.value = at(5)
    leases.acquire("r2", site=None, lease_s=60)
    assert [x.id for x in leases.active()] == ["r1", "r0", "r2"]  # in order of start
    leases.release("r1")
    gone = leases.get("r1")
    assert (gone.stopped_at, gone.expires_at) == (at(5), at(5))
    assert not leases.alive("r1") and not leases.heartbeat("r1")
    assert [x.id for x in leases.active()] == ["r0", "r2"]
    clock.value = at(7)
    leases.release("r1")  # a second release changes nothing
    assert leases.get("r1").stopped_at == at(5)
    back = leases.acquire("r1", site=None, lease_s=60)
    assert (back.stopped_at, back.heartbeat_at, back.expires_at, back.started_at) == (None, at(7), at(67), T0)
    assert leases.alive("r1") and leases.heartbeat("r1", lease_s=1)
    assert leases.get("r1").expires_at == at(8)
    assert not leases.alive("") and not leases.alive(None) and not leases.heartbeat("never")
    assert leases.get("never") is None


def test_a_lease_stopped_but_not_yet_expired_is_not_alive(leases):
    Clock(leases.conn)
    leases.acquire("r1", site=None, lease_s=60)
    leases.conn.execute("UPDATE runner_leases SET stopped_at=? WHERE id='r1'", (T0,))  # expires_at left ahead
    assert not leases.alive("r1") and leases.active() == [] and not leases.heartbeat("r1")
