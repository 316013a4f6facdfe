"""What the night shift needs to see, in one structure: every printer, the lots in progress, the last events.

:func:`fleet_view` asks every printer at once (short timeouts), reads the journal and the queue through their
public APIs, forecasts each open lot with the planner (under the bed-clearing assumption) and, given the site
configuration folder, records new alert events (so the page and the alerts show the same history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.queue.planner import PlanPlate, PlanPrinter, clearing_assumption, plan_plates

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig
    from hospfab.fleet.status import PrinterStatus
    from hospfab.journal import Journal
    from hospfab.queue.store import QueueStore

FORECAST_BUDGET_S = 0.05  # planner improvement time per refresh


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


@dataclass
class FleetView:
    generated_at: str
    printers: list[dict[str, Any]]
    lots: list[dict[str, Any]]
    events: list[dict[str, Any]]
    assumption: str
    statuses: list[PrinterStatus] = field(default_factory=list, repr=False)  # live PrinterStatus objects
    new_events: list[Any] = field(default_factory=list, repr=False)  # alert events recorded by this call

    def as_dict(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at, "printers": self.printers, "lots": self.lots,
                "events": self.events, "bed_clearing": self.assumption}  # fmt: skip


def bed_waits(journal_path: Path, printers: list[PrinterConfig]) -> dict[str, str]:
    """Manual-clearing printers whose bed waits for a person: name -> since when (the last job's end)."""
    from hospfab.journal import Journal

    out = {}
    with Journal(journal_path) as journal:
        for printer in printers:
            if getattr(printer, "bed_clearing", "manual") == "automatic" or journal.active_on(printer.name):
                continue
            if not journal.bed_clear(printer.name):
                last = journal.jobs(printer=printer.name, limit=1)
                if last:
                    out[printer.name] = last[0].ended_at or last[0].started_at or last[0].created_at
    return out


def _printer_row(printer: PrinterConfig, status: PrinterStatus, journal: Journal, waiting_since: str | None
                 ) -> tuple[dict[str, Any], PlanPrinter | None]:
    manual = getattr(printer, "bed_clearing", "manual") != "automatic"
    active = journal.active_on(printer.name)
    job = None
    if active is not None:
        job = {"id": active.id, "ref": active.ref, "revision": active.revision, "plate_id": active.plate_id,
               "lot_id": active.lot_id, "outcome": active.outcome}  # fmt: skip
    elif status.job_file and status.state is not None and status.state.value not in ("operational",):
        job = {"id": None, "ref": None, "revision": None, "plate_id": None, "lot_id": None, "outcome": None,
               "file": status.job_file}  # fmt: skip
    state = status.state.value if status.state is not None else "unreachable"
    row = {
        "name": printer.name, "site": printer.site, "profile": printer.profile, "material": printer.material,
        "material_lot": printer.material_lot, "bed_clearing": "manual" if manual else "automatic",
        "state": state, "state_text": status.state_text or ("unreachable" if not status.reachable else state),
        "ok": status.ok, "error": status.error if not status.ok else None, "job": job,
        "progress": status.completion if job else None,
        "time_left_s": status.print_time_left_s if job else None, "waiting_for_clearing_since": waiting_since,
    }  # fmt: skip
    if not status.ok:
        return row, None
    busy = float(status.print_time_left_s or 0.0) if not status.idle else 0.0
    if not status.idle and status.print_time_left_s is None:
        busy = 3600.0
    plan_printer = PlanPrinter(printer.name, printer.profile, printer.material, printer.site, busy,
                               "manual" if manual else "automatic", waiting_since is None and active is None)
    return row, plan_printer


def _lots(store: QueueStore, plan_printers: list[PlanPrinter], rows: dict[str, dict[str, Any]], now: datetime,
          clearing_delay_s: float | None) -> list[dict[str, Any]]:
    from hospfab.queue.runner import plate_options
    from hospfab.queue.store import ACTIVE, FAILED, QUEUED

    lots = [lot for lot in store.lots() if lot.state == "open" and not lot.finished]
    plates = [PlanPlate(p.id, lot.ref, plate_options(lot), p.priority) for lot in lots for p in lot.plates
              if p.state == QUEUED]  # fmt: skip
    plan = plan_plates(plan_printers, plates, improve_s=FORECAST_BUDGET_S, clearing_delay_s=clearing_delay_s)
    ends = {s.plate: s.end_s for s in plan.slots}
    waiting = set(plan.unassigned)
    out = []
    for lot in lots:
        finish_s = 0.0
        for plate in lot.plates:
            if plate.state in ACTIVE:
                left = (rows.get(plate.printer or "") or {}).get("time_left_s")
                finish_s = max(finish_s, float(left or 0.0))
            elif plate.id in ends:
                finish_s = max(finish_s, ends[plate.id])
        stuck = sum(1 for p in lot.plates if p.id in waiting)
        finish = None if stuck else now + timedelta(seconds=finish_s)
        deadline = datetime.fromisoformat(lot.deadline) if lot.deadline else None
        will_meet, risk = None, None
        if deadline is not None:
            if finish is None:
                will_meet, risk = False, f"{stuck} plates wait for a bed to be cleared (or a compatible printer)"
            else:
                will_meet = finish <= deadline
                if not will_meet:
                    risk = f"expected at {finish.astimezone():%H:%M}, deadline {deadline.astimezone():%H:%M}"
        out.append({
            "lot_id": lot.id, "ref": lot.ref, "revision": lot.revision, "quantity": lot.quantity,
            "units_made": lot.units_made, "units_planned": lot.units_planned, "priority": lot.priority,
            "plates": len(lot.plates), "plates_queued": lot.count(QUEUED), "plates_printing": lot.count(*ACTIVE),
            "plates_failed": lot.count(FAILED), "plates_done": lot.count("done"), "plates_waiting_clearing": stuck,
            "deadline": lot.deadline, "expected_finish": _iso(finish) if finish else None,
            "will_meet_deadline": will_meet, "risk": risk,
        })  # fmt: skip
    return out


def fleet_view(journal_path: Path, printers: list[PrinterConfig], *, timeout: float = 3.0, config_dir: Path | None = None,
               clearing_delay_s: float | None = None, events_limit: int = 12) -> FleetView:
    """Everything the page shows. With ``config_dir``, new alert events are recorded on the way (for
    delivery by whoever runs the alerts pass)."""
    from hospfab.alerts.store import AlertStore
    from hospfab.fleet.status import status_all
    from hospfab.journal import Journal
    from hospfab.queue.store import QueueStore

    now = datetime.now(timezone.utc)
    new: list[Any] = []
    statuses = status_all(printers, timeout=timeout)
    waits = bed_waits(journal_path, printers)
    with Journal(journal_path) as journal, QueueStore(journal_path) as store, AlertStore(journal_path) as alerts:
        rows, plan_printers = [], []
        for printer, status in zip(printers, statuses):
            row, plan_printer = _printer_row(printer, status, journal, waits.get(printer.name))
            rows.append(row)
            if plan_printer is not None:
                plan_printers.append(plan_printer)
        lots = _lots(store, plan_printers, {r["name"]: r for r in rows}, now, clearing_delay_s)
        if config_dir is not None:
            from hospfab.alerts.config import load_alerts
            from hospfab.alerts.events import collect

            config = load_alerts(config_dir)
            new = collect(alerts, store, journal, channels=[c.id for c in config.channels], printers=printers,
                          statuses=statuses, at_risk={x["lot_id"]: x["risk"] for x in lots if x["risk"]},
                          bed_wait_min=config.bed_wait_min)  # fmt: skip
        events = [e.as_dict() for e in alerts.events(limit=events_limit)]
    return FleetView(_iso(now), rows, lots, events, clearing_assumption(clearing_delay_s), statuses, new)
