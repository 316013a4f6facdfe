"""Benchmark: `hospfab printers status` over N real OctoPrint servers, concurrent vs one after another.

Starts N local OctoPrint servers (Virtual Printer, default 6; `--servers N`), then in the same run measures:

1. the N real printers, one each: concurrent ``status_all`` vs ``status_sequential`` (median of repeats);
2. a 60-printer fleet (each real server listed 10 times, one client per entry);
3. N printers that accept connections but never answer (a hung host), with a 1 s timeout: concurrency makes
   the whole fleet cost about one timeout instead of N;
4. the CLI itself, ``hospfab printers status --json`` in a subprocess over the 60-printer fleet.

Prints the figures and the ratios. Run: ``.venv/bin/python bench/fleet_bench.py [--servers N]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hospfab.fleet import Fleet, PrinterConfig, status_all, status_sequential
from hospfab.octoprint.localserver import find_octoprint, start_servers

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, list]:
    times, result = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def row(label: str, concurrent_s: float, sequential_s: float, n: int) -> None:
    ratio = sequential_s / concurrent_s if concurrent_s else float("inf")
    print(f"{label:<44} {n:>4} {concurrent_s * 1000:>10.1f} {sequential_s * 1000:>12.1f} {ratio:>7.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=6, help="real OctoPrint servers to start (>= 6)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if find_octoprint() is None:
        print("OctoPrint not installed: run `make octoprint` (or set HOSPFAB_OCTOPRINT)", file=sys.stderr)
        return 2
    n = max(1, args.servers)
    with tempfile.TemporaryDirectory(prefix="hospfab-fleet-bench-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        servers = start_servers([tmp_path / f"op{i}" for i in range(n)])
        print(f"started {n} real OctoPrint servers in {time.perf_counter() - start:.1f} s")
        hung: list[socket.socket] = []
        try:
            for i, server in enumerate(servers):
                os.environ[f"BENCH_KEY_{i}"] = server.api_key

            def cfg(name: str, url: str, i: int) -> PrinterConfig:
                return PrinterConfig(
                    name=name, url=url, api_key_env=f"BENCH_KEY_{i}", profile="virtual-test", material="pla"
                )

            real = [cfg(f"op-{i}", s.url, i) for i, s in enumerate(servers)]
            sixty = [cfg(f"p{k:02d}", servers[k % n].url, k % n) for k in range(60)]
            for _ in range(n):  # hosts that accept TCP connections and never answer
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                sock.listen(16)
                hung.append(sock)
            silent = [cfg(f"hung-{i}", f"http://127.0.0.1:{s.getsockname()[1]}", 0) for i, s in enumerate(hung)]

            status_all(real)  # warm-up (imports, first connections)
            print(f"\n{'scenario':<44} {'N':>4} {'concurrent':>10} {'sequential':>12} {'ratio':>7}")
            print(f"{'':<44} {'':>4} {'ms':>10} {'ms':>12}")
            conc, res = timed(lambda: status_all(real), args.repeats)
            seq, _ = timed(lambda: status_sequential(real), args.repeats)
            assert all(s.reachable for s in res), [s.error for s in res if not s.reachable]
            row(f"{n} real servers", conc, seq, n)
            conc, res = timed(lambda: status_all(sixty), args.repeats)
            seq, _ = timed(lambda: status_sequential(sixty), args.repeats)
            assert all(s.reachable for s in res)
            row(f"60 printers on {n} real servers", conc, seq, 60)
            conc, res = timed(lambda: status_all(silent, timeout=1.0), 1)
            seq, _ = timed(lambda: status_sequential(silent, timeout=1.0), 1)
            assert not any(s.reachable for s in res)
            row(f"{n} hung hosts, 1 s timeout", conc, seq, n)

            fleet_file = tmp_path / "fleet.yaml"
            Fleet(printers=sixty).save(fleet_file)
            env = dict(os.environ, HOSPFAB_HOME=str(tmp_path / "home"), HOSPFAB_FLEET=str(fleet_file))
            cli = [str(Path(sys.executable).with_name("hospfab")), "printers", "status", "--json"]
            times = []
            for _ in range(3):
                start = time.perf_counter()
                done = subprocess.run(cli, env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                assert done.returncode == 0, done.stdout + done.stderr
            print(f"\nCLI `hospfab printers status --json`, 60 printers: {statistics.median(times) * 1000:.0f} ms "
                  f"(whole process, median of 3)")
        finally:
            for sock in hung:
                sock.close()
            for server in servers:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
