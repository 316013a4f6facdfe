"""Streaming G-code parser and checks against printer and material profiles."""

from hospfab.gcode.check import GcodeReport, check_gcode, parse_duration

__all__ = ["GcodeReport", "check_gcode", "parse_duration"]
