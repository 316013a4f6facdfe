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
from typing import TYPE_CHECKING, Any, cast

from hospfab.errors import ConfigError, HospfabError, NotFoundError

if TYPE_CHECKING:
    from hospfab.profiles.models import MaterialProfile, PrinterProfile, ProcessProfile, _Profile

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
MAX_INHERITANCE_DEPTH = 10
#: kind -> folder; the same as ``hospfab.profiles.models.KIND_DIRS`` (a test keeps them equal), repeated here
#: so that cached profiles are served without importing the pydantic models.
KIND_DIRS = {"printer": "printers", "material": "materials", "process": "processes"}
PROFILE_KINDS = tuple(KIND_DIRS)


def _models() -> dict[str, Any]:
    from hospfab.profiles.models import PROFILE_MODELS

    return PROFILE_MODELS


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


def travel_area(build_volume_mm: Any, travel_x_mm: Any, travel_y_mm: Any
                ) -> tuple[tuple[float, float], tuple[float, float]]:
    """(X min, X max), (Y min, Y max) where the head may go: the bed unless the profile widens it (shared by
    :class:`~hospfab.profiles.models.PrinterProfile` and the cached :class:`ProfileView`)."""
    x, y = float(build_volume_mm[0]), float(build_volume_mm[1])
    area_x = (float(travel_x_mm[0]), float(travel_x_mm[1])) if travel_x_mm else (0.0, x)
    area_y = (float(travel_y_mm[0]), float(travel_y_mm[1])) if travel_y_mm else (0.0, y)
    return area_x, area_y


class ProfileView:
    """A validated profile read back from the content cache: the same attributes as the pydantic model
    (``printer.build_volume_mm``, ``material.nozzle_temp_min_c``, ``ref``...) without importing pydantic.
    Read-only; ``model_dump()`` gives the data."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("profiles are read-only")

    @property
    def ref(self) -> str:
        return f"{self._data['kind']}/{self._data['name']}"

    @property
    def first_layer_temp_c(self) -> float:
        first = self._data.get("first_layer_nozzle_temp_c")
        return float(first if first is not None else self._data["nozzle_temp_c"])

    @property
    def travel_area_mm(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return travel_area(self._data["build_volume_mm"], self._data.get("travel_x_mm"),
                           self._data.get("travel_y_mm"))

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._data.items()}


class ProfileStore:
    """The profiles of one folder, optionally overlaid by a site folder (``site_dir``): a site profile of the
    same kind and name replaces the shipped one (and may ``inherits:`` it by its own name), new names add to
    them. Loaded lazily, cached per (kind, name); with ``cache_dir``, :meth:`view` reuses validation results
    of unchanged files across runs (``hospfab.contentcache``)."""

    def __init__(self, profiles_dir: Path | str, *, site_dir: Path | str | None = None,
                 cache_dir: Path | str | None = None) -> None:
        self.root = Path(profiles_dir)
        self.site_dir = Path(site_dir) if site_dir is not None else None
        self.roots = [r for r in (self.site_dir, self.root) if r is not None]
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._cache: dict[tuple[str, str], _Profile] = {}
        self._files: dict[tuple[str, str], list[Path]] = {}

    # -- discovery ---------------------------------------------------------------------------------------
    def _check_roots(self) -> None:
        for root in self.roots:
            if not root.is_dir():
                which = "site profiles folder" if root == self.site_dir else "profiles folder"
                hint = ("fix `site_profiles:` in the site configuration or HOSPFAB_SITE_PROFILES"
                        if root == self.site_dir else
                        "pass --profiles or set HOSPFAB_PROFILES, or reinstall hospfab (its wheel ships them)")
                raise ConfigError(f"{root}: {which} not found: {hint}", code="missing_profiles")

    def _none_found(self) -> ConfigError:
        """A listing of every kind found nothing: the folder is not a profiles folder, never an empty success."""
        folders = " or ".join(str(r) for r in self.roots)
        return ConfigError(f"{folders}: no profile found (expected printers/, materials/ and processes/ with "
                           "*.yaml files): pass --profiles or set HOSPFAB_PROFILES, or reinstall hospfab (its "
                           "wheel ships them)", code="missing_profiles")

    def _locate(self, kind: str, name: str, start: int = 0) -> tuple[Path, int]:
        """The file of ``kind/name`` in the first root (from ``start``) that has it; else where it would be."""
        for index in range(start, len(self.roots)):
            path = self.roots[index] / KIND_DIRS[kind] / f"{name}.yaml"
            if path.is_file():
                return path, index
        return self.roots[min(start, len(self.roots) - 1)] / KIND_DIRS[kind] / f"{name}.yaml", -1

    def path_of(self, kind: str, name: str) -> Path:
        return self._locate(kind, name)[0]

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        self._check_roots()
        found: set[str] = set()
        for root in self.roots:
            folder = root / KIND_DIRS[kind]
            if folder.is_dir():
                found.update(p.stem for p in folder.glob("*.yaml") if NAME_RE.match(p.stem))
        return sorted(found)

    def _check_kind(self, kind: str) -> None:
        if kind not in KIND_DIRS:
            raise NotFoundError(
                f"unknown profile kind '{kind}' (kinds: {', '.join(PROFILE_KINDS)})", code="unknown_profile_kind"
            )

    # -- loading -----------------------------------------------------------------------------------------
    def _read_yaml(self, kind: str, name: str, start: int = 0) -> tuple[dict[str, Any], Path, int]:
        self._check_roots()
        path, index = self._locate(kind, name, start)
        if not NAME_RE.match(name) or index < 0:
            available = ", ".join(self.names(kind)) or "none"
            where = " and ".join(str(r / KIND_DIRS[kind]) for r in self.roots[start:])
            raise NotFoundError(
                f"no {kind} profile '{name}' in {where} (available: {available})", code="unknown_profile"
            )
        from hospfab.fileio import read_yaml_mapping

        data = read_yaml_mapping(path, what=f"{kind} profile")
        for key in ("name", "kind"):
            if key in data:
                raise ConfigError(f"{path}: key '{key}' is not allowed (it comes from the file's location)")
        return data, path, index

    def resolved_data(self, kind: str, name: str) -> dict[str, Any]:
        """The raw YAML mapping with every ``inherits:`` ancestor merged in (child wins)."""
        self._check_kind(kind)
        chain: list[tuple[str, int]] = []
        current: str | None = name
        start = 0
        layers: list[dict[str, Any]] = []
        files: list[Path] = []
        while current is not None:
            try:
                data, path, index = self._read_yaml(kind, current, start)
            except NotFoundError as err:
                if not chain:
                    raise
                raise ConfigError(f"{files[-1]}: key 'inherits': {err.message}", code="invalid_config") from None
            if (current, index) in chain:
                names = " -> ".join([*(n for n, _ in chain), current])
                raise ConfigError(f"{files[0]}: key 'inherits': cycle {names}")
            if len(chain) >= MAX_INHERITANCE_DEPTH:
                raise ConfigError(f"{files[0]}: key 'inherits': chain deeper than {MAX_INHERITANCE_DEPTH}")
            parent = data.get("inherits")
            if parent is not None and not isinstance(parent, str):
                raise ConfigError(f"{path}: key 'inherits' must be a profile name")
            chain.append((current, index))
            layers.append(data)
            files.append(path)
            # a site profile inheriting its own name extends the shipped profile of that name
            start = index + 1 if parent == current else 0
            current = parent
        merged: dict[str, Any] = {}
        for layer in reversed(layers):
            merged = _merge(merged, layer)
        merged["inherits"] = layers[0].get("inherits")
        self._files[(kind, name)] = files
        return merged

    def get(self, kind: str, name: str) -> _Profile:
        """The validated profile ``kind/name``; ConfigError when invalid, NotFoundError when absent."""
        from pydantic import ValidationError

        from hospfab.fileio import describe_validation_error

        self._check_kind(kind)
        key = (kind, name)
        if key not in self._cache:
            data = self.resolved_data(kind, name)
            model = _models()[kind]
            try:
                self._cache[key] = model(name=name, **data)
            except ValidationError as err:
                raise ConfigError(
                    describe_validation_error(err, self.path_of(kind, name), model=model, data=data,
                                              hidden_keys=("name", "kind"))
                ) from None
        return self._cache[key]

    def view(self, kind: str, name: str) -> _Profile | ProfileView:
        """The profile ``kind/name`` for reading only: a :class:`ProfileView` from the content cache when
        every file it was built from is unchanged (no yaml, no pydantic), else validated with :meth:`get`."""
        from hospfab import contentcache

        self._check_kind(kind)
        self._check_roots()
        path, index = self._locate(kind, name)
        if self.cache_dir is None or index < 0 or not NAME_RE.match(name):
            return self.get(kind, name)
        try:
            leaf = path.read_bytes()
        except OSError:
            return self.get(kind, name)
        key = contentcache.digest([_code_fingerprint(), *map(str, self.roots), kind, name, leaf])
        hit = contentcache.lookup(self.cache_dir, "profiles", key)
        if isinstance(hit, dict) and _unchanged(hit.get("files", ())):
            return ProfileView(hit["data"])
        profile = self.get(kind, name)
        files = [[str(p), _sha256(p)] for p in self._files.get((kind, name), [path])]
        contentcache.store(self.cache_dir, "profiles", key, {"files": files, "data": profile.model_dump(mode="json")})
        return profile

    def printer(self, name: str) -> PrinterProfile:
        return cast("PrinterProfile", self.get("printer", name))

    def material(self, name: str) -> MaterialProfile:
        return cast("MaterialProfile", self.get("material", name))

    def process(self, name: str) -> ProcessProfile:
        return cast("ProcessProfile", self.get("process", name))

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
        kinds = [kind] if kind else list(PROFILE_KINDS)
        out = []
        for k in kinds:
            for name in self.names(k):
                try:
                    data, path, _ = self._read_yaml(k, name)
                    desc, parent = str(data.get("description", "")), data.get("inherits")
                except HospfabError:
                    path, desc, parent = self.path_of(k, name), "(unreadable: run `hospfab profiles check`)", None
                out.append(ProfileEntry(k, name, path, desc, parent))
        if not out and kind is None:
            raise self._none_found()
        return out

    def check_all(self) -> builtins.list[ProfileCheck]:
        """Load and validate every profile; one result per file (errors collected, not raised)."""
        self._check_roots()
        results = []
        for k in PROFILE_KINDS:
            seen: set[str] = set()
            for root in self.roots:
                folder = root / KIND_DIRS[k]
                for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
                    if not NAME_RE.match(path.stem):
                        results.append(ProfileCheck(k, path.stem, path, False, f"{path}: bad profile file name "
                                                    "(use lower-case letters, digits, '-', '_' and '.')"))
                        continue
                    if path.stem in seen:  # overridden by a site profile, checked through it
                        continue
                    seen.add(path.stem)
                    try:
                        self.get(k, path.stem)
                        results.append(ProfileCheck(k, path.stem, path, True))
                    except HospfabError as err:
                        results.append(ProfileCheck(k, path.stem, path, False, err.message))
        if not results:
            raise self._none_found()
        return results


def _sha256(path: Path) -> str | None:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _unchanged(files: Any) -> bool:
    try:
        return all(_sha256(Path(p)) == sha for p, sha in files)
    except (TypeError, ValueError):
        return False


def _code_fingerprint() -> str:
    from hospfab import contentcache

    here = Path(__file__).resolve().parent
    return contentcache.source_fingerprint(here / "models.py", here / "store.py")
