"""Batch production as a use case: plan N units of a revision over the printers that can make them, and
enqueue the lot. The CLI's ``hospfab batch``, a web page or a scheduler call the same two functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hospfab.errors import NotFoundError, PrinterError

if TYPE_CHECKING:
    from hospfab.catalog.store import Revision
    from hospfab.queue.lots import LotProposal
    from hospfab.queue.store import Lot
    from hospfab.settings import Settings

UNKNOWN_JOB_LEFT_S = 3600.0  # a printing job that does not say how long it has left: assume an hour


@dataclass
class BatchPlan:
    """A plan of ``quantity`` units of ``revision``; ``unavailable``: compatible printers that could not be
    asked (name -> why), left out of the plan."""

    revision: Revision
    proposal: LotProposal
    unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = self.proposal.as_dict()
        data["unavailable"] = dict(self.unavailable)
        return data


def busy_seconds(printers: list[Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds until each printer is free (from its current job), and the printers that cannot be asked or
    are not operational, from one concurrent status round of the fleet (:func:`hospfab.fleet.status_all`)."""
    from hospfab.fleet.status import status_all
    from hospfab.octoprint.states import BUSY_STATES

    busy: dict[str, float] = {}
    down: dict[str, str] = {}
    for status in status_all(printers):
        if status.idle:
            busy[status.name] = 0.0
        elif status.reachable and status.state in BUSY_STATES:
            left = status.print_time_left_s
            busy[status.name] = float(left if left is not None else UNKNOWN_JOB_LEFT_S)
        elif not status.reachable or status.state is None:
            down[status.name] = status.error or "unavailable"
        else:
            down[status.name] = f"not operational: {status.state_text or status.state.value}"
    return busy, down


def plan_batch(settings: Settings, spec: str, quantity: int, *, only: list[str] | None = None,
               site: str | None = None, deadline: datetime | None = None, priority: int = 0,
               stagger_s: float = 0.0, clearing_delay_s: float | None = None) -> BatchPlan:
    """Plan ``quantity`` units of ``spec`` (validated revisions only) over the fleet's compatible printers
    (``only`` these names, of ``site``), each starting when its current job ends; unreachable printers are
    left out and named. Raises NotFoundError for an unknown printer name, PrinterError when no compatible
    printer can be reached."""
    from hospfab.fleet.loading import load_printers
    from hospfab.journal import Journal
    from hospfab.printing.send import resolve_for_print
    from hospfab.queue.lots import plan_for_revision

    revision, _ = resolve_for_print(settings.catalog(), spec, allow_draft=False)
    printers: list[Any] = load_printers(settings)
    if only:
        unknown = sorted(set(only) - {p.name for p in printers})
        if unknown:
            raise NotFoundError(f"printer {unknown[0]}: not in the fleet file {settings.fleet_path}")
        printers = [p for p in printers if p.name in only]
    if site:
        printers = [p for p in printers if p.site == site]
    compatible = [p for p in printers if revision.recipe_for(p.profile, p.material) is not None]
    busy, down = busy_seconds(compatible)
    usable = [p for p in compatible if p.name in busy]
    if compatible and not usable:
        raise PrinterError(f"no compatible printer can be reached for {revision.spec}: "
                           + "; ".join(f"{k}: {v}" for k, v in down.items()))  # fmt: skip
    with Journal(settings.database_target) as journal:
        bed_clear = {p.name: journal.bed_clear(p.name) for p in usable}
    proposal = plan_for_revision(revision, usable, quantity, busy_s=busy, priority=priority, deadline=deadline,
                                 stagger_s=stagger_s, bed_clear=bed_clear, clearing_delay_s=clearing_delay_s)
    return BatchPlan(revision, proposal, down)


def enqueue_batch(settings: Settings, plan: BatchPlan, *, operator: str, priority: int = 0,
                  max_attempts: int = 3) -> Lot:
    """Record the planned lot and queue its plates (the inspection sample is drawn now)."""
    from hospfab.queue.lots import create_lot
    from hospfab.queue.store import QueueStore

    with QueueStore(settings.database_target) as store:
        return create_lot(store, plan.proposal, plan.revision.meta.sampling, operator=operator, priority=priority,
                          max_attempts=max_attempts)
