"""Typed profile models: printers, materials, processes.

Units are in the field names (``_mm``, ``_c`` for degrees Celsius, ``_percent``, ``_mm_s``, ``_g_cm3``).
Every numeric field has bounds; unknown keys are rejected. Models are immutable once loaded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GcodeFlavor = Literal["marlin2", "marlin", "reprapfirmware", "repetier", "smoothie"]

# Commands that change the firmware's settings or protections rather than the print; `gcode check` refuses
# them unless the printer profile lists them in ``allowed_firmware_commands``.
FIRMWARE_COMMANDS: dict[str, str] = {
    "M92": "changes the steps per mm (every distance)",
    "M206": "changes the home offsets (the coordinate system)",
    "M211": "turns the software endstops off (with S0)",
    "M302": "changes or disables the cold-extrusion protection",
    "M428": "sets the home offsets from the current position",
    "M500": "saves the settings to EEPROM",
    "M502": "resets the settings to the firmware defaults",
    "M851": "changes the probe Z offset (the first layer height)",
    "M997": "starts a firmware update",
}
MAX_TRAVEL_BEYOND_BED_MM = 50.0  # a travel area wider than this beside the bed is a typo, not a purge line

DisinfectionMethod = Literal[
    "soap_and_water",
    "isopropyl_alcohol_70",
    "ethanol_70",
    "quaternary_ammonium",
    "chlorine_0_1_percent",
    "hydrogen_peroxide_wipe",
    "hydrogen_peroxide_plasma",
    "ethylene_oxide",
    "uv_c",
    "autoclave_121c",
    "autoclave_134c",
]


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Profile name (the file name without .yaml).")
    description: str = Field("", description="One line for people: what this profile is for.")
    inherits: str | None = Field(None, description="Name of the profile of the same kind this one extends.")

    kind: str = "profile"

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


class PrinterProfile(_Profile):
    """A printer model: what it can physically do and the G-code it expects."""

    kind: Literal["printer"] = "printer"
    vendor: str = Field("", description="Manufacturer.")
    firmware: str = Field("", description="Firmware family, for people (e.g. Prusa-Firmware-Buddy).")
    gcode_flavor: GcodeFlavor = Field("marlin2", description="G-code dialect the firmware speaks.")
    build_volume_mm: tuple[float, float, float] = Field(
        description="Printable volume X, Y, Z in mm, from the bed origin (0, 0, 0)."
    )
    nozzle_diameter_mm: float = Field(0.4, ge=0.1, le=2.0, description="Nozzle bore in mm.")
    filament_diameter_mm: float = Field(1.75, ge=1.0, le=3.0, description="Filament the extruder takes, mm.")
    max_nozzle_temp_c: float = Field(ge=150, le=500, description="Hottest safe nozzle temperature, °C.")
    max_bed_temp_c: float = Field(ge=0, le=150, description="Hottest safe bed temperature, °C.")
    retract_length_mm: float = Field(0.8, ge=0, le=10, description="Retraction length in mm.")
    retract_speed_mm_s: float = Field(35, ge=1, le=200, description="Retraction speed in mm/s.")
    max_print_speed_mm_s: float = Field(200, ge=10, le=1000, description="Fastest printing move, mm/s.")
    travel_speed_mm_s: float = Field(150, ge=10, le=1000, description="Travel (non-printing) speed, mm/s.")
    bed_clearing: bool = Field(
        False, description="True when finished parts are removed automatically (belt, ejector)."
    )
    test_only: bool = Field(False, description="Profile for test rigs only; never for real parts.")
    start_gcode: str = Field(
        "", description="G-code run before the print; PrusaSlicer placeholders like [first_layer_temperature]."
    )
    end_gcode: str = Field("", description="G-code run after the print.")
    travel_x_mm: tuple[float, float] | None = Field(
        None,
        description="Where the head may go in X (min, max), mm, when wider than the bed 0..X: like Klipper's "
        "position_min/position_max or OctoPrint's custom_box (purge lines, parking). Default: the bed.",
    )
    travel_y_mm: tuple[float, float] | None = Field(
        None, description="Where the head may go in Y (min, max), mm; e.g. [-4, 210] for Prusa's purge line."
    )
    min_extrude_temp_c: float = Field(
        170, ge=0, le=300,
        description="Cold-extrusion limit, °C (Marlin EXTRUDE_MINTEMP, Klipper min_extrude_temp): no extrusion "
        "below it, whatever the material.",
    )
    max_chamber_temp_c: float = Field(
        0, ge=0, le=100, description="Hottest safe heated-chamber temperature, °C (0: no heated chamber)."
    )
    allowed_firmware_commands: tuple[str, ...] = Field(
        (), description="Firmware-changing commands this printer's G-code may contain (M500, M211...); "
        "refused otherwise.",
    )

    @property
    def travel_area_mm(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(X min, X max), (Y min, Y max) where the head may go: the bed unless the profile widens it."""
        from hospfab.profiles.store import travel_area

        return travel_area(self.build_volume_mm, self.travel_x_mm, self.travel_y_mm)

    @field_validator("allowed_firmware_commands")
    @classmethod
    def _known_commands(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in FIRMWARE_COMMANDS]
        if unknown:
            raise ValueError(f"unknown firmware command(s) {', '.join(unknown)}; known: "
                             f"{', '.join(FIRMWARE_COMMANDS)}")
        return value

    @model_validator(mode="after")
    def _travel_contains_bed(self) -> PrinterProfile:
        for axis, size, area in (("x", self.build_volume_mm[0], self.travel_x_mm),
                                 ("y", self.build_volume_mm[1], self.travel_y_mm)):
            if area is None:
                continue
            lo, hi = area
            if not (-MAX_TRAVEL_BEYOND_BED_MM <= lo <= 0 and size <= hi <= size + MAX_TRAVEL_BEYOND_BED_MM):
                raise ValueError(
                    f"travel_{axis}_mm must contain the bed 0..{size:g} and reach at most "
                    f"{MAX_TRAVEL_BEYOND_BED_MM:g} mm beyond it (got [{lo:g}, {hi:g}])"
                )
        return self

    @field_validator("build_volume_mm")
    @classmethod
    def _volume_bounds(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        for axis, v in zip("XYZ", value, strict=True):
            if not 10 <= v <= 2000:
                raise ValueError(f"{axis} must be between 10 and 2000 mm (got {v:g})")
        return value


class MaterialProfile(_Profile):
    """A filament: temperatures it prints at, how heavy it is, how it may be cleaned."""

    kind: Literal["material"] = "material"
    family: str = Field("", description="Polymer family (PLA, PETG, ABS, PC, PA...).")
    filament_diameter_mm: float = Field(1.75, ge=1.0, le=3.0, description="Filament diameter, mm.")
    density_g_cm3: float = Field(ge=0.5, le=3.0, description="Density in g/cm3 (for weight estimates).")
    nozzle_temp_min_c: float = Field(ge=150, le=500, description="Lowest acceptable nozzle temperature, °C.")
    nozzle_temp_max_c: float = Field(ge=150, le=500, description="Highest acceptable nozzle temperature, °C.")
    nozzle_temp_c: float = Field(ge=150, le=500, description="Nozzle temperature to print at, °C.")
    first_layer_nozzle_temp_c: float | None = Field(
        None, ge=150, le=500, description="First layer nozzle temperature, °C (default: nozzle_temp_c)."
    )
    bed_temp_min_c: float = Field(ge=0, le=150, description="Lowest acceptable bed temperature, °C.")
    bed_temp_max_c: float = Field(ge=0, le=150, description="Highest acceptable bed temperature, °C.")
    bed_temp_c: float = Field(ge=0, le=150, description="Bed temperature to print at, °C.")
    fan_min_percent: int = Field(0, ge=0, le=100, description="Part-cooling fan minimum, %.")
    fan_max_percent: int = Field(100, ge=0, le=100, description="Part-cooling fan maximum, %.")
    max_volumetric_speed_mm3_s: float = Field(
        0, ge=0, le=100, description="Melt limit in mm3/s (0: no limit)."
    )
    disinfection_methods: tuple[DisinfectionMethod, ...] = Field(
        (), description="Cleaning and disinfection methods the printed material tolerates."
    )
    notes: str = Field("", description="Handling notes for people (drying, ventilation).")

    @property
    def first_layer_temp_c(self) -> float:
        return self.first_layer_nozzle_temp_c if self.first_layer_nozzle_temp_c is not None else self.nozzle_temp_c

    @model_validator(mode="after")
    def _windows(self) -> MaterialProfile:
        lo, hi = self.nozzle_temp_min_c, self.nozzle_temp_max_c
        if lo > hi:
            raise ValueError(f"nozzle_temp_min_c ({lo:g}) must not exceed nozzle_temp_max_c ({hi:g})")
        for key in ("nozzle_temp_c", "first_layer_nozzle_temp_c"):
            v = getattr(self, key)
            if v is not None and not lo <= v <= hi:
                raise ValueError(f"{key} must be between {lo:g} and {hi:g} °C (got {v:g})")
        lo, hi = self.bed_temp_min_c, self.bed_temp_max_c
        if lo > hi:
            raise ValueError(f"bed_temp_min_c ({lo:g}) must not exceed bed_temp_max_c ({hi:g})")
        if not lo <= self.bed_temp_c <= hi:
            raise ValueError(f"bed_temp_c must be between {lo:g} and {hi:g} °C (got {self.bed_temp_c:g})")
        if self.fan_min_percent > self.fan_max_percent:
            raise ValueError("fan_min_percent must not exceed fan_max_percent")
        return self


class ProcessProfile(_Profile):
    """How to slice: layers, walls, infill, speeds."""

    kind: Literal["process"] = "process"
    layer_height_mm: float = Field(ge=0.05, le=1.0, description="Layer height in mm.")
    first_layer_height_mm: float = Field(0.2, ge=0.05, le=1.0, description="First layer height in mm.")
    perimeters: int = Field(2, ge=1, le=20, description="Number of walls.")
    top_solid_layers: int = Field(5, ge=0, le=50, description="Solid layers on top.")
    bottom_solid_layers: int = Field(4, ge=0, le=50, description="Solid layers at the bottom.")
    fill_density_percent: float = Field(15, ge=0, le=100, description="Sparse infill density, %.")
    fill_pattern: Literal["gyroid", "grid", "rectilinear", "cubic", "honeycomb", "line"] = Field(
        "gyroid", description="Sparse infill pattern."
    )
    support_material: bool = Field(False, description="Generate support structures.")
    brim_width_mm: float = Field(0, ge=0, le=50, description="Brim width in mm (0: none).")
    skirts: int = Field(1, ge=0, le=10, description="Skirt loops around the part.")
    perimeter_speed_mm_s: float = Field(45, ge=1, le=1000, description="Wall speed, mm/s.")
    infill_speed_mm_s: float = Field(80, ge=1, le=1000, description="Infill speed, mm/s.")
    first_layer_speed_mm_s: float = Field(20, ge=1, le=1000, description="First layer speed, mm/s.")
    seam_position: Literal["aligned", "nearest", "rear", "random"] = Field(
        "aligned", description="Where each loop starts and ends."
    )
    airtight: bool = Field(False, description="Intended for parts that carry air or oxygen (no gaps).")


PROFILE_MODELS: dict[str, type[_Profile]] = {
    "printer": PrinterProfile,
    "material": MaterialProfile,
    "process": ProcessProfile,
}
KIND_DIRS = {"printer": "printers", "material": "materials", "process": "processes"}
