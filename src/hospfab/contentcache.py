"""Results of expensive validation, cached by the sha256 of the exact bytes they were computed from.

Everyday commands (``gcode check``, ``check --printer``) would otherwise import yaml and pydantic on every run
only to validate the same unchanged profiles and site configuration again. A cache entry is a JSON file named
by the hash of its inputs (file contents and the source of the code that validated them), so a changed file
or a new hospfab version simply misses. Entries are written atomically; an unwritable or damaged cache is
ignored (the result is computed again), never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hospfab import __version__

FORMAT = "1"


def digest(parts: Iterable[bytes | str]) -> str:
    """sha256 over length-prefixed parts (so ``("ab", "c")`` and ``("a", "bc")`` differ)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def source_fingerprint(*modules_files: str | os.PathLike[str]) -> str:
    """The hospfab version and the bytes of the given source files: the code that produced a cached result."""
    parts: list[bytes | str] = [FORMAT, __version__]
    for f in modules_files:
        try:
            parts.append(Path(f).read_bytes())
        except OSError:
            parts.append(f"missing:{f}")
    return digest(parts)


def lookup(cache_dir: Path | None, namespace: str, key: str) -> Any | None:
    """The cached value for ``key``, or None (absent, unreadable or damaged)."""
    if cache_dir is None:
        return None
    try:
        return json.loads((cache_dir / namespace / f"{key}.json").read_bytes())["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(cache_dir: Path | None, namespace: str, key: str, value: Any) -> None:
    """Remember ``value`` (JSON-able) under ``key``; silently skipped when the cache cannot be written."""
    if cache_dir is None:
        return
    from hospfab.fileio import atomic_write_bytes
    from hospfab.settings import make_private_dir

    try:
        folder = make_private_dir(cache_dir / namespace)  # 0700: a cached result is trusted when read back
        atomic_write_bytes(folder / f"{key}.json", json.dumps({"value": value}).encode(), mode=0o600)
    except OSError:
        pass


def cached(cache_dir: Path | None, namespace: str, key: str, compute: Callable[[], Any]) -> Any:
    """``lookup`` or ``compute()`` then ``store``."""
    hit = lookup(cache_dir, namespace, key)
    if hit is not None:
        return hit
    value = compute()
    store(cache_dir, namespace, key, value)
    return value
