"""Bring journal jobs to their outcome from what OctoPrint says (state, selected file, file print statistics).

A job started by a process that has since exited is still reconciled by the next ``jobs list/show``,
``print`` or ``printers cleared``. Rules (FIELD-NOTES: a short job may be in Printing for only ~0.1 s, so the
per-file statistics of the job's unique remote file are the reliable signal):

- the printer is busy with the job's file: ``printing`` (progress recorded);
- the file's statistics show a print: last print succeeded -> ``done``; failed -> ``failed`` with the
  printer's error, or ``cancelled`` when the printer shows a cancelled job (no error, progress cleared);
- the file is gone from the printer -> ``lost``; nothing ever printed after a grace period -> ``lost``;
- the printer cannot be reached: the job stays as it is (nothing is guessed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from hospfab.errors import HospfabError, PrinterError
from hospfab.journal import CANCELLED, DONE, FAILED, LOST, PRINTING, UPLOADING, Job, Journal, now_iso

#: A job still "uploading" (its process may still be sending the file) is left alone for this long.
UPLOAD_GRACE_S = 120.0
#: A "printing" job whose printer shows neither it running nor a print of its file, is lost after this long.
START_GRACE_S = 60.0
#: After a cancel, how long to wait for the printer to leave Cancelling (it finishes the current command).
CANCEL_SETTLE_S = 15.0


class PrinterLike(Protocol):
    """What the printing code needs from a fleet printer (``hospfab.fleet.PrinterConfig``)."""

    name: str
    url: str
    profile: str
    material: str
    material_lot: str | None
    bed_clearing: str

    def client(self) -> Any: ...


def _age_s(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()


def reconcile_job(journal: Journal, job: Job, client: Any) -> Job:
    """Ask the printer about one active job and record what it says. Returns the job as now recorded."""
    from hospfab.octoprint.exceptions import PrinterNotFound
    from hospfab.octoprint.states import ERROR_STATES, JOB_ACTIVE_STATES

    if not job.active or not job.remote_file:
        return job
    try:
        info = client.job()
    except PrinterError:
        return job
    ours = info.file_name == job.remote_file
    if ours and info.state in JOB_ACTIVE_STATES:
        changes: dict[str, Any] = {"outcome": PRINTING, "progress": info.completion}
        if job.started_at is None:
            changes["started_at"] = now_iso()
        return journal.update(job.id, **changes)
    try:
        stats = client.file_info(job.remote_file)
    except PrinterNotFound:
        if job.outcome == UPLOADING and _age_s(job.created_at) < UPLOAD_GRACE_S:
            return job
        return journal.finish(job.id, LOST, f"file {job.remote_file} is no longer on printer {job.printer}")
    except PrinterError:
        return job
    if stats.prints_success + stats.prints_failure == 0:
        if ours and info.state in ERROR_STATES:
            return journal.finish(job.id, FAILED, info.error or info.state_text or "printer error")
        if job.outcome == UPLOADING and _age_s(job.created_at) < UPLOAD_GRACE_S:
            return job
        if job.outcome == PRINTING and _age_s(job.started_at or job.created_at) < START_GRACE_S:
            return job
        return journal.finish(job.id, LOST, f"printer {job.printer} shows no print of {job.remote_file}")
    if job.started_at is None:
        journal.update(job.id, started_at=now_iso())
    if stats.last_success:
        return journal.finish(job.id, DONE)
    if (ours or info.file_name is None) and (info.error or info.state in ERROR_STATES):
        # OctoPrint deselects the file after a firmware error: the printer's error is this job's reason
        return journal.finish(job.id, FAILED, info.error or info.state_text)
    if ours and info.completion is None:
        return journal.finish(job.id, CANCELLED, f"cancelled on printer {job.printer}")
    return journal.finish(job.id, FAILED, f"printer {job.printer} recorded the print as failed or cancelled")


def reconcile_active(
    journal: Journal, printers: list[PrinterLike], *, only: str | None = None
) -> dict[str, str]:
    """Reconcile every active job whose printer is in ``printers`` (or just printer ``only``).

    Returns ``{printer name: problem}`` for printers that could not be asked (unknown in the fleet, bad
    key source, unreachable): their jobs keep their recorded state."""
    by_name = {p.name: p for p in printers}
    problems: dict[str, str] = {}
    jobs = journal.active_jobs(only)
    for name in sorted({j.printer for j in jobs if j.printer}):
        printer = by_name.get(name)
        if printer is None:
            problems[name] = "not in the fleet file"
            continue
        try:
            with printer.client() as client:
                for job in (j for j in jobs if j.printer == name):
                    reconcile_job(journal, job, client)
        except HospfabError as err:
            problems[name] = err.message
    return problems


def watch_job(
    journal: Journal,
    job_id: str,
    client: Any,
    on_update: Callable[[Job, Any], None] | None = None,
    *,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> Job:
    """Poll the printer until the job has a final outcome; ``on_update(job, job_info_or_None)`` each time."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    job = journal.get(job_id)
    while True:
        job = reconcile_job(journal, job, client)
        info = None
        if job.active:
            try:
                info = client.job()
            except PrinterError:
                info = None
        if on_update is not None:
            on_update(job, info)
        if not job.active:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            raise PrinterError(f"job {job.id}: still {job.outcome} on {job.printer} after {timeout_s:g} s")
        time.sleep(poll_s)


def cancel_job(journal: Journal, job_id: str, printer: PrinterLike, operator: str) -> Job:
    """Cancel an active job on its printer and record it (``cancelled``, by whom)."""
    from hospfab.octoprint.states import JOB_ACTIVE_STATES

    job = journal.get(job_id)
    with printer.client() as client:
        job = reconcile_job(journal, job, client)
        if not job.active:
            return job
        if job.outcome == UPLOADING:
            raise PrinterError(f"job {job.id}: still being uploaded to {job.printer}; try again in a moment")
        info = client.job()
        if info.file_name == job.remote_file and info.state in JOB_ACTIVE_STATES:
            client.cancel()
            _wait_not_busy(client, CANCEL_SETTLE_S)
        elif job.outcome == PRINTING:
            raise PrinterError(
                f"job {job.id}: printer {job.printer} is not running it (it shows {info.state_text!r}); "
                "nothing cancelled"
            )
        return journal.finish(job.id, CANCELLED, f"cancelled by {operator}")


def _wait_not_busy(client: Any, timeout_s: float) -> None:
    from hospfab.octoprint.states import BUSY_STATES, State

    try:
        client.wait_for(frozenset(State) - BUSY_STATES, timeout_s)
    except PrinterError:
        pass  # the cancel was accepted; the printer is just slow to settle
