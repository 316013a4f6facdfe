"""Bring journal jobs to their outcome from what OctoPrint says (state, selected file, file print statistics).

A job started by a process that has since exited is still reconciled by the next ``jobs list/show``,
``print`` or ``printers cleared``. Rules (FIELD-NOTES: a short job may be in Printing for only ~0.1 s, so the
per-file statistics of the job's unique remote file are the reliable signal):

- the printer is busy with the job's file: ``printing`` (progress recorded);
- the file's statistics show a print: last print succeeded -> ``done``; failed -> ``failed`` with the
  printer's error, or ``cancelled`` when the printer shows a cancelled job (no error, progress cleared);
- the file is gone from the printer -> ``lost``; nothing ever printed after a grace period -> ``lost``;
- ``unknown`` (a send whose answer was lost while the printer could not be asked): resolved the same way; its
  file on the printer, never printed and not running, is deleted first (once deleted it can never start),
  then the job is ``lost`` ("not printed");
- the printer cannot be reached: the job stays as it is (nothing is guessed) and :class:`PrinterError` is
  raised, so callers can say which printers they could not ask.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from hospfab.errors import HospfabError, PrinterError
if TYPE_CHECKING:
    from hospfab.octoprint.client import OctoPrintClient

from hospfab.journal import CANCELLED, DONE, FAILED, LOST, PRINTING, UNKNOWN, UPLOADING, Job, Journal
from hospfab.journal.store import NOW

#: A job still "uploading" (its process may still be sending the file) is left alone for this long.
UPLOAD_GRACE_S = 120.0
#: A "printing" job whose printer shows neither it running nor a print of its file, is lost after this long.
START_GRACE_S = 60.0
#: After a cancel, how long to wait for the printer to leave Cancelling (it finishes the current command).
CANCEL_SETTLE_S = 15.0
#: Answer timeout when asking printers about jobs (listing, watching, choosing): one silent printer costs this.
ASK_TIMEOUT_S = 3.0
#: ``print --wait`` and ``jobs watch`` stop waiting (exit 3) after a printer stayed silent this long.
GIVE_UP_S = 120.0


class PrinterLike(Protocol):
    """What the printing code needs from a fleet printer (``hospfab.fleet.PrinterConfig``)."""

    name: str
    url: str
    profile: str
    material: str
    material_lot: str | None
    bed_clearing: str

    def client(self, **kwargs: Any) -> OctoPrintClient: ...


def _age_s(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()


def reconcile_job(journal: Journal, job: Job, client: OctoPrintClient) -> Job:
    """Ask the printer about one active job and record what it says. Returns the job as now recorded."""
    from hospfab.octoprint.exceptions import PrinterNotFound
    from hospfab.octoprint.states import ERROR_STATES, JOB_ACTIVE_STATES

    if not job.active or not job.remote_file:
        return job
    info = client.job()  # PrinterError when the printer cannot be asked: the caller says so
    ours = info.file_name == job.remote_file
    if ours and info.state in JOB_ACTIVE_STATES:
        changes: dict[str, Any] = {"outcome": PRINTING, "progress": info.completion}
        if job.started_at is None:
            changes["started_at"] = NOW
        return journal.update(job.id, **changes)
    try:
        stats = client.file_info(job.remote_file)
    except PrinterNotFound:
        if job.outcome in (UPLOADING, UNKNOWN) and _age_s(job.created_at) < UPLOAD_GRACE_S:
            return job
        return journal.finish(job.id, LOST, f"file {job.remote_file} is no longer on printer {job.printer}")
    if job.outcome == UNKNOWN and stats.prints_success + stats.prints_failure == 0 and not ours:
        from hospfab.octoprint.exceptions import PrinterConflict

        try:
            client.delete_file(job.remote_file)  # once deleted it can never start
        except (PrinterConflict, PrinterNotFound):
            return job
        return journal.finish(
            job.id, LOST, f"not printed: {job.remote_file} was on printer {job.printer} but never ran; removed"
        )
    if stats.prints_success + stats.prints_failure == 0:
        if ours and info.state in ERROR_STATES:
            return journal.finish(job.id, FAILED, info.error or info.state_text or "printer error")
        if job.outcome == UPLOADING and _age_s(job.created_at) < UPLOAD_GRACE_S:
            return job
        if job.outcome == PRINTING and _age_s(job.started_at or job.created_at) < START_GRACE_S:
            return job
        return journal.finish(job.id, LOST, f"printer {job.printer} shows no print of {job.remote_file}")
    if job.started_at is None:
        journal.update(job.id, started_at=NOW)
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
    """Reconcile every active job whose printer is in ``printers`` (or just printer ``only``), asking the
    printers concurrently with a short timeout (``ASK_TIMEOUT_S``, no retry).

    Returns ``{printer name: problem}`` for printers that could not be asked (unknown in the fleet, bad
    key source, unreachable, silent): their jobs keep their recorded state."""
    from concurrent.futures import ThreadPoolExecutor

    by_name = {p.name: p for p in printers}
    problems: dict[str, str] = {}
    jobs = journal.active_jobs(only)
    names = sorted({j.printer for j in jobs if j.printer})
    for name in names:
        if name not in by_name:
            problems[name] = "not in the fleet file"

    def ask(name: str) -> str | None:
        own = Journal(journal.path)  # one connection per thread
        try:
            with by_name[name].client(read_timeout=ASK_TIMEOUT_S, retries=0) as client:
                for job in (j for j in jobs if j.printer == name):
                    reconcile_job(own, job, client)
        except HospfabError as err:
            return err.message
        finally:
            own.close()
        return None

    asked = [n for n in names if n in by_name]
    if asked:
        with ThreadPoolExecutor(max_workers=min(16, len(asked))) as pool:
            for name, problem in zip(asked, pool.map(ask, asked)):
                if problem is not None:
                    problems[name] = problem
    return problems


class WaitAbandoned(PrinterError):
    """The printer stayed silent for the give-up time: the wait stops, the job is left to reconciliation."""

    code = "wait_abandoned"


def watch_job(
    journal: Journal,
    job_id: str,
    client: OctoPrintClient,
    on_update: Callable[[Job, Any, float], None] | None = None,
    *,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    give_up_s: float = GIVE_UP_S,
) -> Job:
    """Poll the printer until the job has a final outcome; ``on_update(job, job_info_or_None, silent_s)``
    each time (``silent_s``: how long the printer has not answered, 0 when it answers).

    Raises :class:`WaitAbandoned` (exit 3) when the printer has not answered for ``give_up_s``: the job keeps
    its recorded state and is reconciled when the printer answers again."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    job = journal.get(job_id)
    silent_since: float | None = None
    last_problem = ""
    while True:
        info = None
        try:
            job = reconcile_job(journal, job, client)
            if job.active:
                info = client.job()
            silent_since = None
        except PrinterError as err:
            last_problem = err.message
            if silent_since is None:
                silent_since = time.monotonic()
        silent_s = 0.0 if silent_since is None else time.monotonic() - silent_since
        if on_update is not None:
            on_update(job, info, silent_s)
        if not job.active:
            return job
        if silent_since is not None and silent_s >= give_up_s:
            raise WaitAbandoned(
                f"job {job.id}: printer {job.printer} has not answered for {give_up_s:g} s ({last_problem}); "
                f"stopped waiting. The job stays {job.outcome} in the journal; `hospfab jobs show {job.id}` "
                "records its outcome once the printer answers",
                details={"job_id": job.id, "state": job.outcome},
            )
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


def _wait_not_busy(client: OctoPrintClient, timeout_s: float) -> None:
    from hospfab.octoprint.states import BUSY_STATES, State

    try:
        client.wait_for(frozenset(State) - BUSY_STATES, timeout_s)
    except PrinterError:
        pass  # the cancel was accepted; the printer is just slow to settle
