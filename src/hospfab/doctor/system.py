"""hospfab and Python versions, the slicer, free disk space."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from hospfab.doctor.base import Context, Result, Status, check

#: PrusaSlicer versions hospfab is tested with (inclusive lower bound, exclusive upper bound).
SLICER_MIN = (2, 5, 0)
SLICER_BELOW = (2, 10, 0)
PYTHON_MIN = (3, 11)
#: Free space wanted where the journal and staged G-code live.
MIN_FREE_BYTES = 1 << 30


@check("versions", "hospfab and Python versions")
def versions(context: Context) -> Result:
    from hospfab import __version__

    py = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < PYTHON_MIN:
        return Result("versions", Status.FAIL, f"hospfab {__version__} on Python {py}",
                      f"install Python {'.'.join(map(str, PYTHON_MIN))} or newer")
    return Result("versions", Status.OK, f"hospfab {__version__} on Python {py} ({sys.executable})")


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


@check("slicer", "prusa-slicer present, version in the supported range")
def slicer(context: Context) -> Result:
    found = os.environ.get("HOSPFAB_PRUSA_SLICER") or shutil.which("prusa-slicer")
    if not found or not Path(found).is_file():
        return Result("slicer", Status.FAIL, "prusa-slicer not found on PATH",
                      "install it (Debian: apt-get install prusa-slicer) or set HOSPFAB_PRUSA_SLICER")
    from hospfab.errors import SlicerError
    from hospfab.slicing.prusaslicer import _version as slicer_version

    try:
        text = slicer_version(found)
    except SlicerError as err:
        return Result("slicer", Status.FAIL, err.message, "reinstall prusa-slicer")
    version = parse_version(text)
    supported = f"{'.'.join(map(str, SLICER_MIN))} to below {'.'.join(map(str, SLICER_BELOW))}"
    if version is None:
        return Result("slicer", Status.FAIL, f"{found}: cannot tell its version from {text[:60]!r}",
                      f"install PrusaSlicer {supported}")
    shown = ".".join(map(str, version))
    if not SLICER_MIN <= version < SLICER_BELOW:
        return Result("slicer", Status.FAIL, f"{found}: PrusaSlicer {shown} is not supported ({supported})",
                      f"install PrusaSlicer {supported} or point HOSPFAB_PRUSA_SLICER at one")
    return Result("slicer", Status.OK, f"PrusaSlicer {shown} ({found})")


def _existing_parent(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


@check("disk", "free disk space for the journal and staging")
def disk(context: Context) -> list[Result]:
    import tempfile

    places = {"journal": context.settings.data_dir, "staging": Path(tempfile.gettempdir())}
    results = []
    for what, place in places.items():
        where = _existing_parent(Path(place))
        free = shutil.disk_usage(where).free
        shown = f"{free / (1 << 30):.1f} GiB free for the {what} ({where})"
        if free < MIN_FREE_BYTES:
            results.append(Result(f"disk:{what}", Status.FAIL, shown,
                                  f"free at least {MIN_FREE_BYTES >> 30} GiB on {where}"))
        else:
            results.append(Result(f"disk:{what}", Status.OK, shown))
        if not os.access(where, os.W_OK):
            results.append(Result(f"disk:{what}", Status.FAIL, f"{where} is not writable",
                                  f"give this user write access to {where}"))
    return results
