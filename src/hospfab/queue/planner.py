"""Batch planning: which printer prints which plate, and when everything is done.

Pure functions, no I/O. Times are seconds from "now" (0.0). A printer is a machine with a profile, a loaded
material, a site and the seconds until it is free (``busy_s``, the rest of its current job). A plate can be
printed by every printer whose profile and material match one of its options; each option has its own plate
duration and units per plate (recipes differ per printer profile), so this is scheduling on unrelated
machines with release times (R|r_i|Cmax).

- :func:`plan_plates` assigns given plates: priority classes first, longest plate first within a class,
  each to the printer where it would finish earliest (LPT/ECT list scheduling), then local improvement
  (moves and swaps off the most loaded printer) within a time budget. On each printer higher priority
  plates print first.
- :func:`plan_lot` decides how many plates a lot of N units needs and where they go (each next plate goes
  where it would finish earliest, which is optimal for identical plates on uniform printers).
- :func:`lower_bound` is a linear-programming bound on the makespan, to judge plan quality.
- :func:`choose_plate` is the runner's dispatch decision for one free printer (greedy plan, no search).

Manual bed clearing: a printer with ``bed_clearing="manual"`` needs a person between two plates. Plans take a
``clearing_delay_s``: None (the default) assumes nobody clears a bed (at night), so such a printer gets at most
the one plate it can start now (idle, bed confirmed clear), and nothing if it is printing or waiting for a
clearing; a number models staff rounds: each plate on such a printer starts that long after the previous one
ended (or after its current job ends, or from now if its bed waits for clearing). Plates no printer can take
under that assumption are left unscheduled (``Plan.unassigned``): they wait for a person, not for a printer.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class PlanPrinter:
    name: str
    profile: str
    material: str | None = None
    site: str | None = None
    busy_s: float = 0.0  # seconds until the printer is free (rest of its current job)
    bed_clearing: str = "automatic"  # or "manual": a person must clear the bed between two plates
    bed_clear_now: bool = True  # manual printers: bed confirmed clear since its last job

    @property
    def manual(self) -> bool:
        return self.bed_clearing == "manual"

    def first_start_s(self, clearing_delay_s: float | None) -> float | None:
        """When this printer can start its first planned plate (None: not before someone clears its bed)."""
        if not self.manual:
            return self.busy_s
        if self.busy_s <= 0 and self.bed_clear_now:
            return 0.0
        return None if clearing_delay_s is None else self.busy_s + clearing_delay_s

    def next_start_s(self, end_s: float, clearing_delay_s: float | None) -> float | None:
        """When the plate after one ending at ``end_s`` can start (None: never, nobody clears the bed)."""
        if not self.manual:
            return end_s
        return None if clearing_delay_s is None else end_s + clearing_delay_s


@dataclass(frozen=True)
class PlateOption:
    """One way to print a plate: on printers of ``profile`` loaded with ``material`` (None: any)."""

    profile: str
    material: str | None
    duration_s: float
    units: int = 1


@dataclass(frozen=True)
class PlanPlate:
    key: str
    reference: str
    options: tuple[PlateOption, ...]
    priority: int = 0  # higher prints first


@dataclass(frozen=True)
class Slot:
    plate: str
    reference: str
    printer: str
    start_s: float
    end_s: float
    units: int
    priority: int


@dataclass
class Plan:
    slots: list[Slot]
    finish_s: dict[str, float]  # per printer: when its last planned plate ends (or when it is free)
    unassigned: list[str] = field(default_factory=list)  # plates no printer can take

    @property
    def makespan_s(self) -> float:
        return max((s.end_s for s in self.slots), default=0.0)

    @property
    def units(self) -> int:
        return sum(s.units for s in self.slots)

    def units_by(self, t_s: float) -> int:
        """Units finished at or before ``t_s`` seconds from now."""
        return sum(s.units for s in self.slots if s.end_s <= t_s + 1e-9)

    def by_printer(self) -> dict[str, list[Slot]]:
        out: dict[str, list[Slot]] = {name: [] for name in self.finish_s}
        for s in self.slots:
            out.setdefault(s.printer, []).append(s)
        return out


def option_for(printer: PlanPrinter, plate: PlanPlate) -> PlateOption | None:
    """The option of ``plate`` that ``printer`` can print (profile and loaded material match), if any."""
    for opt in plate.options:
        if opt.profile == printer.profile and (opt.material is None or opt.material == printer.material):
            return opt
    return None


def staggered(printers: list[PlanPrinter], gap_s: float) -> list[PlanPrinter]:
    """Printers free now on one site start ``gap_s`` apart (so a whole room does not heat at once)."""
    if gap_s <= 0:
        return list(printers)
    seen: dict[str | None, int] = defaultdict(int)
    out = []
    for p in sorted(printers, key=lambda p: (p.busy_s, p.name)):
        k = seen[p.site]
        seen[p.site] += 1
        out.append(replace(p, busy_s=max(p.busy_s, k * gap_s)))
    return out


# --- internal: machines grouped by (profile, material), plates by their option set ---------------------


class _Index:
    """Durations as a dense lookup: duration[plate][printer] or None, built once per plan."""

    def __init__(self, printers: list[PlanPrinter], plates: list[PlanPlate]) -> None:
        self.printers = printers
        self.plates = plates
        groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for i, p in enumerate(printers):
            groups[(p.profile, p.material)].append(i)
        self.groups = groups
        # per plate: list of (group key, duration, units)
        self.choices: list[list[tuple[tuple[str, str | None], float, int]]] = []
        for plate in plates:
            ch = []
            for key, members in groups.items():
                opt = option_for(printers[members[0]], plate)
                if opt is not None:
                    ch.append((key, float(opt.duration_s), int(opt.units)))
            self.choices.append(ch)
        self.group_of = [(p.profile, p.material) for p in printers]

    def duration(self, j: int, i: int) -> float | None:
        g = self.group_of[i]
        for key, d, _u in self.choices[j]:
            if key == g:
                return d
        return None

    def units(self, j: int, i: int) -> int:
        g = self.group_of[i]
        for key, _d, u in self.choices[j]:
            if key == g:
                return u
        return 0


def _greedy(ix: _Index, delay_s: float | None = None) -> tuple[list[int], list[float], list[int]]:
    """Priority classes, LPT within a class, each plate to the printer where it finishes earliest.

    Each group's heap holds (next possible start, name, printer); a manual-clearing printer leaves its heap
    when nobody will clear its bed again (``delay_s`` None)."""
    heaps: dict[tuple[str, str | None], list[tuple[float, str, int]]] = {}
    for key, members in ix.groups.items():
        h = []
        for i in members:
            first = ix.printers[i].first_start_s(delay_s)
            if first is not None:
                h.append((first, ix.printers[i].name, i))
        heapq.heapify(h)
        heaps[key] = h
    order = sorted(
        range(len(ix.plates)),
        key=lambda j: (-ix.plates[j].priority, -min((d for _k, d, _u in ix.choices[j]), default=0.0), j),
    )
    assign = [-1] * len(ix.plates)
    unassigned = []
    for j in order:
        best = None
        for key, d, _u in ix.choices[j]:
            if not heaps[key]:
                continue
            start, name, i = heaps[key][0]
            cand = (start + d, name, key, i)
            if best is None or cand < best:
                best = cand
        if best is None:
            unassigned.append(j)
            continue
        end, name, key, i = best
        following = ix.printers[i].next_start_s(end, delay_s)
        if following is None:
            heapq.heappop(heaps[key])
        else:
            heapq.heapreplace(heaps[key], (following, name, i))
        assign[j] = i
    loads = [p.busy_s for p in ix.printers]
    for j, i in enumerate(assign):
        if i >= 0:
            loads[i] += ix.duration(j, i)  # type: ignore[operator]
    return assign, loads, unassigned


def _improve(ix: _Index, assign: list[int], loads: list[float], budget_s: float) -> None:
    """Moves and swaps that lower the most loaded printer without raising another to its level.

    Only printers that clear their own beds take part: a manual printer's plate count is bounded by the
    clearing assumption, which a move could break."""
    deadline = time.perf_counter() + budget_s
    automatic = [i for i, p in enumerate(ix.printers) if not p.manual]
    if not automatic:
        return
    on: list[set[int]] = [set() for _ in ix.printers]
    for j, i in enumerate(assign):
        if i >= 0:
            on[i].add(j)
    compat: list[list[tuple[int, float]]] = []  # per plate: (printer, duration)
    for j in range(len(ix.plates)):
        row = []
        for key, d, _u in ix.choices[j]:
            row.extend((i, d) for i in ix.groups[key] if not ix.printers[i].manual)
        compat.append(row)
    dur = [dict(row) for row in compat]
    while time.perf_counter() < deadline:
        m = max(automatic, key=loads.__getitem__)
        top = loads[m]
        best_gain, best_move = 1e-6, None
        for j in on[m]:
            dj = dur[j][m]
            for i, dij in compat[j]:
                if i == m:
                    continue
                new_m, new_i = top - dj, loads[i] + dij
                peak = max(new_m, new_i)
                if top - peak > best_gain:
                    best_gain, best_move = top - peak, (j, i, None)
                for k in on[i]:  # swap j (m -> i) with k (i -> m)
                    dkm = dur[k].get(m)
                    if dkm is None:
                        continue
                    peak = max(new_m + dkm, new_i - dur[k][i])
                    if top - peak > best_gain:
                        best_gain, best_move = top - peak, (j, i, k)
        if best_move is None:
            return
        j, i, k = best_move
        on[m].discard(j), on[i].add(j)
        loads[m] -= dur[j][m]
        loads[i] += dur[j][i]
        assign[j] = i
        if k is not None:
            on[i].discard(k), on[m].add(k)
            loads[i] -= dur[k][i]
            loads[m] += dur[k][m]
            assign[k] = m


def _build(ix: _Index, assign: list[int], unassigned: list[int], delay_s: float | None = None) -> Plan:
    per: dict[int, list[int]] = defaultdict(list)
    for j, i in enumerate(assign):
        if i >= 0:
            per[i].append(j)
    slots: list[Slot] = []
    finish = {p.name: p.busy_s for p in ix.printers}
    for i, plates in per.items():
        printer = ix.printers[i]
        t = printer.first_start_s(delay_s)
        plates.sort(key=lambda j: (-ix.plates[j].priority, -ix.duration(j, i), ix.plates[j].key))  # type: ignore
        for n, j in enumerate(plates):
            if n:
                t = printer.next_start_s(t, delay_s)
            d = ix.duration(j, i)
            plate = ix.plates[j]
            slots.append(Slot(plate.key, plate.reference, printer.name, t, t + d, ix.units(j, i), plate.priority))
            t += d  # type: ignore[operator]
        finish[printer.name] = t
    slots.sort(key=lambda s: (s.start_s, s.printer))
    return Plan(slots, finish, [ix.plates[j].key for j in unassigned])


def plan_plates(
    printers: list[PlanPrinter],
    plates: list[PlanPlate],
    *,
    improve_s: float = 0.5,
    stagger_s: float = 0.0,
    clearing_delay_s: float | None = None,
) -> Plan:
    """Assign ``plates`` to ``printers`` minimising the time the last one finishes.

    ``clearing_delay_s``: how long a manual-clearing printer's bed waits for a person (None: nobody comes)."""
    ix = _Index(staggered(printers, stagger_s), plates)
    assign, loads, unassigned = _greedy(ix, clearing_delay_s)
    if improve_s > 0 and ix.printers:
        _improve(ix, assign, loads, improve_s)
    return _build(ix, assign, unassigned, clearing_delay_s)


@dataclass
class LotPlan:
    """A lot's plates: scheduled ones in ``plan``, and ``unscheduled`` ones (units per plate) that no printer
    can start under the bed-clearing assumption (they wait for someone to clear a bed)."""

    plan: Plan
    quantity: int
    deadline_s: float | None = None
    unscheduled: list[int] = field(default_factory=list)
    clearing_delay_s: float | None = None

    @property
    def units(self) -> int:
        return self.plan.units + sum(self.unscheduled)

    @property
    def units_scheduled(self) -> int:
        return self.plan.units

    @property
    def plates(self) -> int:
        return len(self.plan.slots) + len(self.unscheduled)

    @property
    def units_by_deadline(self) -> int | None:
        return None if self.deadline_s is None else min(self.quantity, self.plan.units_by(self.deadline_s))

    @property
    def deadline_met(self) -> bool | None:
        if self.deadline_s is None:
            return None
        return self.plan.units_by(self.deadline_s) >= self.quantity

    @property
    def assumption(self) -> str:
        """The bed-clearing assumption the plan was made under, in words."""
        return clearing_assumption(self.clearing_delay_s)


def clearing_assumption(clearing_delay_s: float | None) -> str:
    """A bed-clearing assumption in words (for plans, the page and the alerts)."""
    if clearing_delay_s is None:
        return "nobody clears a bed: a manual-clearing printer prints at most the plate it can start now"
    return f"staff clear each bed within {clearing_delay_s / 60:g} min of a plate ending"


def plan_lot(
    printers: list[PlanPrinter],
    reference: str,
    options: list[PlateOption],
    quantity: int,
    *,
    priority: int = 0,
    deadline_s: float | None = None,
    stagger_s: float = 0.0,
    clearing_delay_s: float | None = None,
) -> LotPlan:
    """Plates for ``quantity`` units of ``reference``: each next plate where it finishes earliest.

    Manual-clearing printers follow ``clearing_delay_s`` (see the module docstring); units no printer can
    start under it go to unscheduled plates of the largest plate size among the compatible printers."""
    plate = PlanPlate("probe", reference, tuple(options), priority)
    ready = staggered(printers, stagger_s)
    heap = []
    sizes = []
    for i, p in enumerate(ready):
        opt = option_for(p, plate)
        if opt is None or opt.units <= 0 or opt.duration_s < 0:
            continue
        sizes.append(opt.units)
        first = p.first_start_s(clearing_delay_s)
        if first is not None:
            heap.append((first + opt.duration_s, -opt.units, p.name, i, opt))
    heapq.heapify(heap)
    slots: list[Slot] = []
    finish = {p.name: p.busy_s for p in ready}
    made, n = 0, 0
    while made < quantity and heap:
        end, neg_units, name, i, opt = heapq.heappop(heap)
        n += 1
        slots.append(Slot(f"{n}", reference, name, end - opt.duration_s, end, opt.units, priority))
        made += opt.units
        finish[name] = end
        following = ready[i].next_start_s(end, clearing_delay_s)
        if following is not None:
            heapq.heappush(heap, (following + opt.duration_s, neg_units, name, i, opt))
    slots.sort(key=lambda s: (s.start_s, s.printer))
    unscheduled: list[int] = []
    if sizes:
        per_plate = max(sizes)
        while made < quantity:
            unscheduled.append(per_plate)
            made += per_plate
    plan = Plan(slots, finish, [f"{n + k + 1}" for k in range(len(unscheduled))])
    return LotPlan(plan, quantity, deadline_s, unscheduled, clearing_delay_s)


def lower_bound(printers: list[PlanPrinter], plates: list[PlanPlate], *, tolerance_s: float = 1.0) -> float:
    """A lower bound on any plan's makespan: the smallest T whose fractional assignment fits.

    A plate may only go where it could finish by T (busy + duration <= T); each group of identical printers
    (profile, material, busy) offers count * (T - busy) seconds. Found by bisection on T with an LP
    feasibility check (scipy, imported here).
    """
    import numpy as np
    from scipy.optimize import linprog

    classes: dict[tuple, int] = defaultdict(int)
    for plate in plates:
        classes[plate.options] += 1
    machines: dict[tuple, int] = defaultdict(int)
    for p in printers:
        machines[(p.profile, p.material, p.busy_s)] += 1
    mlist = list(machines.items())
    clist = list(classes.items())
    reps = [PlanPrinter("m", prof, mat, None, busy) for (prof, mat, busy), _n in mlist]
    durations = [
        [(opt.duration_s if (opt := option_for(rep, PlanPlate("c", "c", options))) else None) for rep in reps]
        for options, _n in clist
    ]
    if any(all(d is None for d in row) for row in durations):
        return math.inf
    lo = max(min(reps[m].busy_s + d for m, d in enumerate(row) if d is not None) for row in durations)

    def feasible(T: float) -> bool:
        var = [(c, m) for c, row in enumerate(durations) for m, d in enumerate(row) if d is not None and
               reps[m].busy_s + d <= T + 1e-9]
        a_eq = np.zeros((len(clist), len(var)))
        a_ub = np.zeros((len(mlist), len(var)))
        for v, (c, m) in enumerate(var):
            a_eq[c, v] = 1.0
            a_ub[m, v] = durations[c][m]
        b_eq = np.array([n for _o, n in clist], dtype=float)
        b_ub = np.array([n * max(0.0, T - key[2]) for key, n in mlist])
        res = linprog(np.zeros(len(var)), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None),
                      method="highs")
        return res.status == 0

    hi = max(lo, 1.0)
    while not feasible(hi):
        hi *= 2
    if feasible(lo):
        return lo
    while hi - lo > tolerance_s:
        mid = (lo + hi) / 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    return lo


def choose_plate(printer: str, printers: list[PlanPrinter], plates: list[PlanPlate]) -> str | None:
    """Dispatch decision: the plate ``printer`` (free now) should start, from a greedy plan of the queue.

    Highest priority first; within it, the plate the plan puts first on this printer. None when the plan
    gives this printer nothing (no compatible plate, or every plate finishes earlier elsewhere).
    """
    ix = _Index(printers, plates)
    assign, _loads, _un = _greedy(ix)
    target = next((i for i, p in enumerate(printers) if p.name == printer), None)
    if target is None:
        return None
    mine = [j for j, i in enumerate(assign) if i == target]
    if not mine:
        return None
    j = min(mine, key=lambda j: (-plates[j].priority, -ix.duration(j, target), plates[j].key))  # type: ignore
    return plates[j].key
