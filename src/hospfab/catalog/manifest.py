"""The manifest of a revision: the sha256 of every file in the revision folder.

``manifest.json`` locks a validated revision: any change, addition or removal of a file is detected and
reported naming the file. The manifest itself and the records written after it (``validation.yaml``,
``retirement.yaml``) are not listed in it: the validation record carries the manifest's own sha256 and is
signed, and a retirement can only make a revision less printable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from hospfab.catalog.files import sha256_file, write_json
from hospfab.errors import IntegrityError

MANIFEST_NAME = "manifest.json"
VALIDATION_NAME = "validation.yaml"
RETIREMENT_NAME = "retirement.yaml"
UNLISTED = frozenset({MANIFEST_NAME, VALIDATION_NAME, RETIREMENT_NAME})
MANIFEST_VERSION = 1


def scan(folder: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder`` except the unlisted records."""
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise IntegrityError(f"{path}: symbolic link refused in a catalog revision")
        if path.is_dir() or rel in UNLISTED:
            continue
        files[rel] = sha256_file(path)
    return files


def build_manifest(folder: Path, ref: str, rev: int) -> dict:
    return {"format": MANIFEST_VERSION, "ref": ref, "rev": rev, "algorithm": "sha256", "files": scan(folder)}


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_manifest(folder: Path, ref: str, rev: int) -> str:
    """Write ``manifest.json`` for ``folder``; return the sha256 of the bytes written."""
    manifest = build_manifest(folder, ref, rev)
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


def load_manifest(folder: Path) -> tuple[dict, str]:
    """The stored manifest and the sha256 of its bytes. Raises IntegrityError when missing or corrupt."""
    path = folder / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path}: missing; a validated revision must carry its manifest") from None
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path}: corrupt manifest") from None
    return manifest, hashlib.sha256(raw).hexdigest()


def compare(folder: Path, manifest: dict) -> ManifestDiff:
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
