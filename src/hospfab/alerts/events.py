"""Events derived from the database's state, not from in-process callbacks.

:func:`collect` reads what changed since its cursor (``plate_events`` ids), the jobs and lots, and optionally
the printers' live states and the lots' forecasts, and records each event once (stable keys). Anyone may run
it (the queue runner's hook, ``hospfab serve``, ``hospfab alerts run``): a restart neither loses nor resends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hospfab.alerts.store import AlertStore, Event

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig
    from hospfab.fleet.status import PrinterStatus
    from hospfab.journal import Journal
    from hospfab.queue.store import QueueStore

PLATE_CURSOR = "cursor:plate_events"
_ATTEMPT_END = re.compile(r"^(failed|lost|cancelled) on (\S+): (.*)$", re.S)


def _minutes_since(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds() / 60


def plate_events(rows: Iterable[dict[str, Any]]) -> list[Event]:
    """Events of plate transitions: an attempt that ended badly (failed, lost: the printer too)."""
    out: list[Event] = []
    for row in rows:
        match = _ATTEMPT_END.match(row.get("note") or "")
        if row["from_state"] not in ("dispatching", "printing") or row["to_state"] not in ("queued", "failed"):
            continue
        if match is None:
            continue
        outcome, printer, reason = match.groups()
        requeued = row["to_state"] == "queued"
        then = "queued again" if requeued else "no attempt left: failed"
        details = {"outcome": outcome, "reason": reason, "requeued": requeued}
        out.append(Event(f"plate_failed:{row['plate_id']}:{row['job_id']}", "plate_failed",
                         f"Plate {row['plate_id']} {outcome} on {printer}: {reason}; {then}.", row["at"],
                         printer, row["plate_id"].rsplit("-", 1)[0], row["plate_id"], details))  # fmt: skip
        if outcome == "lost":
            out.append(Event(f"printer_lost:{printer}:{row['job_id']}", "printer_lost",
                             f"Printer {printer} lost during plate {row['plate_id']}: {reason}.", row["at"],
                             printer, None, row["plate_id"], {"reason": reason}))  # fmt: skip
    return out


def collect(
    alerts: AlertStore,
    store: QueueStore,
    journal: Journal,
    *,
    channels: list[str],
    printers: Iterable[PrinterConfig] = (),
    statuses: Iterable[PrinterStatus] | None = None,
    at_risk: dict[str, str] | None = None,
    bed_wait_min: float = 30.0,
) -> list[Event]:
    """Record the events that happened since the last call; returns the new ones.

    ``printers``: fleet printer configs (for bed waits); ``statuses``: their live states (printer in error),
    ``at_risk``: lot id -> why its deadline will be missed (from :mod:`hospfab.web.status`)."""
    new: list[Event] = []

    def add(event: Event) -> None:
        if alerts.record(event, channels):
            new.append(event)

    cursor = int(alerts.mark(PLATE_CURSOR) or 0)
    rows = [r for r in store.events() if r["id"] > cursor]
    for event in plate_events(rows):
        add(event)
    touched = {r["plate_id"].rsplit("-", 1)[0] for r in rows}
    for lot in store.lots():
        if lot.id in touched and lot.state == "open" and lot.finished and lot.plates:
            add(Event(f"lot_done:{lot.id}", "lot_done",
                      f"Lot {lot.id} ({lot.ref}@{lot.revision}) finished: {lot.units_made} of {lot.quantity} units"
                      f" made, {lot.count('failed')} plates failed.", lot_id=lot.id,
                      details={"units_made": lot.units_made, "quantity": lot.quantity}))  # fmt: skip
    if rows:
        alerts.set_mark(PLATE_CURSOR, str(max(r["id"] for r in rows)))

    for printer in printers:
        if getattr(printer, "bed_clearing", "manual") == "automatic" or journal.active_on(printer.name):
            continue
        if journal.bed_clear(printer.name):
            continue
        last = journal.jobs(printer=printer.name, limit=1)
        since = (last[0].ended_at or last[0].started_at) if last else None
        waited = _minutes_since(since)
        if since and waited >= bed_wait_min:
            add(Event(f"bed_wait:{printer.name}:{last[0].id}", "bed_wait",
                      f"Printer {printer.name} has waited {waited:.0f} min for its bed to be cleared "
                      f"(since {since[11:16]} UTC): run `hospfab printers cleared {printer.name}`.",
                      printer=printer.name, details={"since": since}))  # fmt: skip

    for status in statuses or ():
        mark = f"printer_error:{status.name}"
        if status.ok:
            if alerts.mark(mark):
                alerts.set_mark(mark, None)
            continue
        since = alerts.mark(mark)
        if since is None:
            since = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            alerts.set_mark(mark, since)
        what = status.state_text or "unreachable"
        add(Event(f"printer_error:{status.name}:{since}", "printer_error",
                  f"Printer {status.name} is {what}" + (f": {status.error}" if status.error else "") + ".",
                  printer=status.name, details={"state": what, "error": status.error}))  # fmt: skip

    for lot_id, why in (at_risk or {}).items():
        add(Event(f"lot_at_risk:{lot_id}", "lot_at_risk", f"Lot {lot_id}: deadline at risk: {why}.",
                  lot_id=lot_id, details={"why": why}))  # fmt: skip
    return new


def runner_stopped(alerts: AlertStore, runner: str, reason: str, summary: dict[str, Any], *,
                   channels: list[str]) -> Event:
    """Record that a queue runner stopped (called by whoever ran it, once it has returned)."""
    event = Event(f"runner_stopped:{runner}", "runner_stopped",
                  f"Queue runner stopped ({reason}): {summary.get('dispatched', 0)} plates started, "
                  f"{summary.get('done', 0)} done, {summary.get('failed', 0)} failed.", details=dict(summary))
    alerts.record(event, channels)
    return event
