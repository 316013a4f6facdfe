"""Honest plans with manual bed clearing: by default nobody clears a bed at night, so a manual printer gets at
most the plate it can start now; staff rounds (a clearing delay) let it print more, each plate after a round."""

from __future__ import annotations

from hospfab.queue.planner import PlanPlate, PlanPrinter, PlateOption, plan_lot, plan_plates

H = 3600.0
OPTION = PlateOption("mk4", "PETG", 2 * H, 4)  # 4 units per plate, 2 h a plate


def manual(name: str, **kwargs) -> PlanPrinter:
    return PlanPrinter(name, "mk4", "PETG", bed_clearing="manual", **kwargs)


def test_nobody_clears_at_night_so_a_manual_printer_gets_one_plate():
    lot = plan_lot([manual("m1"), manual("m2")], "EAR", [OPTION], 100, deadline_s=8 * H)
    assert len(lot.plan.slots) == 2 and {s.printer for s in lot.plan.slots} == {"m1", "m2"}
    assert lot.units_scheduled == 8
    assert lot.units_by_deadline == 8 and lot.deadline_met is False
    # the rest of the lot is still there, waiting for a person, not silently dropped
    assert lot.units >= 100 and lot.plates == 2 + len(lot.unscheduled) and len(lot.unscheduled) == 23
    assert "nobody clears" in lot.assumption


def test_a_manual_printer_busy_or_waiting_for_clearing_gets_nothing_by_default():
    printers = [manual("busy", busy_s=1 * H), manual("dirty", bed_clear_now=False), manual("ready")]
    lot = plan_lot(printers, "EAR", [OPTION], 40)
    assert [s.printer for s in lot.plan.slots] == ["ready"]


def test_staff_rounds_let_manual_printers_plan_more_with_a_gap_per_plate():
    lot = plan_lot([manual("m1")], "EAR", [OPTION], 12, clearing_delay_s=0.5 * H, deadline_s=8 * H)
    starts = [s.start_s for s in lot.plan.slots]
    assert starts == [0.0, 2.5 * H, 5.0 * H]  # 2 h plate + 30 min until someone clears the bed
    assert lot.units_scheduled == 12 and lot.unscheduled == [] and lot.deadline_met is True
    assert "30 min" in lot.assumption


def test_automatic_printers_are_unchanged_and_take_the_rest():
    printers = [manual("m1"), PlanPrinter("a1", "mk4", "PETG", bed_clearing="automatic")]
    lot = plan_lot(printers, "EAR", [OPTION], 20, deadline_s=6 * H)
    per = {}
    for slot in lot.plan.slots:
        per[slot.printer] = per.get(slot.printer, 0) + 1
    assert per == {"m1": 1, "a1": 4}
    assert lot.units_by_deadline == 4 + 3 * 4  # a1 ends plates at 2, 4, 6 h; m1 at 2 h


def test_plan_plates_caps_manual_printers_and_leaves_the_rest_unassigned():
    plates = [PlanPlate(f"p{i}", "EAR", (OPTION,)) for i in range(5)]
    plan = plan_plates([manual("m1"), manual("m2", busy_s=H)], plates, improve_s=0.05)
    assert [s.printer for s in plan.slots] == ["m1"] and len(plan.unassigned) == 4
    rounds = plan_plates([manual("m1"), manual("m2", busy_s=H)], plates, improve_s=0.05, clearing_delay_s=H)
    assert not rounds.unassigned
    m2 = [s for s in rounds.slots if s.printer == "m2"]
    assert m2[0].start_s == 2 * H  # busy 1 h, then a round before the bed is clear
    for first, second in zip(m2, m2[1:]):
        assert second.start_s == first.end_s + H
