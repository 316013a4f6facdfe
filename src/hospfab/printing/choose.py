"""Choosing a printer for a revision, with a reason for every printer passed over.

A printer can take the job when: it has a recipe for its profile in the revision; the recipe's material is
loaded; the journal shows no active job on it; for ``bed_clearing: manual``, its bed was confirmed clear since
its last job; a recipe made for a test-only printer profile only on a printer marked ``test_printer``; and
OctoPrint says it is operational and idle. Static checks come first (no network); printers that pass them are
asked concurrently (journal reconciliation and live state, one thread per printer), each with one short answer
timeout and no retry: a printer that accepts connections and never answers costs ``ASK_TIMEOUT_S`` once, not
the retries of a normal request.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hospfab.errors import HospfabError, PrinterError
from hospfab.journal import Journal
from hospfab.printing.reconcile import ASK_TIMEOUT_S, PrinterLike, reconcile_job

if TYPE_CHECKING:
    from hospfab.catalog.store import Recipe, Revision

MAX_WORKERS = 32


@dataclass
class Assessment:
    """One printer's verdict for a revision: ``recipe`` set and ``reason`` None when it can take the job."""

    printer: PrinterLike
    recipe: Recipe | None = None
    reason: str | None = None
    state: str | None = None

    @property
    def eligible(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "printer": self.printer.name,
            "profile": self.printer.profile,
            "material": self.printer.material,
            "state": self.state,
            "eligible": self.eligible,
            "reason": self.reason,
        }


class NoPrinterAvailable(PrinterError):
    """No printer of the fleet can take the job; ``details['printers']`` says why for each (exit 3)."""

    code = "no_printer_available"


def _static_reason(printer: PrinterLike, revision: Revision) -> tuple[Recipe | None, str | None]:
    recipes = [r for r in revision.recipes if r.printer == printer.profile]
    if not recipes:
        have = ", ".join(sorted({r.printer for r in revision.recipes})) or "none"
        return None, f"no recipe for profile {printer.profile} in {revision.ref}@{revision.rev} (recipes: {have})"
    if not getattr(printer, "test_printer", False):
        real = [r for r in recipes if not getattr(r, "test_only", False)]
        if not real:
            return None, f"the recipe for {printer.profile} is for a test-only profile: only a fleet printer " \
                         f"marked test_printer may print it"
        recipes = real
    for recipe in recipes:
        if recipe.material == printer.material:
            return recipe, None
    needed = "/".join(sorted({r.material for r in recipes}))
    return None, f"material {printer.material} loaded, the recipe needs {needed}"


def _live_reason(journal_path: Any, printer: PrinterLike) -> tuple[str | None, str | None]:
    """Reconcile the printer's active journal jobs, then check bed and state. Returns (reason, state)."""
    journal = Journal(journal_path)  # one connection per thread
    try:
        # a deadline per printer: one short answer timeout, no retry (a silent printer costs ASK_TIMEOUT_S once)
        with printer.client(read_timeout=ASK_TIMEOUT_S, retries=0) as client:
            for job in journal.active_jobs(printer.name):
                try:
                    reconcile_job(journal, job, client)
                except PrinterError as err:
                    why = err.message.removeprefix(f"printer {printer.name}: ")
                    return f"job {job.id} is {job.outcome} on it (journal); the printer cannot be asked: {why}", None
            busy = journal.active_on(printer.name)
            if busy is not None:
                return f"job {busy.id} is {busy.outcome} on it (journal)", None
            if printer.bed_clearing == "manual" and not journal.bed_clear(printer.name):
                return (
                    f"bed not confirmed clear since its last job (run `hospfab printers cleared {printer.name}`)",
                    None,
                )
            state = client.printer_state()
            label = state.text or state.state.value
            if not state.is_idle:
                if state.is_busy:
                    return f"busy: {label}", label
                detail = f" ({state.error})" if state.error else ""
                return f"not operational: {label}{detail}", label
            return None, label
    except HospfabError as err:
        from hospfab.octoprint.exceptions import PrinterAuthRefused, PrinterUnreachable

        kinds: dict[type[HospfabError], str] = {PrinterUnreachable: "unreachable", PrinterAuthRefused: "key refused"}
        kind = kinds.get(type(err))
        return err.message.removeprefix(f"printer {printer.name}: "), kind
    finally:
        journal.close()


def assess_printers(journal: Journal, printers: list[PrinterLike], revision: Revision) -> list[Assessment]:
    """A verdict for every printer, in fleet order."""
    verdicts = []
    for printer in printers:
        recipe, reason = _static_reason(printer, revision)
        verdicts.append(Assessment(printer, recipe, reason))
    live = [v for v in verdicts if v.eligible]
    if live:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(live))) as pool:
            results = list(pool.map(lambda v: _live_reason(journal.path, v.printer), live))
        for verdict, (reason, state) in zip(live, results):
            verdict.reason, verdict.state = reason, state
            if reason is not None:
                verdict.recipe = None
    return verdicts


def no_printer_error(spec: str, verdicts: list[Assessment]) -> NoPrinterAvailable:
    summary = "; ".join(f"{v.printer.name}: {v.reason}" for v in verdicts) or "the fleet has no printers"
    return NoPrinterAvailable(
        f"no printer can take {spec}: {summary}",
        details={"printers": [v.as_dict() for v in verdicts]},
    )
