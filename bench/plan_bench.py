"""Plan benchmark: a simulated fleet of 60 printers of mixed profiles and 500 plates of mixed references.

Prints plan quality (makespan / LP lower bound, target <= 1.05), the time to plan, and the time of one
dispatch decision for 60 printers and 1,000 queued plates (target < 50 ms). Seeded, so runs are comparable.

    .venv/bin/python bench/plan_bench.py [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from hospfab.queue.planner import PlanPlate, PlanPrinter, PlateOption, choose_plate, lower_bound, plan_plates

# profile: (count, speed factor vs mk3s, units factor: bigger beds hold more per plate)
PROFILES = {"mk3s": (24, 1.0, 1.0), "mk4": (18, 0.55, 1.0), "mini": (12, 1.15, 0.5), "xl": (6, 0.7, 2.0)}
MATERIALS = ("PETG", "PLA")
# reference: (mk3s plate hours, units per mk3s plate, material, fits on mini)
REFERENCES = {
    "visor-headband": (3.2, 4, "PETG", True),
    "ear-saver": (0.9, 12, "PLA", True),
    "swab-holder": (1.6, 6, "PETG", True),
    "valve-charlotte": (2.4, 2, "PETG", True),
    "o2-splitter": (4.1, 3, "PETG", False),
    "door-opener": (2.0, 2, "PLA", True),
    "bed-rail-clip": (5.3, 1, "PETG", False),
    "mask-clamp": (0.6, 8, "PLA", True),
}


def fleet(rng: random.Random) -> list[PlanPrinter]:
    out = []
    for profile, (count, _speed, _units) in PROFILES.items():
        for k in range(count):
            busy = rng.choice([0.0, 0.0, rng.uniform(0, 3 * 3600)])
            out.append(PlanPrinter(f"{profile}-{k:02d}", profile, MATERIALS[k % 3 == 2], f"site-{k % 3}", busy))
    return out


def options(ref: str) -> tuple[PlateOption, ...]:
    hours, units, material, fits_mini = REFERENCES[ref]
    out = []
    for profile, (_count, speed, ufactor) in PROFILES.items():
        if profile == "mini" and not fits_mini:
            continue
        u = max(1, round(units * ufactor))
        out.append(PlateOption(profile, material, hours * 3600 * speed * u / units, u))
    return tuple(out)


def plates(rng: random.Random, n: int) -> list[PlanPlate]:
    refs = list(REFERENCES)
    out = []
    for j in range(n):
        ref = rng.choice(refs)
        out.append(PlanPlate(f"P{j:04d}", ref, options(ref), priority=1 if rng.random() < 0.05 else 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ratios, plan_times, dispatch_times = [], [], []
    for run in range(args.runs):
        rng = random.Random(args.seed + run)
        printers, queue = fleet(rng), plates(rng, 500)
        t0 = time.perf_counter()
        plan = plan_plates(printers, queue)
        plan_times.append(time.perf_counter() - t0)
        lb = lower_bound(printers, queue)
        ratios.append(plan.makespan_s / lb)
        print(
            f"run {run}: {len(printers)} printers, {len(queue)} plates, {plan.units} units, "
            f"makespan {plan.makespan_s / 3600:.2f} h, lower bound {lb / 3600:.2f} h, "
            f"ratio {plan.makespan_s / lb:.4f}, plan {plan_times[-1] * 1000:.0f} ms"
        )
        big = plates(rng, 1000)
        free = printers[rng.randrange(len(printers))].name
        t0 = time.perf_counter()
        choose_plate(free, printers, big)
        dispatch_times.append(time.perf_counter() - t0)
    print(
        f"\nplan quality: makespan/lower bound mean {statistics.mean(ratios):.4f}, worst {max(ratios):.4f} "
        f"(target <= 1.05)"
    )
    print(f"plan time (500 plates, 60 printers): mean {statistics.mean(plan_times) * 1000:.0f} ms")
    print(
        f"dispatch decision (1,000 queued plates, 60 printers): mean {statistics.mean(dispatch_times) * 1000:.1f} ms, "
        f"worst {max(dispatch_times) * 1000:.1f} ms (target < 50 ms)"
    )


if __name__ == "__main__":
    main()
