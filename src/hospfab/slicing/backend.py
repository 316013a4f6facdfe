"""The slicer backend interface: one small class per slicer (PrusaSlicer today; CuraEngine or OrcaSlicer later).

A backend turns STL files plus profiles into a G-code file; everything around it (mesh checks, fitting on the
bed, the hospfab header, the G-code check) is done by :func:`hospfab.slicing.slice_parts` for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hospfab.profiles import MaterialProfile, PrinterProfile, ProcessProfile


@dataclass(frozen=True)
class SlicerInfo:
    name: str
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class SliceJob:
    stls: list[Path]
    printer: PrinterProfile
    material: MaterialProfile
    process: ProcessProfile
    copies: int
    output: Path  # where the backend writes raw G-code
    workdir: Path  # a private temporary folder for config files


class SlicerBackend(Protocol):
    def info(self) -> SlicerInfo: ...

    def slice(self, job: SliceJob) -> None:
        """Write G-code to ``job.output`` or raise :class:`~hospfab.errors.SlicerError`."""
