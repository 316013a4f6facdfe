"""Benchmark: what users feel on everyday commands, the start-up of the whole process.

Times, as separate processes taking turns in the same run (median of --runs): `python -c "import numpy"`
(the baseline: what any numpy tool pays), `python -c "import typer"`, `hospfab --version`, `hospfab gcode check`
of a 2-line file and `hospfab check` of a typical ~50k-facet part (a real corpus part when the shared corpus
is there, else a 50k-facet torus), with and without `--printer`, and `admesh -e` on the same part.
The profiles and the site configuration are validated once and then served from the content cache
(`hospfab.contentcache`): one warm-up run fills it, as on a workstation.

Targets: `check` and `gcode check` at 0.3 s wall or less; `--version` within 1.5x of `import typer`.
Ends with one PASS/MISS line per target.

Run: .venv/bin/python bench/startup_bench.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import meshes  # noqa: E402

PY = sys.executable
HOSPFAB = [str(Path(PY).with_name("hospfab"))] if Path(PY).with_name("hospfab").exists() else [PY, "-m", "hospfab"]
CORPUS = Path(os.environ.get("HOSPFAB_CORPUS") or next(
    (p for p in (ROOT.parent / "shared" / "corpus", ROOT.parent.parent / "shared" / "corpus") if p.is_dir()),
    ROOT.parent / "shared" / "corpus"))
TYPICAL_PART = "makair-blower-propeller-v14.stl"  # 49k facets, passes the checks (a part with open edges
# also pays for scipy.spatial, ~0.8 s of imports here, to look for cracks to close)
TARGET_S = 0.3


def wall(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one run; CPU time is steadier on a shared machine."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hospfab-startup-") as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "HOSPFAB_HOME": str(tmp_path / "home")}
        two = tmp_path / "two.gcode"
        two.write_text("G28\nG1 X10 Y10 Z0.2 F3000\n")
        part = CORPUS / TYPICAL_PART
        if not part.is_file():
            part = meshes.write_binary(tmp_path / "torus-50k.stl", meshes.torus(50_000))
        facets = (part.stat().st_size - 84) // 50
        commands = {
            "python -c 'import numpy'": [PY, "-c", "import numpy"],
            "python -c 'import typer'": [PY, "-c", "import typer"],
            "hospfab --version": [*HOSPFAB, "--version"],
            "hospfab gcode check (2 lines)": [*HOSPFAB, "gcode", "check", str(two), "-p", "prusa-mk4", "-m", "petg"],
            f"hospfab check ({facets} facets)": [*HOSPFAB, "check", str(part)],
            f"hospfab check --printer ({facets} facets)": [*HOSPFAB, "check", str(part), "--printer", "prusa-mk4"],
        }
        if shutil.which("admesh"):
            commands[f"admesh -e ({facets} facets)"] = ["admesh", "-e", str(part)]
        for cmd in commands.values():  # warm-up: page cache, profile cache
            wall(cmd, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, env))
    median = {name: statistics.median(w for w, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}
    base, base_cpu = median["python -c 'import numpy'"], cpu["python -c 'import numpy'"]
    print(f"start-up, median of {args.runs} runs (part: {part.name}); load average {os.getloadavg()[0]:.1f}")
    print(f"  {'command':<42} {'wall':>7}  {'vs numpy':>8}  {'CPU':>7}  {'vs numpy':>8}")
    for name, value in median.items():
        print(f"  {name:<42} {value:6.3f}s  {value / base:7.2f}x  {cpu[name]:6.3f}s  {cpu[name] / base_cpu:7.2f}x")
    verdicts = []
    for name, value in median.items():
        if name.startswith(("hospfab check", "hospfab gcode")):
            verdicts.append((f"{name} <= {TARGET_S} s", value <= TARGET_S, f"{value:.3f} s"))
    ratio = median["hospfab --version"] / median["python -c 'import typer'"]
    verdicts.append(("hospfab --version within 1.5x of import typer", ratio <= 1.5, f"{ratio:.2f}x"))
    for label, ok, shown in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {label}: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
