"""The batch planner: assignments respect compatibility, priority and busy printers; quality vs a bound."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hospfab.queue.planner import (
    PlanPlate,
    PlanPrinter,
    PlateOption,
    choose_plate,
    lower_bound,
    plan_lot,
    plan_plates,
    staggered,
)

H = 3600.0


def opts(**durations_h):
    return tuple(PlateOption(profile, "PETG", h * H, 2) for profile, h in durations_h.items())


def test_plates_only_go_to_printers_with_matching_profile_and_material():
    printers = [
        PlanPrinter("a", "mk3s", "PETG"),
        PlanPrinter("b", "mk3s", "PLA"),
        PlanPrinter("c", "mini", "PETG"),
    ]
    plates = [PlanPlate(f"p{k}", "visor", opts(mk3s=1.0)) for k in range(4)]
    plan = plan_plates(printers, plates)
    assert {s.printer for s in plan.slots} == {"a"}
    assert plan.makespan_s == 4 * H
    assert plan.finish_s == {"a": 4 * H, "b": 0.0, "c": 0.0}


def test_plate_without_compatible_printer_is_reported_unassigned():
    plan = plan_plates([PlanPrinter("a", "mk3s", "PETG")], [PlanPlate("x", "big", opts(xl=2.0))])
    assert plan.slots == [] and plan.unassigned == ["x"]


def test_identical_plates_balance_to_the_bound():
    printers = [PlanPrinter(f"p{i}", "mk3s", "PETG") for i in range(4)]
    plates = [PlanPlate(f"x{k}", "visor", opts(mk3s=1.0)) for k in range(8)]
    plan = plan_plates(printers, plates)
    assert plan.makespan_s == 2 * H
    assert abs(lower_bound(printers, plates) - 2 * H) <= 1.0


def test_busy_printer_starts_after_its_current_job_and_faster_profile_gets_more():
    printers = [PlanPrinter("slow", "mk3s", "PETG", busy_s=1 * H), PlanPrinter("fast", "mk4", "PETG")]
    plates = [PlanPlate(f"x{k}", "visor", opts(mk3s=2.0, mk4=1.0)) for k in range(6)]
    plan = plan_plates(printers, plates)
    per = plan.by_printer()
    assert all(s.start_s >= 1 * H for s in per["slow"])
    assert len(per["fast"]) > len(per["slow"])
    assert plan.makespan_s == 5 * H  # 5 on fast (5 h), 1 on slow (1 + 2 h): the optimum


def test_urgent_plate_starts_first():
    printers = [PlanPrinter("a", "mk3s", "PETG")]
    plates = [PlanPlate(f"v{k}", "visor", opts(mk3s=3.0)) for k in range(3)]
    plates.append(PlanPlate("urgent", "valve", opts(mk3s=0.5), priority=5))
    plan = plan_plates(printers, plates)
    assert plan.slots[0].plate == "urgent" and plan.slots[0].start_s == 0.0
    assert choose_plate("a", printers, plates) == "urgent"


def test_choose_plate_none_when_nothing_fits_the_free_printer():
    printers = [PlanPrinter("a", "mk3s", "PETG"), PlanPrinter("b", "mini", "PETG")]
    plates = [PlanPlate("x", "visor", opts(mk3s=1.0))]
    assert choose_plate("b", printers, plates) is None
    assert choose_plate("a", printers, plates) == "x"


def test_lot_plan_counts_plates_and_reports_the_deadline():
    printers = [PlanPrinter("a", "mk3s", "PETG"), PlanPrinter("b", "mk4", "PETG", busy_s=0.5 * H)]
    options = [PlateOption("mk3s", "PETG", 2 * H, 4), PlateOption("mk4", "PETG", 1 * H, 4)]
    lot = plan_lot(printers, "visor", options, 30, deadline_s=3 * H)
    assert lot.plates == 8 and lot.units == 32  # 30 units at 4 a plate: 8 plates
    # b ends 1.5, 2.5, 3.5, 4.5, 5.5 h; a ends 2, 4, 6 h: the 8th plate is done at 6 h (b: 6.5 h)
    assert lot.plan.makespan_s == 6 * H
    assert lot.plan.finish_s == {"a": 6 * H, "b": 5.5 * H}
    assert lot.deadline_met is False
    assert lot.units_by_deadline == 4 * sum(1 for s in lot.plan.slots if s.end_s <= 3 * H)
    easy = plan_lot(printers, "visor", options, 8, deadline_s=3 * H)
    assert easy.deadline_met is True and easy.units_by_deadline == 8


def test_lot_with_no_compatible_printer_has_no_plates():
    lot = plan_lot([PlanPrinter("a", "mini", "PLA")], "visor", [PlateOption("mk3s", "PETG", 60, 1)], 5)
    assert lot.plates == 0 and lot.units == 0


def test_stagger_offsets_free_printers_on_one_site():
    printers = [PlanPrinter(f"p{i}", "mk3s", "PETG", site="ward-1") for i in range(3)]
    printers.append(PlanPrinter("q", "mk3s", "PETG", site="ward-2"))
    starts = {p.name: p.busy_s for p in staggered(printers, 60)}
    assert sorted(starts[f"p{i}"] for i in range(3)) == [0, 60, 120]
    assert starts["q"] == 0


profiles = st.sampled_from(["mk3s", "mk4", "mini"])


@settings(max_examples=40, deadline=None)
@given(
    printers=st.lists(st.tuples(profiles, st.integers(0, 3)), min_size=1, max_size=6),
    plates=st.lists(
        st.tuples(st.dictionaries(profiles, st.integers(1, 20), min_size=1), st.integers(0, 2)),
        min_size=1,
        max_size=25,
    ),
)
def test_plan_is_a_valid_schedule_and_never_beats_the_bound(printers, plates):
    fleet = [PlanPrinter(f"p{i}", prof, None, None, busy * 600.0) for i, (prof, busy) in enumerate(printers)]
    queue = [
        PlanPlate(f"x{k}", "r", tuple(PlateOption(p, None, m * 600.0) for p, m in d.items()), prio)
        for k, (d, prio) in enumerate(plates)
    ]
    plan = plan_plates(fleet, queue)
    keys = [s.plate for s in plan.slots] + plan.unassigned
    assert sorted(keys) == sorted(p.key for p in queue)
    by_name = {p.name: p for p in fleet}
    for name, slots in plan.by_printer().items():
        t = by_name[name].busy_s
        for s in sorted(slots, key=lambda s: s.start_s):
            assert s.start_s >= t - 1e-6
            t = s.end_s
    if not plan.unassigned:
        assert plan.makespan_s >= lower_bound(fleet, queue) - 1.0
