"""The manifest of a revision: the sha256 of every file in the revision folder and the part's metadata.

``manifest.json`` (format 2) locks a validated revision: any change, addition or removal of a file is detected
and reported naming the file, and any change to the part's identity and safety metadata in ``part.yaml`` is
reported naming the field. The manifest itself and the signed records written after it (``signatures/``,
``retirement.yaml``) are not listed in it: each signed record carries the manifest's own sha256.
Format 1 manifests (no part metadata, keys trusted from the catalog) are only read to migrate them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hospfab.catalog.files import sha256_file, write_json
from hospfab.errors import IntegrityError
from hospfab.fileio import shown

MANIFEST_NAME = "manifest.json"
VALIDATION_NAME = "validation.yaml"  # old format (1) only
RETIREMENT_NAME = "retirement.yaml"
SIGNATURES_DIR = "signatures"
UNLISTED = frozenset({MANIFEST_NAME, VALIDATION_NAME, RETIREMENT_NAME})
MANIFEST_VERSION = 2


def scan(folder: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder`` except the unlisted records. A link,
    FIFO, device or socket is refused (IntegrityError) without being opened."""
    import stat

    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise IntegrityError(f"{shown(path)}: symbolic link refused in a catalog revision")
        if stat.S_ISDIR(mode) or rel in UNLISTED or rel.split("/")[0] == SIGNATURES_DIR:
            continue
        if not stat.S_ISREG(mode):
            raise IntegrityError(f"{shown(path)}: not a regular file (FIFO, device or socket); refused in a "
                                 f"catalog revision")
        files[rel] = sha256_file(path)
    return files


def build_manifest(folder: Path, ref: str, rev: int, part: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"format": MANIFEST_VERSION, "ref": ref, "rev": rev, "algorithm": "sha256", "files": scan(folder),
            "part": part or {}}


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_manifest(folder: Path, ref: str, rev: int, part: dict[str, Any] | None = None) -> str:
    """Write ``manifest.json`` for ``folder`` (with the part metadata snapshot); return the sha256 of the
    bytes written."""
    manifest = build_manifest(folder, ref, rev, part)
    write_json(folder / MANIFEST_NAME, manifest)
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


@dataclass
class ManifestDiff:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def describe(self, folder: Path) -> str:
        parts = [f"{folder / name}: changed since validation (sha256 mismatch)" for name in self.changed]
        parts += [f"{folder / name}: added after validation" for name in self.added]
        parts += [f"{folder / name}: removed after validation" for name in self.removed]
        return "; ".join(parts)


def load_manifest(folder: Path) -> tuple[dict[str, Any], str]:
    """The stored manifest and the sha256 of its bytes. IntegrityError (exit 4) when missing, unreadable (a
    FIFO, too large), corrupt or nested too deeply."""
    from hospfab.errors import HospfabError, NotFoundError
    from hospfab.fileio import loads_json, read_regular_bytes

    path = folder / MANIFEST_NAME
    try:
        raw = read_regular_bytes(path, what="manifest")
    except NotFoundError:
        raise IntegrityError(f"{shown(path)}: missing; a validated revision must carry its manifest") from None
    except HospfabError as err:
        raise IntegrityError(err.message) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{shown(path)}: corrupt manifest (not UTF-8)") from None
    manifest = loads_json(text, source=shown(path), error=IntegrityError)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise IntegrityError(f"{shown(path)}: corrupt manifest ('files' is not a mapping of names to sha256)")
    return manifest, hashlib.sha256(raw).hexdigest()


def compare(folder: Path, manifest: dict[str, Any]) -> ManifestDiff:
    """Compare the files on disk with ``manifest``."""
    expected: dict[str, str] = manifest["files"]
    actual = scan(folder)
    diff = ManifestDiff()
    for name, digest in sorted(expected.items()):
        if name not in actual:
            diff.removed.append(name)
        elif actual[name] != digest:
            diff.changed.append(name)
    diff.added = sorted(set(actual) - set(expected))
    return diff
