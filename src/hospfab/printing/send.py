"""``print REF[@REV]``: resolve, verify, choose a printer, claim it, upload, start, confirm, record.

The order matters for safety:

1. the revision is resolved and verified (manifest + signature); drafts and retired revisions are refused
   unless ``allow_draft`` (then recorded as an override in the job);
2. printers are assessed (recipe, material, journal, bed, live state); when none can take the job,
   :class:`~hospfab.printing.choose.NoPrinterAvailable` lists why for each (exit 3);
3. the build file of each usable recipe is copied to a private staging file while hashing it, and that copy
   is compared with the recipe's sha256: the bytes uploaded are exactly the bytes checked;
4. the printer is claimed in the journal (``BEGIN IMMEDIATE``): two concurrent prints never get one printer;
5. the file is uploaded under a unique name holding the job id, with ``print=true``; ``effectivePrint`` is
   checked (OctoPrint answers 201 even when it did not start), and the job is recorded as printing;
6. an ambiguous answer (timeout, dropped connection, truncated body, 5xx, 409, Ctrl-C, a local failure) is
   never taken as a failure: the printer is asked (:mod:`hospfab.printing.confirm`) and the job recorded as
   printing, failed ("not sent"), or ``unknown`` (printer kept claimed) when it cannot be asked.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.errors import HospfabError, IntegrityError, NotFoundError, PrinterError, SafetyError
from hospfab.journal.db import JournalError
from hospfab.journal import FAILED, PRINTING, UNKNOWN, UPLOADING, Job, Journal, new_job_id, now_iso
from hospfab.journal.store import NOW
from hospfab.printing.choose import Assessment, assess_printers, no_printer_error
from hospfab.printing.reconcile import ASK_TIMEOUT_S, PrinterLike

if TYPE_CHECKING:
    from hospfab.catalog.store import Catalog, Recipe, Revision
    from hospfab.octoprint.client import OctoPrintClient


@dataclass
class PrintOptions:
    printer: str | None = None  # only this printer
    operator: str | None = None  # default: $HOSPFAB_OPERATOR, then the login name
    material_lot: str | None = None  # default: the printer's material_lot in the fleet file
    allow_draft: bool = False  # print a draft or retired revision (recorded as an override)
    dry_run: bool = False  # choose a printer, send nothing


@dataclass
class PrintResult:
    revision: Revision
    recipe: Recipe
    printer: PrinterLike
    job: Job | None  # None for a dry run
    assessments: list[Assessment] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "job_id": job.id if job else None,
            "ref": self.revision.ref,
            "revision": self.revision.rev,
            "status": self.revision.status,
            "printer": self.printer.name,
            "printer_url": self.printer.url,
            "file": job.remote_file if job else None,
            "build_file": str(self.recipe.build_file),
            "sha256": self.recipe.sha256,
            "material": self.printer.material,
            "material_lot": job.material_lot if job else None,
            "operator": job.operator if job else None,
            "state": job.outcome if job else "dry-run",
            "note": job.reason if job else None,  # e.g. the answer to the upload was lost, the printer confirmed
            "overrides": self.overrides,
            "estimates": dict(self.recipe.estimates),
            "printers": [a.as_dict() for a in self.assessments],
        }


def default_operator() -> str:
    return os.environ.get("HOSPFAB_OPERATOR") or getpass.getuser()


def resolve_for_print(catalog: Any, spec: str, *, allow_draft: bool) -> tuple[Any, dict[str, Any]]:
    """The revision to print and the overrides used. Raises SafetyError/IntegrityError (exit 4)."""
    from hospfab.catalog.store import parse_spec

    try:
        revision = catalog.resolve(spec)  # an unknown reference names the closest ones ("did you mean ...?")
    except SafetyError as err:
        ref, rev = parse_spec(spec)
        if not (allow_draft and rev is None and err.code == "not_validated"):
            raise
        revision = catalog.get(ref).latest
    overrides: dict[str, Any] = {}
    if revision.status != "validated":
        if not allow_draft:
            raise catalog.refusal(revision)  # names the current validated revision first
        overrides = {"allow_draft": True, "status": revision.status}
    # files, part metadata, signatures (site trust store), approval policy, signed index (no rollback)
    catalog.verify_revision(revision, unsigned_ok=bool(overrides))
    return revision, overrides


def stage_build_file(recipe: Recipe, folder: Path) -> Path:
    """Copy the recipe's build file into ``folder`` while hashing it; refuse it unless it matches."""
    source = Path(recipe.build_file)
    staged = folder / source.name
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as src, open(staged, "wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                dst.write(block)
    except FileNotFoundError:
        raise IntegrityError(f"{source}: build file missing") from None
    except OSError as err:
        raise IntegrityError(f"{source}: build file unreadable ({err.strerror})") from None
    if digest.hexdigest() != recipe.sha256:
        raise IntegrityError(f"{source}: sha256 differs from the validated recipe; refused")
    return staged


def remote_name(revision: Revision, job_id: str) -> str:
    """A unique G-code name on the printer (OctoPrint keeps print statistics per file name)."""
    return f"{revision.ref}-r{revision.rev}-{job_id}.gcode"


def print_reference(
    catalog: Catalog, printers: list[PrinterLike], journal: Journal, spec: str, options: PrintOptions | None = None
) -> PrintResult:
    """Print ``spec`` on the first printer of ``printers`` that can take it (see module docstring)."""
    options = options or PrintOptions()
    revision, overrides = resolve_for_print(catalog, spec, allow_draft=options.allow_draft)
    if options.printer is not None:
        printers = [p for p in printers if p.name == options.printer]
        if not printers:
            raise NotFoundError(f"printer {options.printer}: not in the fleet file")
    staging = Path(tempfile.mkdtemp(prefix="hospfab-print-"))
    try:
        verdicts = assess_printers(journal, printers, revision)
        # an eligible verdict always names its recipe
        eligible = [(v, v.recipe) for v in verdicts if v.eligible and v.recipe is not None]
        recipes: dict[int, Path] = {}  # only the recipes that may be sent are copied and hashed
        for _verdict, recipe in eligible:
            if id(recipe) not in recipes:
                recipes[id(recipe)] = stage_build_file(recipe, _subdir(staging, len(recipes)))
        if options.dry_run and eligible:
            first, recipe = eligible[0]
            return PrintResult(revision, recipe, first.printer, None, verdicts, overrides)
        for verdict, recipe in eligible:
            job = _new_job(revision, verdict.printer, recipe, options, overrides)
            try:
                journal.claim(job, require_bed_clear=verdict.printer.bed_clearing == "manual")
            except PrinterError as err:  # another print claimed it since we looked
                verdict.reason = err.message
                continue
            except JournalError as err:
                raise JournalError(f"{err.message}; nothing was sent to any printer") from None
            job = _send(journal, job, verdict.printer, recipes[id(recipe)])
            return PrintResult(revision, recipe, verdict.printer, job, verdicts, overrides)
        raise no_printer_error(revision.spec, verdicts)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _subdir(root: Path, index: int) -> Path:
    folder = root / str(index)
    folder.mkdir()
    return folder


def _new_job(revision: Revision, printer: PrinterLike, recipe: Recipe, options: PrintOptions,
             overrides: dict[str, Any]) -> Job:
    job_id = new_job_id()
    return Job(
        id=job_id,
        ref=revision.ref,
        revision=revision.rev,
        build_file=Path(recipe.build_file).name,
        sha256=recipe.sha256,
        printer=printer.name,
        printer_url=printer.url,
        printer_profile=printer.profile,
        material=printer.material,
        material_lot=options.material_lot or printer.material_lot,
        operator=options.operator or default_operator(),
        created_at=now_iso(),
        outcome=UPLOADING,
        overrides=dict(overrides),
        remote_file=remote_name(revision, job_id),
    )


class PrintNotSent(PrinterError):
    """The printer did not start the job (nothing prints); the job is recorded ``failed`` ("not sent")."""

    code = "print_not_sent"


class PrintOutcomeUnknown(PrinterError):
    """The send may have started a print and the printer could not be asked: the job is recorded ``unknown``,
    the printer stays claimed; ``details['job_id']`` names the job to check before any retry (exit 3)."""

    code = "print_outcome_unknown"


class PrintInterrupted(HospfabError):
    """Ctrl-C during the send; the message says what the printer shows (exit 130)."""

    code = "interrupted"
    exit_code = 130  # type: ignore[assignment]


def _send(journal: Journal, job: Job, printer: PrinterLike, staged: Path) -> Job:
    """Upload and start ``job``; every ending is recorded truthfully (see :func:`send_attempt`)."""
    userdata = {
        "hospfab": {"job_id": job.id, "ref": job.ref, "revision": job.revision, "sha256": job.sha256,
                    "operator": job.operator}
    }  # fmt: skip
    with printer.client() as client:
        return send_attempt(journal, job, printer, client, staged, userdata)


def send_attempt(journal: Journal, job: Job, printer: PrinterLike, client: OctoPrintClient, staged: Path,
                 userdata: dict[str, Any]) -> Job:
    """Send one attempt (a claimed job, unique remote name) and record how it ended.

    - started (``effectivePrint``, or confirmed by the printer after an ambiguous answer): ``printing``;
    - not sent (nothing reached the printer, it did not start the file, or it shows no trace of it after an
      ambiguous answer): ``failed`` with a reason starting "not sent", :class:`PrintNotSent` raised;
    - unknown (ambiguous answer and the printer cannot be asked): ``unknown``, the printer stays claimed,
      :class:`PrintOutcomeUnknown` raised; reconciliation decides later.
    Ctrl-C during the send is ambiguous too: the printer is asked, the outcome recorded, then
    :class:`PrintInterrupted` says what it shows.
    """
    from hospfab.octoprint.exceptions import PrinterAuthRefused, PrinterUnreachable
    from hospfab.printing.confirm import NOT_SENT, SENT, confirm_send

    remote = job.remote_file
    if remote is None:
        raise ValueError(f"job {job.id}: no remote file name; every attempt is claimed with one")
    interrupted = False
    try:
        result = client.upload(staged, remote, userdata=userdata, select=True, print_=True)
    except (PrinterUnreachable, PrinterAuthRefused) as err:  # refused before anything was stored
        return _not_sent(journal, job, err.message, "")
    except PrinterError as err:
        if err.code == "printer_request_invalid":
            return _not_sent(journal, job, err.message, "")
        failure = err.message
    except KeyboardInterrupt:
        interrupted, failure = True, "interrupted during the upload"
    except Exception as err:  # noqa: BLE001 - a local failure after the request may have left
        failure = f"local failure during the upload ({type(err).__name__})"
    else:
        if result.effective_print:
            return _recorded(journal, job, PRINTING, started_at=NOW, remote_file=result.name)
        _delete_quietly(client, result.name)
        return _not_sent(journal, job, f"printer {printer.name} did not start {result.name}",
                         " (busy or not operational)")
    with printer.client(read_timeout=ASK_TIMEOUT_S, retries=1) as asker:
        verdict = confirm_send(asker, remote)
    if verdict.kind == SENT:
        recorded = _recorded(journal, job, PRINTING, started_at=NOW,
                             reason=f"answer to the upload lost ({failure}); {verdict.detail}")
        if interrupted:
            raise PrintInterrupted(
                f"interrupted; job {job.id} IS PRINTING on {printer.name} ({verdict.detail}); recorded as printing",
                details={"job_id": job.id, "state": recorded.outcome},
            )
        return recorded
    if verdict.kind == NOT_SENT:
        if interrupted:
            _record_not_sent(journal, job, failure, f"; {verdict.detail}")
            raise PrintInterrupted(
                f"interrupted; job {job.id} was not started on {printer.name} ({verdict.detail})",
                details={"job_id": job.id, "state": FAILED},
            )
        return _not_sent(journal, job, failure, f"; {verdict.detail}")
    reason = f"{failure}; {verdict.detail}"
    _recorded(journal, job, UNKNOWN, reason=reason)
    message = (
        f"job {job.id}: outcome unknown on printer {printer.name}: {reason}. It may be printing: check the "
        f"printer for {job.remote_file} before any retry; the printer stays reserved until "
        f"`hospfab jobs show {job.id}` can ask it"
    )
    if interrupted:
        raise PrintInterrupted("interrupted; " + message, details={"job_id": job.id, "state": UNKNOWN})
    raise PrintOutcomeUnknown(message, details={"job_id": job.id, "file": job.remote_file})


def _record_not_sent(journal: Journal, job: Job, failure: str, detail: str) -> None:
    journal.finish(job.id, FAILED, f"not sent: {failure}{detail}")


def _not_sent(journal: Journal, job: Job, failure: str, detail: str) -> Job:
    _record_not_sent(journal, job, failure, detail)
    raise PrintNotSent(
        f"job {job.id}: not sent to printer {job.printer}: {failure}{detail}; nothing was started "
        f"(recorded as failed, not sent)",
        details={"job_id": job.id, "reason": f"{failure}{detail}"},
    )


def _recorded(journal: Journal, job: Job, outcome: str, **changes: Any) -> Job:
    """Record the outcome of a send whose printer side is known; a journal that cannot be written is an error
    that says what the printer does (never an internal error)."""
    from hospfab.journal.db import JournalError

    try:
        return journal.update(job.id, outcome=outcome, **changes)
    except JournalError as err:
        started = "IS PRINTING" if outcome == PRINTING else "may be printing"
        # the same class as the cause: a runner that waits out a database outage (DatabaseUnavailable) still
        # recognises it, and reconciles this job from the printer once the database is back
        raise type(err)(
            f"job {job.id} {started} on printer {job.printer} as {job.remote_file}, but the journal could not "
            f"record it ({err.message}); free the space or fix the journal, then `hospfab jobs show {job.id}` "
            "records it from the printer",
            detail=err.detail,
        ) from None


def _delete_quietly(client: OctoPrintClient, name: str) -> None:
    try:
        client.delete_file(name)
    except HospfabError:
        pass
