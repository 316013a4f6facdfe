"""Does a part fit a printer's build volume, and lying which way?

A part's bounding box can lie flat on the bed in six axis-aligned ways: any of its three axes pointing up,
each turned 0 or 90 degrees about the vertical. The slicer uses the same answer to place copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_AXES = "XYZ"
# (part axis along printer X, along printer Y, pointing up), as-is first
_PERMUTATIONS = ((0, 1, 2), (1, 0, 2), (0, 2, 1), (2, 0, 1), (1, 2, 0), (2, 1, 0))


@dataclass(frozen=True)
class Orientation:
    """A way to lay the part: ``axes[i]`` is the part axis (0=X, 1=Y, 2=Z) along printer axis i."""

    axes: tuple[int, int, int]
    extents_mm: tuple[float, float, float]  # the part's size along printer X, Y, Z in this orientation

    @property
    def name(self) -> str:
        up = _AXES[self.axes[2]]
        if self.axes == (0, 1, 2):
            return "as modelled (Z up)"
        turned = ", turned 90 degrees" if self.axes[0] > self.axes[1] else ""
        return f"part {up} axis up{turned}"

    @property
    def rotated(self) -> bool:
        return self.axes != (0, 1, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "axes": "".join(_AXES[a] for a in self.axes),
                "extents_mm": [round(e, 4) for e in self.extents_mm], "rotated": self.rotated}


def orientations(extents_mm: Sequence[float] | np.ndarray) -> list[Orientation]:
    """The six axis-aligned ways to lie flat, as-is first."""
    e = [float(x) for x in extents_mm]
    return [Orientation(p, (e[p[0]], e[p[1]], e[p[2]])) for p in _PERMUTATIONS]


def fits_build_volume(extents_mm: Sequence[float] | np.ndarray,
                      build_volume_mm: Sequence[float]) -> Orientation | None:
    """The first orientation (as-is preferred, then the lowest part) whose box fits the build volume,
    or None when none does."""
    fitting = [o for o in orientations(extents_mm)
               if all(size <= limit for size, limit in zip(o.extents_mm, build_volume_mm, strict=True))]
    if not fitting:
        return None
    if not fitting[0].rotated:
        return fitting[0]
    return min(fitting, key=lambda o: o.extents_mm[2])
