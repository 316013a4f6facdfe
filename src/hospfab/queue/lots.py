"""From a catalog revision and the fleet to a lot plan, and from a plan to a lot in the queue.

``plan_for_revision`` turns the revision's recipes into plate options (units per plate = recipe copies,
duration = recipe ``print_time_s`` estimate), keeps the printers that have a recipe for their profile and
loaded material, and plans ``quantity`` units over them starting when each is free (``busy_s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hospfab.errors import InputError, PrinterError
from hospfab.queue.planner import LotPlan, PlanPrinter, PlateOption, plan_lot
from hospfab.queue.runner import DEFAULT_PLATE_S
from hospfab.queue.store import Lot, QueueStore, draw_sample


def lot_recipes(revision: Any) -> list[dict[str, Any]]:
    """The revision's recipes as recorded in a lot (what was meant to be printed, with checksums)."""
    return [
        {
            "printer": r.printer, "material": r.material, "process": r.process, "build_file": str(r.build_file),
            "sha256": r.sha256, "copies": int(r.copies),
            "print_time_s": float((r.estimates or {}).get("print_time_s") or DEFAULT_PLATE_S),
        }
        for r in revision.recipes
    ]  # fmt: skip


def parse_deadline(text: str | None, now: datetime | None = None) -> datetime | None:
    """``HH:MM`` -> the next such local time (today, or tomorrow if already past)."""
    if not text:
        return None
    now = now or datetime.now().astimezone()
    try:
        hours, minutes = (int(x) for x in text.split(":"))
        target = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    except ValueError:
        raise InputError(f"invalid time {text!r}: expected HH:MM, e.g. 07:00") from None
    return target if target > now else target + timedelta(days=1)


@dataclass
class LotProposal:
    spec: str
    ref: str
    revision: int
    recipes: list[dict[str, Any]]
    lot_plan: LotPlan
    printers: list[PlanPrinter]
    now: datetime
    deadline: datetime | None

    def as_dict(self) -> dict[str, Any]:
        plan = self.lot_plan.plan
        per = []
        for printer in self.printers:
            slots = [s for s in plan.slots if s.printer == printer.name]
            per.append({
                "printer": printer.name, "profile": printer.profile, "material": printer.material,
                "site": printer.site, "free_at": self._at(printer.busy_s), "plates": len(slots),
                "units": sum(s.units for s in slots), "finish_at": self._at(plan.finish_s[printer.name]),
                "bed_clearing": printer.bed_clearing, "bed_clear_now": printer.bed_clear_now,
            })  # fmt: skip
        units_per_plate = sorted({s.units for s in plan.slots})
        return {
            "ref": self.ref, "revision": self.revision, "quantity": self.lot_plan.quantity,
            "units_per_plate": units_per_plate[0] if len(units_per_plate) == 1 else units_per_plate,
            "plates": self.lot_plan.plates, "units": self.lot_plan.units,
            "finish_at": self._at(plan.makespan_s), "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_met": self.lot_plan.deadline_met, "units_by_deadline": self.lot_plan.units_by_deadline,
            "plan": per, "units_scheduled": self.lot_plan.units_scheduled,
            "plates_unscheduled": len(self.lot_plan.unscheduled),
            "bed_clearing": {
                "assumption": self.lot_plan.assumption,
                "clearing_delay_s": self.lot_plan.clearing_delay_s,
                "manual_printers": [p.name for p in self.printers if p.manual],
            },
        }  # fmt: skip

    def _at(self, seconds: float) -> str:
        return (self.now + timedelta(seconds=seconds)).isoformat(timespec="minutes")


def plan_for_revision(
    revision: Any,
    printers: list[Any],
    quantity: int,
    *,
    busy_s: dict[str, float] | None = None,
    priority: int = 0,
    deadline: datetime | None = None,
    stagger_s: float = 0.0,
    now: datetime | None = None,
    bed_clear: dict[str, bool] | None = None,
    clearing_delay_s: float | None = None,
) -> LotProposal:
    """Plan ``quantity`` units of ``revision`` over the compatible ``printers`` (fleet printer configs).

    ``bed_clear``: per manual-clearing printer, whether its bed is confirmed clear now (default True);
    ``clearing_delay_s``: staff rounds (None: nobody clears a bed, see :mod:`hospfab.queue.planner`)."""
    if quantity < 1:
        raise InputError(f"quantity must be at least 1, not {quantity}")
    now = now or datetime.now().astimezone()
    recipes = lot_recipes(revision)
    options = [PlateOption(r["printer"], r["material"], r["print_time_s"], r["copies"]) for r in recipes]
    busy_s = busy_s or {}
    bed_clear = bed_clear or {}
    compatible = [
        PlanPrinter(p.name, p.profile, p.material, getattr(p, "site", None), float(busy_s.get(p.name, 0.0)),
                    getattr(p, "bed_clearing", "automatic"), bed_clear.get(p.name, True))
        for p in printers
        if any(o.profile == p.profile and o.material == p.material for o in options)
    ]
    if not compatible:
        have = ", ".join(f"{r['printer']}/{r['material']}" for r in recipes) or "none"
        raise PrinterError(
            f"no printer of the fleet can print {revision.ref}@{revision.rev} (recipes: {have})",
            code="no_printer_available",
        )
    deadline_s = (deadline - now).total_seconds() if deadline else None
    lot_plan = plan_lot(compatible, revision.ref, options, quantity, priority=priority, deadline_s=deadline_s,
                        stagger_s=stagger_s, clearing_delay_s=clearing_delay_s)  # fmt: skip
    return LotProposal(f"{revision.ref}@{revision.rev}", revision.ref, revision.rev, recipes, lot_plan, compatible,
                       now, deadline)  # fmt: skip


def create_lot(store: QueueStore, proposal: LotProposal, sampling: Any, *, operator: str, priority: int = 0,
               max_attempts: int = 3) -> Lot:
    """Record the lot and enqueue its plates; the inspection sample is drawn now (``sampling`` from the
    revision: lot_size, sample_size, method)."""
    slots = proposal.lot_plan.plan.slots
    lot_size = int(getattr(sampling, "lot_size", 100))
    sample_size = int(getattr(sampling, "sample_size", 1))
    drawn = draw_sample(proposal.lot_plan.quantity, lot_size, sample_size)
    per_plate = [s.units for s in slots] + list(proposal.lot_plan.unscheduled)
    sample = {"lot_size": lot_size, "sample_size": sample_size,
              "method": str(getattr(sampling, "method", "random draw")), "units": drawn,
              "plates": _plates_of_units(drawn, per_plate)}  # fmt: skip
    return store.create_lot(
        ref=proposal.ref, revision=proposal.revision, quantity=proposal.lot_plan.quantity,
        recipes=proposal.recipes, operator=operator,
        plates=[(s.printer, s.units) for s in slots] + [(None, u) for u in proposal.lot_plan.unscheduled],
        priority=priority, deadline=proposal.deadline.isoformat() if proposal.deadline else None,
        max_attempts=max_attempts, plan=proposal.as_dict(), sampling=sample,
    )  # fmt: skip


def _plates_of_units(units: list[int], per_plate: list[int]) -> list[dict[str, int]]:
    """Where each sampled unit is: plate number and copy on that plate (units counted plate by plate)."""
    out, start = [], 0
    bounds = []
    for seq, n in enumerate(per_plate, start=1):
        bounds.append((seq, start + 1, start + n))
        start += n
    for unit in units:
        for seq, first, last in bounds:
            if first <= unit <= last:
                out.append({"unit": unit, "plate": seq, "copy": unit - first + 1})
                break
    return out
