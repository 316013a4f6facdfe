"""Shared file I/O: atomic writes, reading a YAML mapping, one-line validation messages.

Every message names the file (and the line or the key) so that it can be shown to a user as it is.
Importing this module stays cheap: yaml and pydantic are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hospfab.errors import ConfigError, InputError, NotFoundError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe_validation_error",
    "read_yaml_mapping",
]

MAX_ERRORS_SHOWN = 3


# -- atomic writes ------------------------------------------------------------------------------------------


def _create_temp(path: Path) -> Path:
    """An empty new file next to ``path``, readable only by its owner while it is being written."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path}: cannot create a temporary file next to it")


def _new_file_mode() -> int:
    """The mode open() gives a new file under the current umask (read without changing it where possible)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; write it any way you like inside the ``with`` block.

    On a clean exit the temporary file is fsynced, given ``mode`` (default: the mode of the file it replaces,
    or the umask default for a new file) and renamed over ``path`` with ``os.replace``; the folder is fsynced.
    On any exception the temporary file is removed and ``path`` is left as it was. Missing parent folders are
    created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = _new_file_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    path = Path(path)
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int | None = None,
                      encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, byte for byte (no newline translation)."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode)


# -- reading YAML -------------------------------------------------------------------------------------------


def read_yaml_mapping(path: str | os.PathLike[str], *, what: str = "file") -> dict:
    """The top-level mapping of a YAML file (an empty file gives ``{}``).

    Raises NotFoundError when the file is missing, InputError when it cannot be read, ConfigError (naming the
    file, and the line and column for broken YAML) when it is not UTF-8, not YAML or not a mapping. ``what`` names the file in messages
    ("fleet file", "profile").
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{where} broken YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values at the top level of the {what}, "
            f"got {_kind_of(data)}"
        )
    return data


def _kind_of(value: Any) -> str:
    return {list: "a list", str: "a text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


# -- validation messages ------------------------------------------------------------------------------------


def describe_validation_error(err: Any, path: str | os.PathLike[str], *, model: type | None = None,
                              data: Any = None, hidden_keys: tuple[str, ...] = ()) -> str:
    """One line for a pydantic ValidationError: the file, each bad key (up to three), the problem, the value
    given (numbers only: text may be a secret) and the allowed range.

    ``model`` (the validated class) adds the allowed range and, for an unknown key, the known keys; ``data``
    (the raw input) names list items by their ``name`` key: ``printers[1] (mk4-02).url``; ``hidden_keys`` are
    top-level fields not to offer as known keys (set from elsewhere than the file).
    """
    errors = err.errors()
    parts = [_describe_one(e, model, data, hidden_keys) for e in errors[:MAX_ERRORS_SHOWN]]
    more = len(errors) - MAX_ERRORS_SHOWN
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{path}: " + "; ".join(parts) + tail


def _describe_one(error: dict, model: type | None, data: Any, hidden_keys: tuple[str, ...]) -> str:
    loc = tuple(error.get("loc", ()))
    key = _key_text(loc, data)
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1], hidden_keys)
        return f"unknown key '{key}'" + (f" (known keys: {', '.join(known)})" if known else "")
    if kind == "missing":
        return f"missing required key '{key}'"
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if not key:
        return message
    got = error.get("input")
    got_text = f", got {got!r}" if isinstance(got, (int, float)) else ""
    return f"key '{key}': {message}{got_text}{_range_text(_field_at(model, loc))}"


def _key_text(loc: tuple, data: Any) -> str:
    """``('printers', 1, 'url')`` -> ``printers[1] (mk4-02).url`` (the name from the raw data, if any)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            try:
                node = node[item]
            except (IndexError, KeyError, TypeError):
                node = None
            if isinstance(node, dict) and isinstance(node.get("name"), str) and node["name"]:
                label += f" ({node['name']})"
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _walk_fields(model: type | None, loc: tuple) -> tuple[type | None, Any]:
    """Follow ``loc`` through nested pydantic models: (the model reached, the last named field)."""
    from typing import get_args, get_origin

    field = None
    for item in loc:
        if model is None:
            return None, field
        if isinstance(item, int):
            continue
        fields = getattr(model, "model_fields", None)
        field = fields.get(item) if fields else None
        if field is None:
            return None, None
        model = _model_in(field.annotation, get_args, get_origin)
    return model, field


def _model_in(annotation: Any, get_args, get_origin) -> type | None:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg, get_args, get_origin)
            if found is not None:
                return found
    return None


def _known_keys(model: type | None, loc: tuple, hidden_keys: tuple[str, ...]) -> list[str]:
    reached = _walk_fields(model, loc)[0] if loc else model
    fields = getattr(reached, "model_fields", None) or {}
    hidden = () if loc else hidden_keys
    return [name for name in fields if name not in hidden]


def _field_at(model: type | None, loc: tuple) -> Any:
    return _walk_fields(model, loc)[1] if model is not None and loc else None


def _range_text(field: Any) -> str:
    """`` (allowed: 0.1 to 2)`` from the field's ge/gt/le/lt constraints; empty when it has none."""
    if field is None:
        return ""
    bounds: dict[str, Any] = {}
    for meta in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            value = getattr(meta, attr, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                bounds[attr] = value
    if "ge" in bounds and "le" in bounds:
        return f" (allowed: {bounds['ge']:g} to {bounds['le']:g})"
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    text = " and ".join(f"{signs[a]} {bounds[a]:g}" for a in signs if a in bounds)
    return f" (allowed: {text})" if text else ""
