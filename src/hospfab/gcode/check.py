"""``check_gcode``: stream a G-code file once and check it against a printer and a material."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hospfab import allocator
from hospfab.errors import InputError
from hospfab.gcode.machine import Issue, Limits, Machine
from hospfab.gcode.tokenize import as_lines, tokenize_fast, tokenize_slow

if TYPE_CHECKING:
    from hospfab.profiles import MaterialProfile, PrinterProfile

CHUNK_BYTES = 1024 * 1024  # large enough to amortise numpy's per-call cost; ~20 MB of temporaries per chunk
_MACRO = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")  # Klipper-style macro (PRINT_START, BED_MESH_CALIBRATE)


@dataclass
class GcodeReport:
    path: Path
    printer: str
    material: str
    issues: list[Issue] = field(default_factory=list)
    warning_issues: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def errors(self) -> list[str]:
        return [f"{i.code}: {i.message}" for i in self.issues]

    @property
    def warnings(self) -> list[str]:
        return [f"{i.code}: {i.message}" for i in self.warning_issues]

    @property
    def codes(self) -> list[str]:
        return sorted({i.code for i in self.issues})

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "printer": self.printer,
            "material": self.material,
            "ok": self.ok,
            "codes": self.codes,
            "errors": [i.to_dict() for i in self.issues],
            "warnings": [i.to_dict() for i in self.warning_issues],
            "stats": self.stats,
        }


def parse_duration(text: str) -> float | None:
    """``1d 9h 13m 17s`` -> seconds."""
    total, found = 0.0, False
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", text):
        total += float(value) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
        found = True
    return total if found else None


_COMMENT_KEYS = {
    b"; estimated printing time (normal mode) = ": "print_time_s",
    b"; filament used [mm] = ": "filament_mm",
    b"; filament used [cm3] = ": "filament_cm3",
    b"; filament used [g] = ": "filament_g",
    b"; gcode_flavor = ": "flavor",
    b"; hospfab printer = ": "hospfab_printer",
    b";TIME:": "print_time_s",
    b";Filament used: ": "filament_m",
}


def _scan_comments(notes: list[bytes], found: dict[str, Any]) -> None:
    """Slicer estimates from comment lines (the tokenizer's ``notes``); the last occurrence wins."""
    for note in notes:
        for key, name in _COMMENT_KEYS.items():
            if note.startswith(key):
                _read_comment(name, note[len(key) :].decode("utf-8", "replace").strip(), found)
                break


def _read_comment(name: str, value: str, found: dict[str, Any]) -> None:
    if name == "print_time_s":
        seconds = parse_duration(value) if not value.replace(".", "").isdigit() else float(value)
        if seconds is not None:
            found[name] = seconds
    elif name in ("flavor", "hospfab_printer"):
        found[name] = value
    else:
        try:
            found[name] = sum(float(v) for v in value.rstrip("m").split(","))
        except ValueError:
            pass


def _chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as fh:
            rest = b""
            while True:
                block = fh.read(CHUNK_BYTES)
                if not block:
                    if rest:
                        yield rest + b"\n"
                    return
                block = rest + block
                # the last line end: LF, or a bare CR (one the next block cannot turn into CR LF)
                cut = max(block.rfind(b"\n"), block.rfind(b"\r", 0, len(block) - 1))
                if cut < 0:
                    rest = block
                    continue
                rest = block[cut + 1 :]
                yield block[: cut + 1]
    except OSError as err:
        raise InputError(f"{path}: cannot read G-code: {err.strerror}") from None


_GCODE_WORD = re.compile(r"[GMT]\d{1,4}$")


def _extents(lo: list[float], hi: list[float]) -> dict[str, list[float]] | None:
    if any(math.isinf(v) for v in lo + hi):
        return None
    return {a: [round(lo[i], 3), round(hi[i], 3)] for i, a in enumerate("xyz")}


def check_gcode(path: Path | str, printer: PrinterProfile, material: MaterialProfile) -> GcodeReport:
    """Parse ``path`` in one streaming pass; report extents, temperatures and estimates, and fail with
    ``out_of_bounds``, ``exceeds_max_height``, ``temperature_out_of_range`` or ``flavor_mismatch``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such G-code file")
    machine = Machine(Limits.of(printer, material))
    allocator.keep_freed_memory()  # pragma: no mutate (allocator tuning: speed only, no verdict)
    comments: dict[str, Any] = {}
    line_base, fast_chunks, slow_chunks, size, layer_changes = 0, 0, 0, 0, 0
    with np.errstate(all="ignore"):  # huge numbers (inf) are refused as out of bounds, not warned about
        for chunk in _chunks(path):
            size += len(chunk)
            chunk = as_lines(chunk)  # a bare CR ends a line, as the firmware reads it; CR LF is one line end
            tokens = tokenize_fast(chunk)
            if tokens is None:
                tokens = tokenize_slow(chunk)
                slow_chunks += 1
            else:
                fast_chunks += 1
            machine.run(tokens, line_base + 1)
            line_base += tokens.lines
            layer_changes += chunk.count(b"\n;LAYER_CHANGE\n") + chunk.startswith(b";LAYER_CHANGE\n")
            _scan_comments(tokens.notes, comments)
    if size == 0:
        raise InputError(f"{path}: empty G-code file")
    if not any(_GCODE_WORD.match(c) for c in machine.commands_seen):
        raise InputError(f"{path}: not G-code (no G, M or T command in {line_base} lines)")

    flavor = comments.get("flavor")
    if flavor and flavor != printer.gcode_flavor:
        machine._issue("flavor_mismatch", f"G-code was generated for the '{flavor}' flavor, printer "
                       f"{printer.name} speaks '{printer.gcode_flavor}'", None)
    macros = sorted(c for c in machine.commands_seen if _MACRO.match(c))
    if macros and printer.gcode_flavor.startswith("marlin"):
        machine._issue("flavor_mismatch", f"Klipper-style macros ({', '.join(macros[:3])}) in G-code for "
                       f"Marlin printer {printer.name}", None)
    if "hospfab_printer" in comments and comments["hospfab_printer"] != printer.name:
        machine._issue("printer_mismatch", f"G-code was sliced for printer {comments['hospfab_printer']}, "
                       f"not {printer.name}", None, warning=True)
    if machine.printing_moves == 0:
        machine._issue("no_extrusion", "no printing move found", None, warning=True)

    estimates = {k: comments[k] for k in ("print_time_s", "filament_mm", "filament_cm3", "filament_g")
                 if k in comments}
    if "filament_m" in comments and "filament_mm" not in estimates:
        estimates["filament_mm"] = comments["filament_m"] * 1000.0
    if "filament_mm" in estimates and "filament_cm3" not in estimates:
        r = material.filament_diameter_mm / 2
        estimates["filament_cm3"] = round(math.pi * r * r * estimates["filament_mm"] / 1000.0, 2)
    if "filament_cm3" in estimates and "filament_g" not in estimates:
        estimates["filament_g"] = round(estimates["filament_cm3"] * material.density_g_cm3, 2)
    stats = {
        "lines": line_base,
        "bytes": size,
        "moves": machine.moves,
        "printing_moves": machine.printing_moves,
        "extents_mm": _extents(machine.print_lo, machine.print_hi),
        "travel_extents_mm": _extents(machine.all_lo, machine.all_hi),
        "max_z_mm": None if math.isinf(machine.all_hi[2]) else round(machine.all_hi[2], 3),
        "max_print_z_mm": None if math.isinf(machine.print_hi[2]) else round(machine.print_hi[2], 3),
        "layers": layer_changes or len(machine.layer_z),  # the slicer's layer markers, else distinct Z
        "nozzle_temps_c": sorted(machine.nozzle_temps),
        "bed_temps_c": sorted(machine.bed_temps),
        "estimates": estimates,
        "flavor": flavor,
        "issue_counts": dict(machine.counts),
        "parser": {"fast_chunks": fast_chunks, "slow_chunks": slow_chunks},
    }
    return GcodeReport(path, printer.name, material.name, machine.issues, machine.warnings, stats)
