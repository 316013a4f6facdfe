"""Benchmark: G-code check speed against `wc -l`, and `hospfab slice` against the bare slicer command.

Run: .venv/bin/python bench/gcode_bench.py [--repeat N]
Prints figures only (no pass/fail): lines/s of check_gcode vs wc -l on a ~1M-line G-code file, and the wall
time of `hospfab slice` vs the bare prusa-slicer command on the same STL (targets: >= 1M lines/s, < 10 %).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import trimesh

    from hospfab.gcode import check_gcode
    from hospfab.profiles import ProfileStore
    from hospfab.slicing.backend import SliceJob
    from hospfab.slicing.prusaslicer import PrusaSlicerBackend

    if shutil.which("prusa-slicer") is None:
        sys.exit("prusa-slicer not installed")
    store = ProfileStore(REPO / "profiles")
    printer, material, process = store.printer("prusa-mk4"), store.material("pla"), store.process("standard")
    hospfab = [str(Path(sys.executable).parent / "hospfab")]
    if not Path(hospfab[0]).exists():
        hospfab = [sys.executable, "-m", "hospfab"]
    with tempfile.TemporaryDirectory(prefix="hospfab-bench-") as tmp:
        work = Path(tmp)
        stl = work / "torus.stl"
        trimesh.creation.torus(45, 18, major_sections=256, minor_sections=128).export(stl)
        backend = PrusaSlicerBackend()
        bare_cmd = backend.command(SliceJob([stl], printer, material, process, 1, work / "bare.gcode", work))
        hf_cmd = [*hospfab, "--profiles", str(REPO / "profiles"), "slice", str(stl), "-p", printer.name,
                  "-m", material.name, "--process", process.name, "-o", str(work / "h.gcode")]
        run = lambda cmd: subprocess.run(cmd, check=True, capture_output=True, cwd=work)  # noqa: E731
        run(bare_cmd)  # warm caches
        t_bare = best(lambda: run(bare_cmd), args.repeat)
        t_hf = best(lambda: run(hf_cmd), args.repeat)
        gcode = work / "h.gcode"
        lines = sum(1 for _ in gcode.open("rb"))
        t_wc = best(lambda: run(["wc", "-l", str(gcode)]), args.repeat)
        report = None

        def parse():
            nonlocal report
            report = check_gcode(gcode, printer, material)

        t_parse = best(parse, args.repeat)
        cpu0 = time.process_time()
        parse()
        cpu_parse = time.process_time() - cpu0
        t_cli = best(lambda: run([*hospfab, "--profiles", str(REPO / "profiles"), "gcode", "check", str(gcode),
                                  "-p", printer.name, "-m", material.name]), args.repeat)
        mb = gcode.stat().st_size / 1e6
        print(f"G-code: {lines:,} lines, {mb:.1f} MB (torus 45/18 mm on {printer.name}, {process.name}); ok={report.ok}")
        print(f"  wc -l                 {t_wc * 1000:8.1f} ms   {lines / t_wc / 1e6:7.1f} M lines/s")
        print(f"  check_gcode (in-proc) {t_parse * 1000:8.1f} ms   {lines / t_parse / 1e6:7.2f} M lines/s"
              f"   (CPU {cpu_parse * 1000:.0f} ms; {t_parse / t_wc:.0f}x wc -l)   target >= 1M lines/s")
        print(f"  hospfab gcode check   {t_cli * 1000:8.1f} ms   (CLI, includes start-up)")
        print(f"slice: bare prusa-slicer {t_bare:6.2f} s, hospfab slice {t_hf:6.2f} s, "
              f"overhead {100 * (t_hf - t_bare) / t_bare:+.1f} %   target < 10 %")


if __name__ == "__main__":
    main()
