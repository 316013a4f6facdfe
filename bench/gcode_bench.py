"""Benchmark: G-code check speed against `wc -l`, and `hospfab slice` against the bare slicer command.

Run: .venv/bin/python bench/gcode_bench.py [--repeat N] [--no-slice]
Two G-code files of ~1.2M lines: the slicer's own output for a torus (almost only G1 moves), and a
comment- and M-code-heavy file built from it (~40 % non-move lines: ;TYPE/;WIDTH comments, M73/M106/M204,
inline comments, arcs, a G92 E0 per "layer"). For each: lines/s of check_gcode in-process, the whole
`hospfab gcode check` process, and `wc -l` measured in the same run; PASS/MISS against >= 1M lines/s.
Then `hospfab slice` wall time vs the bare prusa-slicer command (target: overhead < 10 %).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
TARGET_LINES_S = 1e6


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def noisy_gcode(source: Path, target: Path, lines: int) -> None:
    """~40 % non-move lines around the moves of ``source``: comments, M-codes, inline comments, arcs."""
    rng = random.Random(7)
    moves = [ln for ln in source.read_bytes().split(b"\n") if ln.startswith(b"G1 ")]
    extras = [b";TYPE:External perimeter", b";WIDTH:0.449999", b"; a longer comment with words X1 Y2 E3",
              b"M73 P12 R40", b"M106 S204", b"M204 S1000", b"M117 Layer 12 of 200", b";HEIGHT:0.2", b"G4 S0",
              b"M107", b"T0", b"", b"M221 S100"]
    out, k = [b"M83", b"M104 S215", b"M140 S60", b"G90", b"G28", b"G1 Z0.2 F720", b"G1 X100 Y100 F9000"], 0
    while len(out) < lines:
        r = rng.random()
        if r < 0.40:
            out.append(rng.choice(extras))
        elif r < 0.43:
            out.append(b"G2 X120 Y100 I10 J0 E0.5 ; arc")
        elif r < 0.48:
            out.append(moves[k % len(moves)] + b" ; perimeter")
            k += 1
        elif r < 0.485:
            out.append(b"G92 E0")
        else:
            out.append(moves[k % len(moves)])
            k += 1
    target.write_bytes(b"\n".join(out) + b"\n")


def measure(name: str, gcode: Path, printer, material, hospfab: list[str], repeat: int) -> bool:
    from hospfab.gcode import check_gcode

    run = lambda cmd: subprocess.run(cmd, capture_output=True)  # noqa: E731  (exit 1 = issues found)
    lines = int(subprocess.run(["wc", "-l", str(gcode)], capture_output=True, text=True).stdout.split()[0])
    t_wc = best(lambda: run(["wc", "-l", str(gcode)]), repeat)
    report = None

    def parse():
        nonlocal report
        report = check_gcode(gcode, printer, material)

    t_parse = best(parse, repeat)
    cpu0 = time.process_time()
    parse()
    cpu_parse = time.process_time() - cpu0
    cli = [*hospfab, "--profiles", str(REPO / "profiles"), "gcode", "check", str(gcode), "-p", printer.name,
           "-m", material.name]
    t_cli = best(lambda: run(cli), repeat)
    tiny = gcode.with_name("tiny.gcode")
    tiny.write_bytes(b"G28\nG1 X10 Y10 Z0.2\n")
    t_start = best(lambda: run(cli[:-5] + [str(tiny)] + cli[-4:]), repeat)
    mb = gcode.stat().st_size / 1e6
    moves = report.stats["moves"]
    print(f"{name}: {lines:,} lines, {mb:.1f} MB, {100 * (1 - moves / lines):.0f} % non-move lines; "
          f"ok={report.ok} {report.codes}")
    print(f"  wc -l                 {t_wc * 1000:8.1f} ms   {lines / t_wc / 1e6:7.1f} M lines/s")
    print(f"  check_gcode (in-proc) {t_parse * 1000:8.1f} ms   {lines / t_parse / 1e6:7.2f} M lines/s"
          f"   (CPU {cpu_parse * 1000:.0f} ms; {t_parse / t_wc:.0f}x wc -l)")
    print(f"  hospfab gcode check   {t_cli * 1000:8.1f} ms   {lines / t_cli / 1e6:7.2f} M lines/s"
          f"   (whole process; on a 2-line file {t_start * 1000:.0f} ms)")
    ok, ok_cli = lines / t_parse >= TARGET_LINES_S, lines / t_cli >= TARGET_LINES_S
    print(f"  {'PASS' if ok else 'MISS'}: check_gcode >= {TARGET_LINES_S / 1e6:g}M lines/s;  "
          f"{'PASS' if ok_cli else 'MISS'}: whole process (start-up and profile loading included) "
          f">= {TARGET_LINES_S / 1e6:g}M lines/s")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-slice", action="store_true", help="skip timing hospfab slice vs the slicer")
    args = parser.parse_args()
    import trimesh

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
        run(hf_cmd)
        gcode = work / "h.gcode"
        noisy = work / "noisy.gcode"
        noisy_gcode(gcode, noisy, sum(1 for _ in gcode.open("rb")))
        results = [measure(f"slicer G-code (torus 45/18 mm on {printer.name}, {process.name})", gcode,
                           printer, material, hospfab, args.repeat),
                   measure("comment/M-code/arc-heavy G-code", noisy, printer, material, hospfab, args.repeat)]
        print(f"{'PASS' if all(results) else 'MISS'}: check_gcode >= 1M lines/s on both files")
        if not args.no_slice:
            run(bare_cmd)  # warm caches
            t_bare = best(lambda: run(bare_cmd), args.repeat)
            t_hf = best(lambda: run(hf_cmd), args.repeat)
            overhead = 100 * (t_hf - t_bare) / t_bare
            print(f"slice: bare prusa-slicer {t_bare:6.2f} s, hospfab slice {t_hf:6.2f} s, "
                  f"overhead {overhead:+.1f} %   {'PASS' if overhead < 10 else 'MISS'} (target < 10 %)")


if __name__ == "__main__":
    main()
