"""Benchmark: whole-process `hospfab check` against `admesh -e` and a bare trimesh load-and-check.

Makes closed meshes of about 100k, 1.3M and 2M facets (noisy tori, like tessellated CAD parts) and a real
corpus part tiled 29 times (1.31M facets), then times in the same run, as separate processes: `hospfab check
FILE --json`, `admesh -e FILE` (Debian admesh, C) and a python process doing `trimesh.load_mesh` plus its
watertight / winding / volume checks. Wall time is the best of a few runs (the commands take turns); peak
memory is the process's maximum RSS (GNU time's %M). Also compares `hospfab --version` with
`python -c "import typer"`, and ends with one PASS/MISS line per target.

Targets: hospfab check within 3x admesh's wall time at ~1.3M facets, peak RSS under 3x the file size plus
the interpreter (the RSS of checking a 12-facet file; judged from 1M facets up, below that the budget is
mostly interpreter noise), and `--version` within 1.5x of importing typer.

The surface checks (self-intersections always; thin walls with `--printer`) are measured apart: the whole
`hospfab check --printer prusa-mk4` of a 1.31M-facet icosphere against `admesh -e` (target: within 5x), the
49k-facet corpus part (makair-blower-propeller-v14) against a 1 s interactive budget, and what each stage
costs in-process (``stats.timings_s``: topology and surface are wall times; ray_scenes (Embree's BVH
builds), self_intersections and thin_walls are summed over the two threads that work on slabs at once, so on
the sphere they add up to about twice surface).

hospfab's modules are byte-compiled first, as pip does when it installs the wheel (see compile_as_installed).

Run: .venv/bin/python bench/check_bench.py [--sizes 100000,1310000,2000000] [--runs 3] [--surface-only]
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


def interleaved(cmds: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, int]]:
    """Best wall time, peak RSS and last exit code of each command, running them in turn ``runs`` times:
    on a shared machine, load that comes and goes then hits every command alike."""
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            results[name].append(run(cmd))
    return {name: (min(r[0] for r in rs), max(r[1] for r in rs), rs[-1][2]) for name, rs in results.items()}


def tiled_corpus_part(tmp: Path) -> Path | None:
    """A real CAD part tiled 29 times (1,307,958 facets, 29 bodies): admesh's hash table is at its best
    here, and hospfab must check 29 separate bodies."""
    real = Path(os.environ.get("HOSPFAB_CORPUS", ROOT.parent / "shared" / "corpus")) / "cpap-valve-7mm.stl"
    if not real.is_file():
        return None
    import numpy as np

    from hospfab.mesh import read_stl

    part = read_stl(real).vertices.astype(float)
    tiles = [part + (40.0 * (i % 6), 40.0 * (i // 6), 0.0) for i in range(29)]
    return meshes.write_binary(tmp / "tiled-cpap-valve.stl", np.concatenate(tiles))


def compile_as_installed() -> None:
    """Byte-compile hospfab's modules, as pip does when it installs the wheel. The editable install of this
    checkout compiles them on first import instead, and under PYTHONDONTWRITEBYTECODE (set on some machines)
    on every run: 0.04 s more a process, which is not what a hospital's installed copy pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "hospfab"), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1310000,2000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-trimesh", action="store_true", help="skip the slow trimesh baseline")
    parser.add_argument("--surface-only", action="store_true", help="only the surface-check figures")
    args = parser.parse_args()
    compile_as_installed()
    if args.surface_only:
        surface_checks(args.runs)
        return
    admesh = shutil.which("admesh")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}; "
          f"best of {args.runs} interleaved runs")
    nan = (float("nan"), float("nan"), 0)
    rows = []  # (label, facets, file MB, hospfab s, hospfab MB, admesh s, budget MB)

    with tempfile.TemporaryDirectory(prefix="hospfab-bench-") as tmp:
        box = meshes.write_binary(Path(tmp) / "box.stl", meshes.box())
        interp_mb = interleaved({"box": [*HOSPFAB, "check", str(box), "--json"]}, args.runs)["box"][1]
        print(f"interpreter baseline (hospfab check on a 12-facet box): {interp_mb:.0f} MB peak RSS\n")
        header = (f"{'mesh':>10} {'facets':>9} {'file MB':>7} | {'hospfab s':>9} {'MB':>4} | {'admesh s':>8} "
                  f"{'MB':>4} | {'trimesh s':>9} {'MB':>4} | {'/admesh':>7} {'/trimesh':>8} | {'RSS/budget':>15}")
        print(header)
        print("-" * len(header))
        inputs = [("torus", lambda size=size: meshes.write_binary(
            Path(tmp) / f"torus-{size}.stl", meshes.torus(size, noise=0.01, seed=size)))
            for size in (int(s) for s in args.sizes.split(","))]
        inputs.append(("29 x cpap", lambda: tiled_corpus_part(Path(tmp))))
        for label, make in inputs:
            path = make()
            if path is None:
                print(f"{label:>10}  skipped: ../shared/corpus/cpap-valve-7mm.stl not found")
                continue
            facets = (path.stat().st_size - 84) // 50
            file_mb = path.stat().st_size / 2**20
            cmds = {"hospfab": [*HOSPFAB, "check", str(path), "--json"]}
            if admesh:
                cmds["admesh"] = [admesh, "-e", str(path)]
            m = interleaved(cmds, args.runs)
            h_wall, h_mb, h_rc = m["hospfab"]
            assert h_rc == 0, f"hospfab check failed on {path} (exit {h_rc})"
            a_wall, a_mb, _ = m.get("admesh", nan)
            t_wall, t_mb, _ = nan if args.no_trimesh else run([PY, "-c", TRIMESH_CHECK, str(path)])
            budget = 3 * file_mb + interp_mb
            rows.append((label, facets, file_mb, h_wall, h_mb, a_wall, budget))
            print(f"{label:>10} {facets:>9,} {file_mb:>7.1f} | {h_wall:>9.2f} {h_mb:>4.0f} | {a_wall:>8.2f} "
                  f"{a_mb:>4.0f} | {t_wall:>9.2f} {t_mb:>4.0f} | {h_wall / a_wall:>6.2f}x {h_wall / t_wall:>7.2f}x | "
                  f"{h_mb:>4.0f}/{budget:>4.0f} MB {h_mb / budget:>4.0%}")
            path.unlink()

    v = interleaved({"version": [*HOSPFAB, "--version"], "typer": [PY, "-c", "import typer"]}, max(7, args.runs))
    v_wall, t_wall = v["version"][0], v["typer"][0]
    print(f"\nhospfab --version: {v_wall:.3f} s ({v['version'][1]:.0f} MB); python -c 'import typer': {t_wall:.3f} s "
          f"({v['typer'][1]:.0f} MB); ratio {v_wall / t_wall:.2f}x")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\ntargets:")
    near = [r for r in rows if 1_000_000 <= r[1] <= 1_600_000]
    for label, facets, _, h_wall, _, a_wall, _ in near:
        print(f"  {verdict(h_wall <= 3 * a_wall)}  check {facets:,}-facet {label} within 3x admesh -e: "
              f"{h_wall:.2f} s vs {a_wall:.2f} s = {h_wall / a_wall:.2f}x (limit 3x)")
    if not near:
        print("  ----  check within 3x admesh: no mesh of about 1.3M facets in --sizes")
    for label, facets, _, _, h_mb, _, budget in (r for r in rows if r[1] >= 1_000_000):  # small: noise
        print(f"  {verdict(h_mb < budget)}  peak RSS {facets:,}-facet {label} under 3 x file + interpreter: "
              f"{h_mb:.0f} MB vs {budget:.0f} MB ({h_mb / budget:.0%})")
    print(f"  {verdict(v_wall <= 1.5 * t_wall)}  hospfab --version within 1.5x of importing typer: "
          f"{v_wall:.3f} s vs {t_wall:.3f} s = {v_wall / t_wall:.2f}x")


def stage_costs(path: Path, min_wall_mm: float | None) -> dict[str, float]:
    """In-process seconds of each stage of one check (read included), best of two."""
    from hospfab.mesh import read_stl
    from hospfab.mesh.report import check_triangles

    best: dict[str, float] = {}
    for _ in range(2):
        start = time.perf_counter()
        tri = read_stl(path)
        read = time.perf_counter() - start
        stats = check_triangles(tri, str(path), min_wall_mm=min_wall_mm).stats
        laps = {"read": read, **stats["timings_s"], "total": time.perf_counter() - start}
        best = {k: min(v, best.get(k, v)) for k, v in laps.items()}
    return best


def surface_checks(runs: int) -> None:
    """The 1.31M-facet sphere with --printer vs admesh -e, the 49k-facet part, each stage's cost."""
    import trimesh

    admesh = shutil.which("admesh")
    print(f"surface checks; load average {os.getloadavg()[0]:.2f}; best of {runs} interleaved runs")
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="hospfab-bench-") as tmp:
        sphere = meshes.write_binary(Path(tmp) / "sphere.stl",
                                     trimesh.creation.icosphere(subdivisions=8, radius=30.0).triangles)
        cmds = {"check --printer": [*HOSPFAB, "check", str(sphere), "--printer", "prusa-mk4", "--json"],
                "check": [*HOSPFAB, "check", str(sphere), "--json"]}
        if admesh:
            cmds["admesh -e"] = [admesh, "-e", str(sphere)]
        res = interleaved(cmds, runs)
        base = res.get("admesh -e", (float("nan"),))[0]
        for name, (wall, mb, rc) in res.items():
            print(f"  sphere 1,310,720 facets  {name:>16}: {wall:6.2f} s {mb:5.0f} MB exit {rc}  "
                  f"({wall / base:.2f}x admesh)")
        ratio = res["check --printer"][0] / base
        verdicts.append((ratio <= 5, f"check --printer of the 1.31M-facet sphere within 5x admesh -e: "
                                     f"{res['check --printer'][0]:.2f} s vs {base:.2f} s = {ratio:.2f}x (limit 5x)"))
        costs = {"sphere 1.31M, --min-wall 0.4": stage_costs(sphere, 0.4)}
        corpus = Path(os.environ.get("HOSPFAB_CORPUS", ROOT.parent / "shared" / "corpus"))
        part = corpus / "makair-blower-propeller-v14.stl"
        if part.is_file():
            cmds = {"check --printer": [*HOSPFAB, "check", str(part), "--printer", "prusa-mk4", "--json"]}
            if admesh:
                cmds["admesh -e"] = [admesh, "-e", str(part)]
            res = interleaved(cmds, runs)
            for name, (wall, mb, rc) in res.items():
                print(f"  {part.name} 49,316 facets  {name:>16}: {wall:6.2f} s {mb:5.0f} MB exit {rc}")
            wall = res["check --printer"][0]
            verdicts.append((wall <= 1.0, f"check --printer of the 49k-facet part under 1 s: {wall:.2f} s"))
            costs["49k part, --min-wall 0.4"] = stage_costs(part, 0.4)
    print("\n  in-process cost of each stage (s):")
    names = ["read", "topology", "bodies", "surface", "ray_scenes", "self_intersections", "thin_walls", "total"]
    print("  " + f"{'':>30}" + "".join(f"{n:>19}" for n in names))
    for label, laps in costs.items():
        print("  " + f"{label:>30}" + "".join(f"{laps.get(n, float('nan')):>19.3f}" for n in names))
    print("\ntargets:")
    for ok, text in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
