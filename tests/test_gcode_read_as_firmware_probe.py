"""G-code files as a hostile night brings them: bare-CR line ends (a line end for the firmware) must be read
in bounded pieces like LF files (a bare-CR file was one chunk grown by repeated concatenation: 21 MB took
9 s and 810 MB, a 1 GB file with no LF never ended), and no numpy warning may reach the terminal."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

from hospfab.gcode.check import check_gcode
from hospfab.profiles.store import ProfileStore

REPO = Path(__file__).resolve().parents[1]


def profiles():
    store = ProfileStore(REPO / "profiles")
    return store.printer("prusa-mk4"), store.material("petg")


def write_moves(path: Path, newline: str, lines: int = 120_000) -> Path:
    body = newline.join(["M104 S240", *["G1 X10 Y10 Z0.2 E0.1"] * lines]) + newline
    path.write_bytes(body.encode())
    return path


def peak_mb(path: Path) -> tuple[float, object]:
    printer, material = profiles()
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check_gcode(path, printer, material)
        return tracemalloc.get_traced_memory()[1] / 2**20, report
    finally:
        tracemalloc.stop()


def test_bare_cr_file_is_read_in_bounded_pieces_like_an_lf_file(tmp_path):
    lf_peak, lf_report = peak_mb(write_moves(tmp_path / "lf.gcode", "\n"))
    cr_peak, cr_report = peak_mb(write_moves(tmp_path / "cr.gcode", "\r"))
    assert cr_report.ok == lf_report.ok
    assert cr_peak < 1.3 * lf_peak, f"bare CR: {cr_peak:.0f} MB peak against {lf_peak:.0f} MB for the same lines"


def test_no_numpy_warning_reaches_the_terminal(tmp_path):
    gcode = tmp_path / "small.gcode"
    gcode.write_text("M104 S240\nG1 X10 Y10\n")
    done = subprocess.run([sys.executable, "-m", "hospfab", "gcode", "check", str(gcode), "-p", "prusa-mk4", "-m",
                           "petg"], capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    assert "Warning" not in done.stderr, done.stderr
