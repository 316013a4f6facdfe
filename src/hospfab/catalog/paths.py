"""Path safety: every path named in a catalog file must stay inside its own folder.

Refused: absolute paths, ``..`` components, and symbolic links (a link anywhere on the way, even one that
points back inside, because a reviewer reading git cannot see where it will point on another machine).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hospfab.errors import SafetyError


class PathRefused(SafetyError):
    code = "path_refused"


def safe_path(base: Path, relative: str, *, owner: Path) -> Path:
    """``base / relative``, refused unless it stays inside ``base`` without links. ``owner`` names the file
    that declared the path, for the message."""
    if not isinstance(relative, str) or not relative.strip():
        raise PathRefused(f"{owner}: empty path")
    text = relative.replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or Path(relative).is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise PathRefused(f"{owner}: absolute path {relative!r} refused; paths are relative to {base.name}/")
    if any(part == ".." for part in pure.parts):
        raise PathRefused(f"{owner}: path {relative!r} leaves {base.name}/ ('..' refused)")
    current = base
    for part in pure.parts:
        if part in ("", "."):
            continue
        current = current / part
        if current.is_symlink():
            raise PathRefused(f"{owner}: {relative!r} goes through a symbolic link ({current}); links refused")
    resolved_base = base.resolve()
    resolved = current.resolve()
    if resolved != resolved_base and resolved_base not in resolved.parents:
        raise PathRefused(f"{owner}: path {relative!r} resolves outside {base}")
    return current


def check_no_links(folder: Path) -> None:
    """Refuse a folder that is itself a link or contains any link."""
    if folder.is_symlink():
        raise PathRefused(f"{folder}: is a symbolic link; links refused in the catalog")
    for path in folder.rglob("*"):
        if path.is_symlink():
            raise PathRefused(f"{path}: symbolic link refused in the catalog")
