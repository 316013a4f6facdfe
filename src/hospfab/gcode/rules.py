"""Temperature, heating and firmware rules applied while G-code is read (the state behind :class:`Machine`).

- Every heating command (``M104``/``M109`` nozzle, ``M140``/``M190`` bed, ``M141``/``M191`` chamber,
  ``M303`` PID autotune) is held to the printer's and the material's maximum, and never below 0 °C.
- Extrusion needs a nozzle target at or above the cold-extrusion limit (the printer's ``min_extrude_temp_c``,
  Klipper's ``min_extrude_temp``) and the material's minimum, and a bed at the material's minimum.
- Commands that change the firmware (:data:`~hospfab.profiles.models.FIRMWARE_COMMANDS`) are refused unless
  the printer profile allows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hospfab.profiles.models import FIRMWARE_COMMANDS

if TYPE_CHECKING:
    from hospfab.profiles import MaterialProfile, PrinterProfile

MAX_REPORTED = 5  # issues of one kind reported in full; the rest are counted
# M303 without S: Marlin's default autotune targets (hotend 150 °C, bed 70 °C, chamber 70 °C).
AUTOTUNE_DEFAULT_C = {"nozzle": 150.0, "bed": 70.0, "chamber": 70.0}
# Firmware commands that only report when given no value (M211 reports the endstop state, M92 the steps...).
_REPORT_WITHOUT_WORDS = frozenset({"M92", "M206", "M302", "M851"})


@dataclass
class Issue:
    code: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line}


@dataclass
class Limits:
    """What the printer and the material allow, in mm and °C."""

    bed_x_mm: float
    bed_y_mm: float
    max_z_mm: float
    nozzle_min_c: float
    nozzle_max_c: float
    bed_min_c: float
    bed_max_c: float
    printer_nozzle_max_c: float
    printer_bed_max_c: float
    travel_x_mm: tuple[float, float]  # (min, max) where the head may go: the bed unless the profile widens it
    travel_y_mm: tuple[float, float]
    min_extrude_c: float = 0.0  # the printer's cold-extrusion limit
    chamber_max_c: float = 0.0  # 0: no heated chamber
    allowed_commands: frozenset[str] = frozenset()

    @classmethod
    def of(cls, printer: PrinterProfile, material: MaterialProfile) -> Limits:
        x, y, z = printer.build_volume_mm
        travel_x, travel_y = printer.travel_area_mm
        return cls(
            bed_x_mm=x, bed_y_mm=y, max_z_mm=z,
            nozzle_min_c=material.nozzle_temp_min_c, nozzle_max_c=material.nozzle_temp_max_c,
            bed_min_c=material.bed_temp_min_c, bed_max_c=material.bed_temp_max_c,
            printer_nozzle_max_c=printer.max_nozzle_temp_c, printer_bed_max_c=printer.max_bed_temp_c,
            travel_x_mm=travel_x, travel_y_mm=travel_y, min_extrude_c=printer.min_extrude_temp_c,
            chamber_max_c=printer.max_chamber_temp_c, allowed_commands=frozenset(printer.allowed_firmware_commands),
        )


@dataclass
class Rules:
    limits: Limits
    nozzle_c: float | None = None
    bed_c: float | None = None
    temps_pending: bool = True  # a temperature changed since the last extrusion was checked
    nozzle_temps: set[float] = field(default_factory=set)
    bed_temps: set[float] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def _issue(self, code: str, message: str, line: int | None, warning: bool = False) -> None:
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] <= MAX_REPORTED:
            (self.warnings if warning else self.issues).append(Issue(code, message, line))

    # -- extrusion -------------------------------------------------------------------------------------------
    def check_temps_in_use(self, line: int) -> None:
        """The first extruding move after a temperature change: the targets in force must allow it."""
        lim = self.limits
        self.temps_pending = False
        nozzle = self.nozzle_c
        if nozzle is None or nozzle <= 0 or nozzle < lim.min_extrude_c:
            state = "not set" if nozzle is None else f"at {nozzle:g} °C"
            self._issue("cold_extrusion", f"line {line}: extrusion with the nozzle {state}, below the printer's "
                        f"cold-extrusion limit {lim.min_extrude_c:g} °C", line)
        elif nozzle < lim.nozzle_min_c:
            self._issue("temperature_out_of_range", f"line {line}: extruding with the nozzle at {nozzle:g} °C, "
                        f"below the material's minimum {lim.nozzle_min_c:g} °C", line)
        bed = self.bed_c
        if lim.bed_min_c > 0 and (bed is None or bed < lim.bed_min_c):
            state = "not set" if bed is None else f"at {bed:g} °C"
            self._issue("temperature_out_of_range", f"line {line}: printing with the bed {state}, below the "
                        f"material's minimum bed temperature {lim.bed_min_c:g} °C", line)

    # -- heating ---------------------------------------------------------------------------------------------
    def heat(self, cmd: str, w: dict[str, float], line: int) -> None:
        """M104/M109/M140/M190/M141/M191 set a target (S, or R for the waiting forms); M303 heats for an
        autotune (E index: -1 bed, -2 chamber, else a nozzle; S target)."""
        if cmd == "M303":
            index = w.get("E", 0.0)
            which = "bed" if index == -1 else "chamber" if index == -2 else "nozzle"
            self._check_heat(which, w.get("S", AUTOTUNE_DEFAULT_C[which]), line, f"{which} autotune (M303)")
            return
        value = w.get("S", w.get("R"))
        if value is None:
            return
        which = "nozzle" if cmd in ("M104", "M109") else "bed" if cmd in ("M140", "M190") else "chamber"
        if which == "nozzle":
            self.nozzle_c = value
            self.nozzle_temps.add(value)
            self.temps_pending = True
        elif which == "bed":
            self.bed_c = value
            self.bed_temps.add(value)
            self.temps_pending = True
        self._check_heat(which, value, line, f"{which} set")

    def _check_heat(self, which: str, value: float, line: int, what: str) -> None:
        lim = self.limits
        if which == "nozzle":
            printer_top, material_top = lim.printer_nozzle_max_c, lim.nozzle_max_c
        elif which == "bed":
            printer_top, material_top = lim.printer_bed_max_c, lim.bed_max_c
        else:
            printer_top = material_top = lim.chamber_max_c
        if value > printer_top:
            limit = "no heated chamber" if which == "chamber" and printer_top <= 0 else f"limit {printer_top:g} °C"
            self._issue("temperature_out_of_range", f"line {line}: {what} to {value:g} °C, above the printer's "
                        f"{limit}", line)
        elif value > material_top:
            self._issue("temperature_out_of_range", f"line {line}: {what} to {value:g} °C, above the material's "
                        f"maximum {material_top:g} °C", line)
        elif value < 0:
            self._issue("temperature_out_of_range", f"line {line}: {what} to {value:g} °C", line)

    # -- firmware --------------------------------------------------------------------------------------------
    def firmware_command(self, cmd: str, w: dict[str, float], line: int) -> None:
        """Refuse a command that changes the firmware, unless the profile allows it. Forms that only report
        (``M211`` alone or ``M211 S1``, ``M92`` with no value) pass."""
        if cmd not in FIRMWARE_COMMANDS or cmd in self.limits.allowed_commands:
            return
        if cmd == "M211" and w.get("S", 1.0) != 0:
            return
        if cmd in _REPORT_WITHOUT_WORDS and not w:
            return
        self._issue("firmware_command", f"line {line}: {cmd} {FIRMWARE_COMMANDS[cmd]}; refused unless the "
                    f"printer profile lists it in allowed_firmware_commands", line)
