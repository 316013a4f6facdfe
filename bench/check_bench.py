"""Benchmark: whole-process `hospfab check` against `admesh -e` and a bare trimesh load-and-check.

Makes closed meshes of about 100k, 1M and 2M facets (noisy tori, like tessellated CAD parts), then times in
the same run, as separate processes: `hospfab check FILE --json`, `admesh -e FILE` (Debian admesh, C) and a
python process doing `trimesh.load_mesh` plus its watertight / winding / volume checks. Wall time is the best
of a few runs; peak memory is the process's maximum RSS (GNU time's %M). Also compares `hospfab --version`
with `python -c "import typer"`.

Targets: hospfab check within 3x admesh's wall time at ~1.3M facets, peak RSS under 3x the file size plus
the interpreter (the RSS of checking a 12-facet file), and `--version` within 1.5x of importing typer.

Run: .venv/bin/python bench/check_bench.py [--sizes 100000,1310000,2000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import meshes  # noqa: E402

PY = sys.executable
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
HOSPFAB = [PY, "-m", "hospfab"]
TRIMESH_CHECK = (
    "import sys, trimesh; m = trimesh.load_mesh(sys.argv[1]); "
    "print(m.is_watertight, m.is_winding_consistent, m.is_volume, m.volume)"
)


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB, exit code of one process, measured by GNU time (``/usr/bin/time``):
    the rusage of a child forked from this (large) process would count the parent's pages too."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", out.name, *cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        lines = [ln for ln in Path(out.name).read_text().splitlines() if ln.strip().isdigit()]
    return wall, int(lines[-1]) / 1024, proc.returncode


def best(cmd: list[str], runs: int) -> tuple[float, float, int]:
    results = [run(cmd) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1310000,2000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-trimesh", action="store_true", help="skip the slow trimesh baseline")
    args = parser.parse_args()
    admesh = shutil.which("admesh")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")

    with tempfile.TemporaryDirectory(prefix="hospfab-bench-") as tmp:
        box = meshes.write_binary(Path(tmp) / "box.stl", meshes.box())
        _, interp_mb, _ = best([*HOSPFAB, "check", str(box), "--json"], args.runs)
        print(f"interpreter baseline (hospfab check on a 12-facet box): {interp_mb:.0f} MB peak RSS\n")
        header = (f"{'facets':>9} {'file MB':>8} | {'hospfab s':>9} {'MB':>5} | {'admesh s':>8} {'MB':>5} | "
                  f"{'trimesh s':>9} {'MB':>5} | {'vs admesh':>9} {'vs trimesh':>10} {'mem budget':>10}")
        print(header)
        print("-" * len(header))
        for size in (int(s) for s in args.sizes.split(",")):
            path = meshes.write_binary(Path(tmp) / f"torus-{size}.stl", meshes.torus(size, noise=0.01, seed=size))
            facets = (path.stat().st_size - 84) // 50
            file_mb = path.stat().st_size / 2**20
            h_wall, h_mb, h_rc = best([*HOSPFAB, "check", str(path), "--json"], args.runs)
            assert h_rc == 0, f"hospfab check failed on {path} (exit {h_rc})"
            a_wall, a_mb = (float("nan"), float("nan"))
            if admesh:
                a_wall, a_mb, _ = best([admesh, "-e", str(path)], args.runs)
            t_wall, t_mb = (float("nan"), float("nan"))
            if not args.no_trimesh:
                t_wall, t_mb, _ = best([PY, "-c", TRIMESH_CHECK, str(path)], 1)
            budget = 3 * file_mb + interp_mb
            print(f"{facets:>9,} {file_mb:>8.1f} | {h_wall:>9.2f} {h_mb:>5.0f} | {a_wall:>8.2f} {a_mb:>5.0f} | "
                  f"{t_wall:>9.2f} {t_mb:>5.0f} | {h_wall / a_wall:>8.2f}x {h_wall / t_wall:>9.2f}x "
                  f"{h_mb / budget:>9.0%}")
            path.unlink()
        real = ROOT.parent / "shared" / "corpus" / "cpap-valve-7mm.stl"
        if real.is_file():  # a real CAD part tiled 29 times: admesh's hash table is at its best here
            from hospfab.mesh import read_stl

            part = read_stl(real).vertices.astype(float)
            tiles = [part + (40.0 * (i % 6), 40.0 * (i // 6), 0.0) for i in range(29)]
            path = meshes.write_binary(Path(tmp) / "tiled.stl", __import__("numpy").concatenate(tiles))
            file_mb = path.stat().st_size / 2**20
            h_wall, h_mb, _ = best([*HOSPFAB, "check", str(path), "--json"], args.runs)
            a_wall, a_mb, _ = best([admesh, "-e", str(path)], args.runs) if admesh else (float("nan"),) * 3
            t_wall, t_mb = (float("nan"), float("nan"))
            if not args.no_trimesh:
                t_wall, t_mb, _ = best([PY, "-c", TRIMESH_CHECK, str(path)], 1)
            budget = 3 * file_mb + interp_mb
            print(f"{'29 x cpap':>9} {file_mb:>8.1f} | {h_wall:>9.2f} {h_mb:>5.0f} | {a_wall:>8.2f} {a_mb:>5.0f} | "
                  f"{t_wall:>9.2f} {t_mb:>5.0f} | {h_wall / a_wall:>8.2f}x {h_wall / t_wall:>9.2f}x "
                  f"{h_mb / budget:>9.0%}   (1,307,958 real facets, 29 bodies)")

    v_wall, v_mb, _ = best([*HOSPFAB, "--version"], max(5, args.runs))
    t_wall, t_mb, _ = best([PY, "-c", "import typer"], max(5, args.runs))
    print(f"\nhospfab --version: {v_wall:.3f} s ({v_mb:.0f} MB); python -c 'import typer': {t_wall:.3f} s "
          f"({t_mb:.0f} MB); ratio {v_wall / t_wall:.2f}x (target <= 1.5x)")
    print("ratios: hospfab / admesh (target <= 3x at ~1.3M facets); mem budget: peak RSS / "
          "(3 x file size + interpreter), target < 100%")


if __name__ == "__main__":
    main()
