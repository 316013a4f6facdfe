"""PrusaSlicer configuration generated from hospfab profiles (no hand-kept .ini files to drift).

``prusaslicer_config(printer, material, process)`` returns the key/value mapping; ``write_ini`` writes it in
PrusaSlicer's ini syntax (one ``key = value`` a line, newlines in values escaped as ``\\n``).
"""

from __future__ import annotations

from pathlib import Path

from hospfab.profiles import MaterialProfile, PrinterProfile, ProcessProfile

# Minimum distance between arranged parts and copies, mm (PrusaSlicer's default is 6).
ARRANGE_DISTANCE_MM = 6.0


def _num(value: float) -> str:
    return f"{value:g}"


def _bool(value: bool) -> str:
    return "1" if value else "0"


def prusaslicer_config(
    printer: PrinterProfile, material: MaterialProfile, process: ProcessProfile
) -> dict[str, str]:
    """Every PrusaSlicer key hospfab controls, as strings."""
    x, y, z = printer.build_volume_mm
    perimeter_speed = process.perimeter_speed_mm_s
    return {
        # printer
        "printer_technology": "FFF",
        "bed_shape": f"0x0,{_num(x)}x0,{_num(x)}x{_num(y)},0x{_num(y)}",
        "max_print_height": _num(z),
        "nozzle_diameter": _num(printer.nozzle_diameter_mm),
        "gcode_flavor": printer.gcode_flavor,
        "use_relative_e_distances": "1",
        "retract_length": _num(printer.retract_length_mm),
        "retract_speed": _num(printer.retract_speed_mm_s),
        "travel_speed": _num(printer.travel_speed_mm_s),
        "max_print_speed": _num(printer.max_print_speed_mm_s),
        "machine_limits_usage": "time_estimate_only",
        "start_gcode": printer.start_gcode,
        "end_gcode": printer.end_gcode,
        "before_layer_gcode": ";BEFORE_LAYER_CHANGE\nG92 E0\n",  # relative E needs a reset each layer
        "layer_gcode": ";AFTER_LAYER_CHANGE\n",
        "thumbnails": "",
        "gcode_comments": "0",
        "gcode_label_objects": "1",
        "complete_objects": "0",
        "duplicate_distance": _num(ARRANGE_DISTANCE_MM),
        # material
        "filament_diameter": _num(material.filament_diameter_mm),
        "filament_density": _num(material.density_g_cm3),
        "filament_type": material.family or "PLA",
        "temperature": _num(material.nozzle_temp_c),
        "first_layer_temperature": _num(material.first_layer_temp_c),
        "bed_temperature": _num(material.bed_temp_c),
        "first_layer_bed_temperature": _num(material.bed_temp_c),
        "min_fan_speed": str(material.fan_min_percent),
        "max_fan_speed": str(material.fan_max_percent),
        "filament_max_volumetric_speed": _num(material.max_volumetric_speed_mm3_s),
        # process
        "layer_height": _num(process.layer_height_mm),
        "first_layer_height": _num(process.first_layer_height_mm),
        "perimeters": str(process.perimeters),
        "top_solid_layers": str(process.top_solid_layers),
        "bottom_solid_layers": str(process.bottom_solid_layers),
        "fill_density": f"{_num(process.fill_density_percent)}%",
        "fill_pattern": process.fill_pattern,
        "support_material": _bool(process.support_material),
        "brim_width": _num(process.brim_width_mm),
        "skirts": str(process.skirts),
        "perimeter_speed": _num(perimeter_speed),
        "external_perimeter_speed": _num(perimeter_speed * 0.8),
        "small_perimeter_speed": _num(min(perimeter_speed, 25)),
        "infill_speed": _num(process.infill_speed_mm_s),
        "solid_infill_speed": _num(process.infill_speed_mm_s),
        "top_solid_infill_speed": _num(min(process.infill_speed_mm_s, 40)),
        "first_layer_speed": _num(process.first_layer_speed_mm_s),
        "seam_position": process.seam_position,
    }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\r", "").replace("\n", "\\n")


def write_ini(config: dict[str, str], path: Path) -> Path:
    path.write_text("".join(f"{key} = {_escape(value)}\n" for key, value in config.items()), encoding="utf-8")
    return path
