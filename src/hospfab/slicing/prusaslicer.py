"""PrusaSlicer command-line backend (Debian ``prusa-slicer``).

It runs headless with ``--export-gcode``, a config generated from the profiles, a timeout, and treats
signals (rc 134 abort, 139 segfault) and non-zero exits as errors. It does NOT protect against off-bed or
too-tall output (rc 0): the caller checks meshes and fit before, and the G-code after.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from hospfab.errors import SlicerError
from hospfab.slicing.backend import SliceJob, SlicerInfo
from hospfab.slicing.config import prusaslicer_config, write_ini

DEFAULT_TIMEOUT_S = 600.0
EXECUTABLE_ENV = "HOSPFAB_PRUSA_SLICER"


@lru_cache(maxsize=4)
def _version(executable: str) -> str:
    try:
        out = subprocess.run([executable, "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SlicerError(f"{executable}: cannot run PrusaSlicer: {err}") from None
    match = re.search(r"PrusaSlicer-([0-9][^\s]*)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


class PrusaSlicerBackend:
    name = "PrusaSlicer"

    def __init__(self, executable: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        found = executable or os.environ.get(EXECUTABLE_ENV) or shutil.which("prusa-slicer")
        if not found:
            raise SlicerError(
                "prusa-slicer not found: install it (scripts/install-system-deps) or set HOSPFAB_PRUSA_SLICER",
                code="slicer_missing",
            )
        self.executable = found
        self.timeout_s = timeout_s

    def info(self) -> SlicerInfo:
        return SlicerInfo(self.name, _version(self.executable))

    def command(self, job: SliceJob) -> list[str]:
        ini = write_ini(prusaslicer_config(job.printer, job.material, job.process), job.workdir / "hospfab.ini")
        x, y, _ = job.printer.build_volume_mm
        cmd = [self.executable, "--loglevel", "1", "--load", str(ini)]
        if len(job.stls) > 1:
            cmd.append("--merge")
        if job.copies > 1:
            cmd += ["--duplicate", str(job.copies)]
        elif len(job.stls) == 1:
            cmd += ["--center", f"{x / 2:g},{y / 2:g}"]
        cmd += ["--export-gcode", "-o", str(job.output), *map(str, job.stls)]
        return cmd

    def slice(self, job: SliceJob) -> None:
        cmd = self.command(job)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s, cwd=job.workdir)
        except subprocess.TimeoutExpired:
            raise SlicerError(f"PrusaSlicer timed out after {self.timeout_s:g} s slicing "
                              f"{', '.join(p.name for p in job.stls)}", code="slicer_timeout") from None
        except OSError as err:
            raise SlicerError(f"{self.executable}: cannot run PrusaSlicer: {err.strerror}") from None
        text = "\n".join(
            line for line in (proc.stdout + "\n" + proc.stderr).splitlines()
            if line.strip() and "[trace]" not in line and not re.match(r"^\d+ => ", line)
        )
        last = text.strip().splitlines()[-1] if text.strip() else ""
        names = ", ".join(p.name for p in job.stls)
        if proc.returncode < 0 or proc.returncode in (134, 139):
            raise SlicerError(f"PrusaSlicer crashed (exit {proc.returncode}) slicing {names}"
                              + (f": {last}" if last else ""), code="slicer_crashed")
        if proc.returncode != 0:
            code = "exceeds_build_volume" if re.search(r"fit|arrange|outside", text, re.I) else "slicer_failed"
            raise SlicerError(f"PrusaSlicer failed (exit {proc.returncode}) slicing {names}"
                              + (f": {last}" if last else ""), code=code)
        if not job.output.is_file() or job.output.stat().st_size == 0:
            raise SlicerError(f"PrusaSlicer wrote no G-code for {names}" + (f": {last}" if last else ""))
