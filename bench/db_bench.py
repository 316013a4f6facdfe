"""Database benchmark: dispatch decisions per second and claim latency, SQLite vs PostgreSQL.

60 printers, one lot of 10,000 queued plates; 1, 2 and 4 runner processes at once, each for ``--seconds``.
A dispatch decision is what a runner does for one free printer: read the top of the queue (highest priority
first), pick a plate, and claim it together with its journal job in one transaction (or lose it to another
runner); the printer is then freed by finishing the job and the plate (not timed). Claim latency is the time
of that one transaction. PostgreSQL is a throw-away local server (Debian ``postgresql``) on 127.0.0.1.

    .venv/bin/python bench/db_bench.py [--seconds 5] [--plates 10000] [--print]

``--print`` also times ``hospfab print`` (whole process, real OctoPrint Virtual Printer) on each backend.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

PRINTERS = 60


def make_job(printer: str, job_id: str):
    from hospfab.journal import Job, now_iso

    return Job(id=job_id, ref="VISOR", revision=1, build_file="v.gcode", sha256="ab" * 32, printer=printer,
               printer_url="http://127.0.0.1:1", printer_profile="mk4", material="PETG", material_lot="L1",
               operator="bench", created_at=now_iso())  # fmt: skip


def fill(target, plates: int) -> None:
    from hospfab.journal.admin import upgrade
    from hospfab.queue.store import QueueStore

    upgrade(target)
    recipes = [{"printer": "mk4", "material": "PETG", "sha256": "ab" * 32, "copies": 4, "build_file": "v.gcode"}]
    with QueueStore(target) as store:
        store.create_lot(ref="VISOR", revision=1, quantity=4 * plates, recipes=recipes,
                         plates=[(None, 4)] * plates, operator="bench")  # fmt: skip


def runner(target, index: int, runners: int, seconds: float, start, out) -> None:
    from hospfab.errors import PrinterError
    from hospfab.journal import DONE, Journal, new_job_id
    from hospfab.queue.store import QUEUED, QueueStore

    rng = random.Random(index)
    store = QueueStore(target)
    journal = Journal(store.conn)
    mine = [f"p{k:02d}" for k in range(PRINTERS) if k % runners == index]
    latencies, decisions, lost = [], 0, 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        printer = rng.choice(mine)
        top = store.conn.execute(
            "SELECT id FROM plates WHERE state=? ORDER BY priority DESC, lot_id, seq LIMIT 20", (QUEUED,)
        ).fetchall()
        if not top:
            break
        plate_id = rng.choice(top)[0]
        job_id = new_job_id()
        began = time.perf_counter()
        try:
            claimed = store.claim(plate_id, runner=f"r{index}", printer=printer, job_id=job_id,
                                  job=make_job(printer, job_id))  # fmt: skip
        except PrinterError:
            claimed = None
        latencies.append(time.perf_counter() - began)
        decisions += 1
        if claimed is None:
            lost += 1
            continue
        journal.finish(job_id, DONE)  # free the printer for the next decision (not timed)
        store.mark_printing(plate_id, job_id)
        store.finish_attempt(plate_id, job_id, ok=True, units=4)
    store.close()
    out.put((decisions, lost, latencies))


def measure(target, runners: int, seconds: float) -> dict:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(runners), ctx.Queue()
    procs = [ctx.Process(target=runner, args=(target, i, runners, seconds, start, out)) for i in range(runners)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(60)
    decisions = sum(r[0] for r in results)
    lost = sum(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    return {"rate": decisions / seconds, "lost": lost, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * p95}  # fmt: skip


def print_wall_time(fresh_target, tmp: Path) -> None:
    """`hospfab print TEST-BOX` (the print tests' signed catalog; until OctoPrint says it is printing) as a
    process, per backend, each run on a fresh, migrated database and a reset Virtual Printer."""
    import os
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from hospfab.octoprint.localserver import start_servers

    from test_print_support import build_catalog  # the signed test catalog of the print tests

    octoprint = os.environ.get("HOSPFAB_OCTOPRINT") or str(Path(".octoprint-venv/bin/octoprint").resolve())
    server = start_servers([tmp / "octoprint"], octoprint=Path(octoprint))[0]
    try:
        catalog = build_catalog(tmp / "print-catalog" / "catalog", tmp / "print-catalog" / "work")
        fleet = tmp / "fleet.yaml"
        fleet.write_text(
            "version: 1\nprinters:\n"
            f"  - name: vt-0\n    url: {server.url}\n    api_key_env: BENCH_KEY\n"
            "    profile: virtual-test\n    material: pla\n    bed_clearing: automatic\n"
        )
        for name in ("sqlite", "postgresql"):
            times = []
            for k in range(3):
                target = fresh_target(name, k)
                env = dict(os.environ, HOSPFAB_HOME=str(tmp / f"home-{name}-{k}"), HOSPFAB_DATABASE=target,
                           HOSPFAB_FLEET=str(fleet), HOSPFAB_CATALOG=str(catalog), BENCH_KEY=server.api_key,
                           HOSPFAB_TRUST_STORE=str(catalog.parent / "trust.yaml"),
                           HOSPFAB_OPERATOR="bench")  # fmt: skip
                began = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "hospfab", "print", "TEST-BOX", "--printer",
                                       "vt-0", "--json"], env=env, capture_output=True, text=True)  # fmt: skip
                times.append(time.perf_counter() - began)
                if done.returncode != 0:
                    print(f"  print on {name} failed: {done.stdout[-300:]} {done.stderr[-300:]}")
                    return
                server.reset()
            print(f"hospfab print (to printing, whole process), {name}: median {statistics.median(times):.2f} s")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--plates", type=int, default=10_000)
    parser.add_argument("--print", action="store_true", help="also time `hospfab print` on each backend")
    parser.add_argument("--runners", default="1,2,4", help="runner counts to measure (comma-separated; '' for none)")
    args = parser.parse_args()

    from hospfab.journal.pg_localserver import LocalPostgres, pg_bin_dir

    tmp = Path(tempfile.mkdtemp(prefix="hospfab-db-bench-"))
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (scripts/install-system-deps)")
    server = LocalPostgres(tmp / "pg", bin_dir).init().start()
    try:
        print(f"{PRINTERS} printers, {args.plates} queued plates, {args.seconds:g} s per run")
        print(f"{'backend':<11} {'runners':>7} {'decisions/s':>12} {'lost races':>10} {'claim p50':>10} "
              f"{'claim p95':>10}")  # fmt: skip
        baseline = None
        for runners in [int(n) for n in args.runners.split(",") if n]:
            for backend in ("sqlite", "postgresql"):
                if backend == "sqlite":
                    target = str(tmp / f"bench-{runners}.sqlite3")
                else:
                    server.admin(f"CREATE DATABASE bench{runners}")
                    target = server.url(f"bench{runners}")
                fill(target, args.plates)
                r = measure(target, runners, args.seconds)
                if baseline is None:
                    baseline = r["rate"]
                print(f"{backend:<11} {runners:>7} {r['rate']:>12.0f} {r['lost']:>10} {r['p50_ms']:>8.2f}ms "
                      f"{r['p95_ms']:>8.2f}ms   ({r['rate'] / baseline:.2f}x sqlite/1)")  # fmt: skip
        if args.print:
            def fresh_target(backend: str, k: int) -> str:
                from hospfab.journal.admin import upgrade

                if backend == "sqlite":
                    target = str(tmp / f"print-{k}.sqlite3")
                else:
                    server.admin(f"CREATE DATABASE print{k}")
                    target = server.url(f"print{k}")
                upgrade(target)  # as in use: the schema is current
                return target

            print_wall_time(fresh_target, tmp)
    finally:
        server.remove()


if __name__ == "__main__":
    main()
