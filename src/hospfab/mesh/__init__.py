"""STL reading, mesh checks and repair.

- :func:`read_stl` (binary/ASCII by the size rule) -> :class:`Triangles`, or :class:`MeshReadError`
- :func:`check_file` -> :class:`MeshReport` (``ok``, ``errors``, ``warnings``, ``stats``, ``findings``);
  ``min_wall_mm`` adds the thin-wall check, ``detail`` keeps each finding's facets for
  :func:`hospfab.mesh.picture.write_picture`
- :func:`fits_build_volume` -> the :class:`Orientation` that fits a build volume, or None
- :func:`repair_file` -> :class:`RepairReport` (before/after), never overwriting its input
"""

from __future__ import annotations

from typing import Any

from hospfab.mesh.checks import REGISTRY, Finding, Severity
from hospfab.mesh.orientation import Orientation, fits_build_volume
from hospfab.mesh.report import MeshReport, check_file
from hospfab.mesh.stlio import MeshReadError, Triangles, read_stl, write_binary_stl
from hospfab.mesh.tolerances import DEFAULT as DEFAULT_TOLERANCES
from hospfab.mesh.tolerances import Tolerances

__all__ = [
    "DEFAULT_TOLERANCES", "REGISTRY", "Finding", "MeshReadError", "MeshReport", "Orientation", "RepairReport",
    "Severity", "Tolerances", "Triangles", "check_file", "fits_build_volume", "read_stl", "repair_file",
    "write_binary_stl",
]


def __getattr__(name: str) -> Any:
    if name in ("repair_file", "RepairReport"):  # repair pulls in trimesh: load it only when asked
        from hospfab.mesh import repair

        return getattr(repair, name)
    raise AttributeError(f"module 'hospfab.mesh' has no attribute {name!r}")
