"""The job journal on both backends: claims, outcomes, bed-clear confirmations, queries; concurrency through
real processes."""

from __future__ import annotations

import multiprocessing

import pytest

from hospfab.errors import ExitCode, NotFoundError, PrinterError
from hospfab.journal import DONE, FAILED, PRINTING, UPLOADING, Job, Journal, new_job_id, now_iso


def make_job(printer="p1", ref="KNOB", **kw) -> Job:
    base = dict(
        id=new_job_id(), ref=ref, revision=1, build_file="box.gcode", sha256="ab" * 32, printer=printer,
        printer_url="http://127.0.0.1:1", printer_profile="virtual-test", material="pla", material_lot="L1",
        operator="ana", created_at=now_iso(),
    )  # fmt: skip
    base.update(kw)
    return Job(**base)


def test_claim_then_second_claim_refused(database):
    j = Journal(database)
    first = make_job()
    j.claim(first, require_bed_clear=True)
    with pytest.raises(PrinterError) as info:
        j.claim(make_job(), require_bed_clear=False)
    assert info.value.exit_code == ExitCode.PRINTER and first.id in info.value.message
    j.claim(make_job(printer="p2"), require_bed_clear=True)  # another printer is free


def test_outcome_lifecycle_and_roundtrip(database):
    j = Journal(database)
    job = make_job(overrides={"allow_draft": True})
    j.claim(job, require_bed_clear=True)
    j.update(job.id, outcome=PRINTING, started_at=now_iso(), remote_file="x.gcode")
    done = j.finish(job.id, DONE)
    assert done.outcome == DONE and done.ended_at and done.progress == 100.0
    assert done.overrides == {"allow_draft": True}
    again = j.finish(job.id, FAILED, "late")  # a final outcome is never overwritten
    assert again.outcome == DONE and again.reason is None
    assert Journal(database).get(job.id[:-2]).remote_file == "x.gcode"


def test_bed_clear_rules(database):
    j = Journal(database)
    assert j.bed_clear("p1")  # never printed
    job = make_job()
    j.claim(job, require_bed_clear=True)
    assert j.bed_clear("p1")  # uploading, not started: the bed was not used yet
    j.update(job.id, outcome=PRINTING, started_at=now_iso())
    assert not j.bed_clear("p1")
    with pytest.raises(PrinterError, match="still printing"):
        j.mark_bed_clear("p1", "ana")
    j.finish(job.id, DONE)
    assert not j.bed_clear("p1")
    with pytest.raises(PrinterError, match="bed not confirmed clear"):
        j.claim(make_job(), require_bed_clear=True)
    j.claim(make_job(), require_bed_clear=False)  # automatic bed clearing: allowed
    j2 = make_job(printer="p3")
    j.claim(j2, require_bed_clear=True)
    j.update(j2.id, outcome=PRINTING, started_at=now_iso())
    j.finish(j2.id, FAILED, "thermal runaway")
    record = j.mark_bed_clear("p3", "bob")
    assert record.operator == "bob" and j.bed_clear("p3")
    j.claim(make_job(printer="p3"), require_bed_clear=True)


def test_queries(database):
    j = Journal(database)
    a = make_job(ref="A")
    j.add(a)
    b = make_job(ref="B", printer="p2")
    j.add(b)
    assert [x.id for x in j.jobs(ref="A")] == [a.id]
    assert [x.id for x in j.jobs(newest_first=False)] == [a.id, b.id]
    assert j.jobs(since="2999-01-01") == []
    assert len(j.active_jobs()) == 2 and j.active_on("p2").id == b.id
    with pytest.raises(NotFoundError):
        j.get("nope")


def _claim_worker(path, barrier, results):
    j = Journal(path)
    barrier.wait()
    try:
        j.claim(make_job(), require_bed_clear=True)
        results.put("claimed")
    except PrinterError:
        results.put("refused")


def test_concurrent_processes_claim_one_printer_once(database):
    path = database
    Journal(path).close()
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_claim_worker, args=(path, barrier, results)) for _ in range(6)]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=30) for _ in procs)
    for p in procs:
        p.join(10)
    assert outcomes == ["claimed"] + ["refused"] * 5
    assert len(Journal(path).jobs(outcomes=[UPLOADING])) == 1


def test_material_loads_are_recorded_per_printer_newest_first(database):
    j = Journal(database)
    first = j.record_material_load("p1", "pla", "L-1", "ana")
    j.record_material_load("p2", "petg", "P-7", "bo")
    last = j.record_material_load("p1", "petg", "L-2", "cy")
    assert [m.lot for m in j.material_loads("p1")] == ["L-2", "L-1"]
    assert [m.lot for m in j.material_loads(newest_first=False)] == ["L-1", "P-7", "L-2"]
    assert j.material_loads("p1")[0] == last and first.at <= last.at
    assert last.as_dict() == {"printer": "p1", "material": "petg", "lot": "L-2", "operator": "cy", "at": last.at}
    assert j.material_loads("nobody") == []


def test_last_start_over_printers(database):
    j = Journal(database)
    assert j.last_start(["p1", "p2"]) is None and j.last_start([]) is None
    old = make_job(printer="p1", started_at="2025-01-01T00:00:00.000000+00:00", outcome=DONE)
    j.add(old)
    assert j.last_start(["p1", "p2"]) == old.started_at
    assert j.last_start(["p2"]) is None
    newer = make_job(printer="p2", started_at="2025-01-02T00:00:00.000000+00:00", outcome=PRINTING)
    j.add(newer)
    assert j.last_start(["p1", "p2"]) == newer.started_at
    uploading = make_job(printer="p1")  # claimed, not started yet: counts from its creation
    j.claim(uploading, require_bed_clear=False)
    assert j.last_start(["p1"]) == uploading.created_at
    j.finish(uploading.id, "cancelled", "not sent")  # never started: no longer counts
    assert j.last_start(["p1"]) == old.started_at


def test_a_journal_at_the_previous_schema_version_is_upgraded(empty_database):
    from hospfab.journal.db import connect, migrate, schema_version
    from hospfab.journal.store import COMPONENT, MIGRATIONS

    path = empty_database
    conn = connect(path)
    assert migrate(conn, COMPONENT, MIGRATIONS[:1]) == 1  # as an older hospfab left it
    job = make_job(outcome=DONE, started_at=now_iso())
    conn.execute(
        "INSERT INTO jobs(id, ref, revision, sha256, printer, operator, created_at, started_at, outcome) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (job.id, job.ref, job.revision, job.sha256, job.printer, job.operator, job.created_at, job.started_at,
         job.outcome),
    )  # fmt: skip
    conn.execute("INSERT INTO jobs(id, ref, revision, sha256, printer, operator, created_at, outcome) "
                 "VALUES ('old-1', 'A', 1, 'x', 'p9', 'ana', '2025-01-01T00:00:00+00:00', 'uploading'),"
                 " ('old-2', 'A', 1, 'x', 'p9', 'ana', '2025-01-02T00:00:00+00:00', 'printing')")
    conn.close()

    j = Journal(path)
    assert schema_version(j.conn, COMPONENT) == len(MIGRATIONS)
    assert j.get(job.id).outcome == DONE and j.last_start([job.printer]) == job.started_at
    # two active jobs on one printer (possible before the unique index): the older one is settled as lost
    assert j.get("old-1").outcome == "lost" and "upgrade" in j.get("old-1").reason
    assert j.get("old-2").outcome == PRINTING
    j.record_material_load("p1", "petg", "L-9", "ana")
    j.close()
    with Journal(path) as again:  # reopening is a no-op
        assert [m.lot for m in again.material_loads("p1")] == ["L-9"]
        assert schema_version(again.conn, COMPONENT) == len(MIGRATIONS)


def test_two_active_jobs_on_one_printer_are_refused_by_the_database_itself(database):
    """The invariant holds even for a writer that skips the check (an older hospfab, a manual insert)."""
    from hospfab.journal.db import ConstraintViolation, transaction
    from hospfab.journal.store import insert_job

    j = Journal(database)
    j.claim(make_job(), require_bed_clear=False)
    with pytest.raises(ConstraintViolation) as info:
        with transaction(j.conn):
            insert_job(j.conn, make_job())
    assert info.value.exit_code == ExitCode.DATABASE
    assert len(j.active_jobs("p1")) == 1


def test_times_come_from_the_database_clock_and_compare_as_times(database):
    from hospfab.journal.db import parse_time

    j = Journal(database)
    job = make_job(created_at="1999-01-01T00:00:00+00:00")  # a client with a wrong clock
    j.claim(job, require_bed_clear=False)
    stored = j.get(job.id)
    assert parse_time(stored.created_at).year > 2000
    j.update(job.id, outcome=PRINTING, started_at="now")
    assert 0 <= j.seconds_since_last_start(["p1"]) < 600
