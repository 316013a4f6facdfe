"""Load profiles from a folder of YAML files, resolving ``inherits:``.

Layout: ``<profiles_dir>/printers/<name>.yaml``, ``materials/<name>.yaml``, ``processes/<name>.yaml``.
A profile may name another profile of the same kind in ``inherits:``; the parent's keys are merged under the
child's (mappings merged key by key, everything else replaced), chains are followed and cycles refused.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from hospfab.errors import ConfigError, HospfabError, NotFoundError
from hospfab.fileio import describe_validation_error, read_yaml_mapping
from hospfab.profiles.models import (
    KIND_DIRS,
    PROFILE_MODELS,
    MaterialProfile,
    PrinterProfile,
    ProcessProfile,
    _Profile,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
MAX_INHERITANCE_DEPTH = 10


@dataclass(frozen=True)
class ProfileEntry:
    kind: str
    name: str
    path: Path
    description: str = ""
    inherits: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "ref": f"{self.kind}/{self.name}",
            "path": str(self.path),
            "description": self.description,
            "inherits": self.inherits,
        }


@dataclass(frozen=True)
class ProfileCheck:
    kind: str
    name: str
    path: Path
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "path": str(self.path), "ok": self.ok, "error": self.error}


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class ProfileStore:
    """The profiles of one folder. Loaded lazily, cached per (kind, name)."""

    def __init__(self, profiles_dir: Path | str) -> None:
        self.root = Path(profiles_dir)
        self._cache: dict[tuple[str, str], _Profile] = {}

    # -- discovery ---------------------------------------------------------------------------------------
    def path_of(self, kind: str, name: str) -> Path:
        return self.root / KIND_DIRS[kind] / f"{name}.yaml"

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        folder = self.root / KIND_DIRS[kind]
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.yaml") if NAME_RE.match(p.stem))

    def _check_kind(self, kind: str) -> None:
        if kind not in PROFILE_MODELS:
            raise NotFoundError(
                f"unknown profile kind '{kind}' (kinds: {', '.join(PROFILE_MODELS)})", code="unknown_profile_kind"
            )

    # -- loading -----------------------------------------------------------------------------------------
    def _read_yaml(self, kind: str, name: str) -> dict[str, Any]:
        path = self.path_of(kind, name)
        if not NAME_RE.match(name) or not path.is_file():
            available = ", ".join(self.names(kind)) or "none"
            raise NotFoundError(
                f"no {kind} profile '{name}' in {self.root / KIND_DIRS[kind]} (available: {available})",
                code="unknown_profile",
            )
        data = read_yaml_mapping(path, what=f"{kind} profile")
        for key in ("name", "kind"):
            if key in data:
                raise ConfigError(f"{path}: key '{key}' is not allowed (it comes from the file's location)")
        return data

    def resolved_data(self, kind: str, name: str) -> dict[str, Any]:
        """The raw YAML mapping with every ``inherits:`` ancestor merged in (child wins)."""
        self._check_kind(kind)
        chain: list[str] = []
        current: str | None = name
        layers: list[dict[str, Any]] = []
        while current is not None:
            if current in chain:
                raise ConfigError(
                    f"{self.path_of(kind, chain[0])}: key 'inherits': cycle {' -> '.join([*chain, current])}"
                )
            if len(chain) >= MAX_INHERITANCE_DEPTH:
                raise ConfigError(f"{self.path_of(kind, name)}: key 'inherits': chain deeper than {MAX_INHERITANCE_DEPTH}")
            try:
                data = self._read_yaml(kind, current)
            except NotFoundError as err:
                if not chain:
                    raise
                raise ConfigError(
                    f"{self.path_of(kind, chain[-1])}: key 'inherits': {err.message}", code="invalid_config"
                ) from None
            parent = data.get("inherits")
            if parent is not None and not isinstance(parent, str):
                raise ConfigError(f"{self.path_of(kind, current)}: key 'inherits' must be a profile name")
            chain.append(current)
            layers.append(data)
            current = parent
        merged: dict[str, Any] = {}
        for layer in reversed(layers):
            merged = _merge(merged, layer)
        merged["inherits"] = layers[0].get("inherits")
        return merged

    def get(self, kind: str, name: str) -> _Profile:
        """The validated profile ``kind/name``; ConfigError when invalid, NotFoundError when absent."""
        from pydantic import ValidationError

        self._check_kind(kind)
        key = (kind, name)
        if key not in self._cache:
            data = self.resolved_data(kind, name)
            model = PROFILE_MODELS[kind]
            try:
                self._cache[key] = model(name=name, **data)
            except ValidationError as err:
                raise ConfigError(
                    describe_validation_error(err, self.path_of(kind, name), model=model, data=data,
                                              hidden_keys=("name", "kind"))
                ) from None
        return self._cache[key]

    def printer(self, name: str) -> PrinterProfile:
        return cast(PrinterProfile, self.get("printer", name))

    def material(self, name: str) -> MaterialProfile:
        return cast(MaterialProfile, self.get("material", name))

    def process(self, name: str) -> ProcessProfile:
        return cast(ProcessProfile, self.get("process", name))

    def get_ref(self, ref: str) -> _Profile:
        """``printer/prusa-mk4`` (or ``printers/prusa-mk4``) -> the profile."""
        kind, sep, name = ref.partition("/")
        plural = {v: k for k, v in KIND_DIRS.items()}
        kind = plural.get(kind, kind)
        if not sep or not name:
            raise NotFoundError(f"'{ref}': expected KIND/NAME, e.g. printer/prusa-mk4", code="unknown_profile")
        return self.get(kind, name)

    # -- listing and checking ----------------------------------------------------------------------------
    def list(self, kind: str | None = None) -> list[ProfileEntry]:
        kinds = [kind] if kind else list(PROFILE_MODELS)
        out = []
        for k in kinds:
            for name in self.names(k):
                try:
                    data = self._read_yaml(k, name)
                    desc, parent = str(data.get("description", "")), data.get("inherits")
                except HospfabError:
                    desc, parent = "(unreadable: run `hospfab profiles check`)", None
                out.append(ProfileEntry(k, name, self.path_of(k, name), desc, parent))
        return out

    def check_all(self) -> builtins.list[ProfileCheck]:
        """Load and validate every profile; one result per file (errors collected, not raised)."""
        results = []
        for k in PROFILE_MODELS:
            folder = self.root / KIND_DIRS[k]
            for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
                if not NAME_RE.match(path.stem):
                    results.append(ProfileCheck(k, path.stem, path, False, f"{path}: bad profile file name "
                                                "(use lower-case letters, digits, '-', '_' and '.')"))
                    continue
                try:
                    self.get(k, path.stem)
                    results.append(ProfileCheck(k, path.stem, path, True))
                except HospfabError as err:
                    results.append(ProfileCheck(k, path.stem, path, False, err.message))
        return results
