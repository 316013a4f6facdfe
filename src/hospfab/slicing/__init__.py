"""Slicing: checked STL files + printer/material/process profiles -> checked G-code with a hospfab header.

``slice_parts`` runs, in order: the mesh check of every input (refused unless ``force``), the bed-fit check
of every part and copy (``exceeds_build_volume``, never overridable), the slicer backend with a generated
config, the hospfab header, and the G-code check against the same profiles. The output file appears only
when everything passed (written next to it, then renamed).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hospfab import __version__
from hospfab.errors import CheckFailed, InputError
from hospfab.fileio import atomic_path
from hospfab.profiles import MaterialProfile, PrinterProfile, ProcessProfile
from hospfab.slicing.backend import SliceJob, SlicerBackend, SlicerInfo
from hospfab.slicing.config import ARRANGE_DISTANCE_MM
from hospfab.slicing.prusaslicer import PrusaSlicerBackend

__all__ = ["SliceResult", "SlicerBackend", "SlicerInfo", "PrusaSlicerBackend", "slice_parts", "plate_fits",
           "file_sha256"]

MAX_COPIES = 500


@dataclass
class SliceResult:
    output: Path
    sha256: str
    estimates: dict[str, float | None]
    layers: int
    extents_mm: dict[str, list[float]] | None
    copies: int
    slicer: SlicerInfo
    forced: bool = False
    inputs: list[dict[str, str]] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    mesh_errors: dict[str, list[str]] = field(default_factory=dict)
    gcode: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "sha256": self.sha256,
            "estimates": self.estimates,
            "layers": self.layers,
            "extents_mm": self.extents_mm,
            "copies": self.copies,
            "slicer": self.slicer.to_dict(),
            "forced": self.forced,
            "inputs": self.inputs,
            "profiles": self.profiles,
            "mesh_errors": self.mesh_errors,
            "gcode_check": self.gcode,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plate_fits(footprints: list[tuple[float, float]], bed_xy: tuple[float, float],
               gap_mm: float = ARRANGE_DISTANCE_MM) -> bool:
    """Shelf packing (rows, deepest parts first) with ``gap_mm`` between parts: a conservative test of
    whether every footprint fits on the bed at once without rotation."""
    bed_x, bed_y = bed_xy
    if any(w > bed_x or d > bed_y for w, d in footprints):
        return False
    row_w, row_d, used_d = 0.0, 0.0, 0.0
    for w, d in sorted(footprints, key=lambda f: (f[1], f[0]), reverse=True):
        needed = w if row_w == 0 else row_w + gap_mm + w
        if needed <= bed_x:
            row_w, row_d = needed, max(row_d, d)
            continue
        used_d += row_d + gap_mm
        row_w, row_d = w, d
    return used_d + row_d <= bed_y


def _header(inputs: list[dict[str, str]], printer: PrinterProfile, material: MaterialProfile,
            process: ProcessProfile, copies: int, slicer: SlicerInfo, forced: bool) -> bytes:
    lines = [
        "; hospfab header begin",
        f"; hospfab version = {__version__}",
        f"; hospfab printer = {printer.name}",
        f"; hospfab material = {material.name}",
        f"; hospfab process = {process.name}",
        f"; hospfab copies = {copies}",
        f"; hospfab slicer = {slicer.name} {slicer.version}",
        f"; hospfab forced = {'yes' if forced else 'no'}",
    ]
    lines += [f"; hospfab input = {i['name']} sha256:{i['sha256']}" for i in inputs]
    lines.append("; hospfab header end")
    return ("\n".join(lines) + "\n").encode()


def _mesh_gate(stls: list[Path], printer: PrinterProfile, copies: int, force: bool) -> dict[str, list[str]]:
    from hospfab.mesh import check_file

    failures: dict[str, list[str]] = {}
    footprints: list[tuple[float, float]] = []
    x, y, z = printer.build_volume_mm
    for stl in stls:
        report = check_file(stl)
        if not report.ok:
            failures[str(stl)] = list(report.errors)
        ex = [float(v) for v in report.stats["extents_mm"]]
        if ex[0] > x or ex[1] > y or ex[2] > z:
            raise CheckFailed(
                f"{stl.name}: {ex[0]:g} x {ex[1]:g} x {ex[2]:g} mm does not fit printer {printer.name} "
                f"({x:g} x {y:g} x {z:g} mm) as oriented", code="exceeds_build_volume",
                details={"extents_mm": ex, "build_volume_mm": [x, y, z]},
            )
        footprints += [(ex[0], ex[1])] * copies
    if not plate_fits(footprints, (x, y)):
        raise CheckFailed(
            f"{len(footprints)} part(s) ({copies} cop{'y' if copies == 1 else 'ies'} of "
            f"{', '.join(p.name for p in stls)}) do not fit together on the {x:g} x {y:g} mm bed of "
            f"{printer.name} with {ARRANGE_DISTANCE_MM:g} mm between parts", code="exceeds_build_volume",
        )
    if failures and not force:
        detail = "; ".join(f"{Path(k).name}: {', '.join(v)}" for k, v in failures.items())
        raise CheckFailed(f"mesh check failed ({detail}); fix the mesh or use --force", code="mesh_check_failed",
                          details={"mesh_errors": failures})
    return failures


def slice_parts(
    stls: list[Path],
    printer: PrinterProfile,
    material: MaterialProfile,
    process: ProcessProfile,
    copies: int = 1,
    *,
    output: Path,
    force: bool = False,
    backend: SlicerBackend | None = None,
) -> SliceResult:
    """Check, slice, stamp and check: see the module docstring. Raises CheckFailed / SlicerError / InputError."""
    from hospfab.gcode import check_gcode

    stls = [Path(p).absolute() for p in stls]  # the slicer runs in a work folder: relative paths would break
    output = Path(output)
    if not stls:
        raise InputError("no STL file given")
    if not 1 <= copies <= MAX_COPIES:
        raise InputError(f"copies must be between 1 and {MAX_COPIES} (got {copies})")
    for stl in stls:
        if not stl.is_file():
            raise InputError(f"{stl}: no such STL file")
    if not output.parent.is_dir():
        raise InputError(f"{output.parent}: output folder does not exist")
    mesh_errors = _mesh_gate(stls, printer, copies, force)
    backend = backend or PrusaSlicerBackend()
    slicer = backend.info()
    inputs = [{"name": p.name, "sha256": file_sha256(p)} for p in stls]
    forced = bool(mesh_errors)

    with tempfile.TemporaryDirectory(prefix="hospfab-slice-") as tmp:
        work = Path(tmp)
        raw = work / "raw.gcode"
        backend.slice(SliceJob(stls, printer, material, process, copies, raw, work))
        with atomic_path(output) as staged:
            digest = hashlib.sha256()
            with staged.open("wb") as out, raw.open("rb") as src:
                head = _header(inputs, printer, material, process, copies, slicer, forced)
                out.write(head)
                digest.update(head)
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
            report = check_gcode(staged, printer, material)
            if not report.ok:
                raise CheckFailed(
                    f"G-code for {', '.join(p.name for p in stls)} on {printer.name} failed its check: "
                    + "; ".join(report.errors[:3]),
                    code=report.codes[0], details={"gcode_check": report.to_dict()},
                )

    stats = report.stats
    est = stats["estimates"]
    estimates = {k: est.get(k) for k in ("print_time_s", "filament_mm", "filament_cm3", "filament_g")}
    check = report.to_dict()
    check["path"] = str(output)
    return SliceResult(
        output=output, sha256=digest.hexdigest(), estimates=estimates, layers=stats["layers"],
        extents_mm=stats["extents_mm"], copies=copies, slicer=slicer, forced=forced, inputs=inputs,
        profiles={"printer": printer.name, "material": material.name, "process": process.name},
        mesh_errors=mesh_errors, gcode=check,
    )
