"""The catalog's bridge to the other hospfab engines: mesh check, slicing, G-code check.

:class:`RealChecks` calls ``hospfab.mesh``, ``hospfab.slicing``, ``hospfab.gcode`` and ``hospfab.profiles``.
A catalog can be given another object with the same methods (e.g. in a unit test that only exercises
the lifecycle), but validation of the shipped catalog always goes through the real engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hospfab.profiles import ProfileStore


@dataclass
class SliceOutcome:
    sha256: str
    copies: int
    slicer: str
    layers: int | None
    estimates: dict[str, Any]


class Checks(Protocol):
    """What the catalog asks of its check engines (:class:`RealChecks`, or a test's stand-in). An engine may
    also answer ``profile_test_only(printer) -> bool`` (see ``gate.profile_test_only``)."""

    def mesh(self, stl: Path) -> tuple[bool, dict[str, Any]]: ...

    def gcode(self, gcode: Path, printer: str, material: str) -> tuple[bool, dict[str, Any]]: ...

    def slice(self, stl: Path, printer: str, material: str, process: str, copies: int, output: Path,
              force: bool = False) -> SliceOutcome: ...


def _as_dict(report: Any) -> dict[str, Any]:
    if hasattr(report, "to_dict"):
        return dict(report.to_dict())
    return dict(report)


class RealChecks:
    """The real engines. ``profiles_dir`` is needed for slicing and G-code checks."""

    def __init__(self, profiles_dir: Path | None = None, *, store: ProfileStore | None = None) -> None:
        self.profiles_dir = profiles_dir
        self.store = store  # a ProfileStore (with the site profiles), else one is made from profiles_dir

    def _store(self) -> ProfileStore:
        from hospfab.profiles import ProfileStore

        if self.store is not None:
            return self.store
        if self.profiles_dir is None:
            from hospfab.settings import Settings

            return Settings.resolve().profile_store()
        return ProfileStore(self.profiles_dir)

    def profile_test_only(self, printer: str) -> bool:
        """Whether the printer profile is for test rigs only (``test_only: true``): never validated."""
        return bool(self._store().printer(printer).test_only)

    def mesh(self, stl: Path) -> tuple[bool, dict[str, Any]]:
        from hospfab.mesh import check_file

        report = check_file(stl)
        return bool(report.ok), _as_dict(report)

    def gcode(self, gcode: Path, printer: str, material: str) -> tuple[bool, dict[str, Any]]:
        from hospfab.gcode import check_gcode

        store = self._store()
        report = check_gcode(gcode, store.printer(printer), store.material(material))
        return bool(report.ok), _as_dict(report)

    def slice(self, stl: Path, printer: str, material: str, process: str, copies: int, output: Path,
              force: bool = False) -> SliceOutcome:
        from hospfab.slicing import slice_parts

        store = self._store()
        result = slice_parts([stl], store.printer(printer), store.material(material), store.process(process),
                             copies, output=output, force=force)
        info = result.slicer
        slicer = info if isinstance(info, str) else f"{info.name} {info.version}".strip()
        return SliceOutcome(result.sha256, int(result.copies), slicer, result.layers, dict(result.estimates or {}))
