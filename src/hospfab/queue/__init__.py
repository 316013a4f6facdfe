"""Batch production: planning lots over the fleet, a crash-safe queue of plates, device history records.

- :mod:`hospfab.queue.planner`: pure planning (which printer prints which plate, finish times, deadlines).
- :mod:`hospfab.queue.store`: lots, plates and attempts in the journal database (component ``queue``).
- :mod:`hospfab.queue.runner`: the queue runner (dispatch, bed clearing, stagger, requeue, reconcile).
- :mod:`hospfab.queue.record`: device history record export (CSV, JSON, one-page HTML).
"""

from hospfab.queue.planner import (
    LotPlan,
    Plan,
    PlanPlate,
    PlanPrinter,
    PlateOption,
    Slot,
    choose_plate,
    lower_bound,
    plan_lot,
    plan_plates,
)

__all__ = [
    "LotPlan",
    "Plan",
    "PlanPlate",
    "PlanPrinter",
    "PlateOption",
    "Slot",
    "choose_plate",
    "lower_bound",
    "plan_lot",
    "plan_plates",
]
