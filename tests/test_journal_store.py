"""The job journal: claims, outcomes, bed-clear confirmations, queries; concurrency through real processes."""

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


def test_claim_then_second_claim_refused(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
    first = make_job()
    j.claim(first, require_bed_clear=True)
    with pytest.raises(PrinterError) as info:
        j.claim(make_job(), require_bed_clear=False)
    assert info.value.exit_code == ExitCode.PRINTER and first.id in info.value.message
    j.claim(make_job(printer="p2"), require_bed_clear=True)  # another printer is free


def test_outcome_lifecycle_and_roundtrip(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
    job = make_job(overrides={"allow_draft": True})
    j.claim(job, require_bed_clear=True)
    j.update(job.id, outcome=PRINTING, started_at=now_iso(), remote_file="x.gcode")
    done = j.finish(job.id, DONE)
    assert done.outcome == DONE and done.ended_at and done.progress == 100.0
    assert done.overrides == {"allow_draft": True}
    again = j.finish(job.id, FAILED, "late")  # a final outcome is never overwritten
    assert again.outcome == DONE and again.reason is None
    assert Journal(tmp_path / "j.sqlite3").get(job.id[:-2]).remote_file == "x.gcode"


def test_bed_clear_rules(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
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


def test_queries(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
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


def test_concurrent_processes_claim_one_printer_once(tmp_path):
    path = tmp_path / "j.sqlite3"
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
