"""``print --wait-for-printer``: wait until a compatible printer is free, then print through the usual path.

:func:`print_when_free` is for people and schedulers alike:

1. the revision is resolved and verified first (manifest, signature, status), before any printer is contacted;
2. printers that can never take it (no recipe for their profile, wrong material, test-only recipe) are left
   out at once; when none is left, :class:`~hospfab.printing.choose.NoPrinterAvailable` gives every reason
   (exit 3) without waiting;
3. every ``poll_s`` it tries :func:`~hospfab.printing.send.print_reference` on the compatible printers (which
   verifies again, assesses, claims and sends exactly as a plain ``print``); a printer whose refusal is
   permanent (API key refused) is no longer waited on, and when no printer is left the wait ends (exit 3);
4. between tries ``on_wait`` receives a :class:`Waiting` (what it waits for and, from the busy printers'
   OctoPrint ``printTimeLeft``, when the first should be free);
5. after ``timeout_s`` it gives up with :class:`WaitTimedOut` (exit 3, the last reason of every printer);
   Ctrl-C while waiting raises :class:`WaitInterrupted` (exit 130): nothing was sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hospfab.errors import HospfabError, NotFoundError, PrinterError
from hospfab.journal import Journal
from hospfab.printing.choose import Assessment, NoPrinterAvailable, _static_reason, no_printer_error
from hospfab.printing.reconcile import ASK_TIMEOUT_S, PrinterLike
from hospfab.printing.send import PrintOptions, PrintResult, print_reference, resolve_for_print

#: Seconds between two looks at the fleet while waiting.
DEFAULT_POLL_S = 10.0
#: Seconds after which a wait gives up (exit 3).
DEFAULT_TIMEOUT_S = 3600.0
#: Assessment states after which a printer is not waited on: its refusal does not go away by waiting.
PERMANENT_STATES = frozenset({"key refused"})


class WaitTimedOut(NoPrinterAvailable):
    """No compatible printer became free in time; ``details['printers']`` has the last reasons (exit 3)."""

    code = "wait_timed_out"


class WaitInterrupted(HospfabError):
    """Ctrl-C while waiting for a printer: nothing was sent (exit 130)."""

    code = "interrupted"
    exit_code = 130  # type: ignore[assignment]


@dataclass
class Waiting:
    """One look at the fleet while waiting: the printers waited on, each with its reason and time left."""

    spec: str
    elapsed_s: float
    timeout_s: float
    printers: list[dict[str, Any]] = field(default_factory=list)  # printer, reason, state, time_left_s

    @property
    def eta_s(self) -> float | None:
        """Seconds until the first busy printer should be free (OctoPrint's estimate), None when unknown."""
        lefts = [p["time_left_s"] for p in self.printers if p.get("time_left_s") is not None]
        return min(lefts) if lefts else None

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.timeout_s - self.elapsed_s)

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "elapsed_s": round(self.elapsed_s, 1), "timeout_s": self.timeout_s,
                "eta_s": self.eta_s, "printers": self.printers}


def compatible(revision: Any, printers: list[PrinterLike]) -> tuple[list[PrinterLike], list[Assessment]]:
    """The printers that could ever take ``revision`` (recipe and material), and a verdict for the others."""
    fits, others = [], []
    for printer in printers:
        _recipe, reason = _static_reason(printer, revision)
        if reason is None:
            fits.append(printer)
        else:
            others.append(Assessment(printer, None, reason))
    return fits, others


def time_left_s(printer: PrinterLike) -> float | None:
    """OctoPrint's estimate of the time left of the printer's current job, None when unknown or idle."""
    from hospfab.octoprint.states import JOB_ACTIVE_STATES

    try:
        with printer.client(read_timeout=ASK_TIMEOUT_S, retries=0) as client:
            info = client.job()
    except HospfabError:
        return None
    if info.state not in JOB_ACTIVE_STATES or info.print_time_left_s is None:
        return None
    return max(0.0, float(info.print_time_left_s))


def print_when_free(
    catalog: Any,
    printers: list[PrinterLike],
    journal: Journal,
    spec: str,
    options: PrintOptions | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_wait: Callable[[Waiting], None] | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PrintResult:
    """Print ``spec`` on the first compatible printer to be free, waiting at most ``timeout_s`` (see the module
    docstring). Raises what :func:`print_reference` raises, plus :class:`WaitTimedOut` and
    :class:`WaitInterrupted`."""
    options = options or PrintOptions()
    clock, sleep = clock or time.monotonic, sleep or time.sleep
    if timeout_s <= 0 or poll_s <= 0:
        raise ValueError("timeout_s and poll_s must be positive")
    # verification first: no printer is contacted for a revision that would be refused
    revision, _ = resolve_for_print(catalog, spec, allow_draft=options.allow_draft)
    if options.printer is not None:
        printers = [p for p in printers if p.name == options.printer]
        if not printers:
            raise NotFoundError(f"printer {options.printer}: not in the fleet file")
    order = {p.name: index for index, p in enumerate(printers)}
    candidates, never = compatible(revision, printers)
    if not candidates:
        raise no_printer_error(revision.spec, never)
    start = clock()
    last: dict[str, dict[str, Any]] = {}  # the last reason of every compatible printer, in fleet order
    while True:
        try:
            return print_reference(catalog, candidates, journal, spec, options)
        except NoPrinterAvailable as err:
            rows = list(err.details.get("printers", []))
        last.update((row["printer"], row) for row in rows)
        refused = {row["printer"] for row in rows if row.get("state") in PERMANENT_STATES}
        candidates = [p for p in candidates if p.name not in refused]
        if not candidates:
            raise _ended(NoPrinterAvailable, f"no printer can take {revision.spec}", last, never, order)
        elapsed = clock() - start
        if elapsed >= timeout_s:
            raise _ended(WaitTimedOut, f"no compatible printer became free for {revision.spec} in "
                                       f"{_minutes(timeout_s)}", last, never, order)
        try:
            waited = [dict(row, time_left_s=_time_left(candidates, row)) for row in rows
                      if row["printer"] not in refused]
            if on_wait is not None:
                on_wait(Waiting(revision.spec, elapsed, timeout_s, waited))
            sleep(max(0.0, min(poll_s, timeout_s - (clock() - start))))
        except KeyboardInterrupt:
            raise WaitInterrupted(f"stopped waiting for a printer for {revision.spec}; nothing was sent") from None


def _time_left(candidates: list[PrinterLike], row: dict[str, Any]) -> float | None:
    journal_busy = str(row.get("reason") or "").endswith("on it (journal)")
    if not journal_busy and row.get("state") in (None, "unreachable", *PERMANENT_STATES):
        return None  # not answering, or waiting for a person (bed clearing): no estimate to ask for
    printer = next((p for p in candidates if p.name == row["printer"]), None)
    return time_left_s(printer) if printer is not None else None


def _ended(kind: type[PrinterError], lead: str, last: dict[str, dict[str, Any]], never: list[Assessment],
           order: dict[str, int]) -> PrinterError:
    """The error that ends a wait, with the last reason of every printer in fleet order."""
    every = list(last.values()) + [a.as_dict() for a in never]
    every.sort(key=lambda row: order.get(row["printer"], len(order)))
    summary = "; ".join(f"{row['printer']}: {row['reason']}" for row in every)
    return kind(f"{lead}: {summary}", details={"printers": every})


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min"
