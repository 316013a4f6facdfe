"""Shared file I/O: atomic writes, one hardened reader for untrusted files (regular files only, size, depth,
duplicate-key and integer limits for YAML and JSON), one-line validation messages.

Every message names the file (and the line or the key) so that it can be shown to a user as it is.
Importing this module stays cheap: yaml and pydantic are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hospfab.errors import ConfigError, HospfabError, InputError, NotFoundError

__all__ = [
    "MAX_DEPTH",
    "MAX_ALIAS_NODES",
    "MAX_INT_DIGITS",
    "MAX_TEXT_BYTES",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe_validation_error",
    "load_yaml_text",
    "loads_json",
    "open_regular",
    "read_json_mapping",
    "read_regular_bytes",
    "read_regular_text",
    "read_yaml_mapping",
    "shown",
    "spreadsheet_safe",
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


# -- reading untrusted files -------------------------------------------------------------------------------

#: Default size limits for files hospfab reads as text (YAML, JSON): far above any real profile, fleet or
#: manifest, far below what would exhaust memory.
MAX_TEXT_BYTES = 4 << 20
#: Nesting depth allowed in YAML and JSON documents (real ones use fewer than 10 levels).
MAX_DEPTH = 32
#: Digits allowed in an integer of a YAML or JSON document (Python's own limit is 4300, and slow).
MAX_INT_DIGITS = 30
#: Values a YAML document may expand to through its aliases (``*name``) beyond its own nodes: "billion
#: laughs" (nine aliases of nine aliases...) is a few hundred bytes that expand to hundreds of millions.
MAX_ALIAS_NODES = 100_000


def open_regular(path: str | os.PathLike[str], *, what: str = "file") -> int:
    """Open ``path`` for reading and return the descriptor, only when it is a regular file.

    A FIFO, a device or a socket would block a reader forever or never end: it is refused without blocking
    (``O_NONBLOCK`` on open, then ``fstat``). Raises NotFoundError when missing, InputError otherwise.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFoundError(f"{shown(path)}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{shown(path)}: the {what} is a folder, not a file") from None
    except OSError as err:
        raise InputError(f"{shown(path)}: cannot read the {what}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{shown(path)}: the {what} is not a regular file ({_file_kind(info.st_mode)})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_bytes(path: str | os.PathLike[str], *, what: str = "file",
                       max_bytes: int | None = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    fd = open_regular(path, what=what)
    try:
        with os.fdopen(fd, "rb") as handle:
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except OSError as err:
        raise InputError(f"{shown(path)}: cannot read the {what}: {err.strerror or err}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{shown(path)}: the {what} is larger than {max_bytes} bytes; refused")
    return data


def read_regular_text(path: str | os.PathLike[str], *, what: str = "file",
                      max_bytes: int | None = MAX_TEXT_BYTES) -> str:
    """UTF-8 text of a regular file of at most ``max_bytes`` (ConfigError when not UTF-8)."""
    data = read_regular_bytes(path, what=what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{shown(path)}: the {what} is not UTF-8 text (byte {err.start})") from None


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: free text starting like a formula (an operator named
    ``=HYPERLINK(...)``, a printer's error message) gets a leading ``'``. Numbers are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def shown(value: object) -> str:
    """``value`` as text safe to print on one line: control characters (newline, CR, escape, NUL...) are
    written as escapes, so a hostile file name cannot forge output lines or terminal sequences."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _node_children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expansion(root: Any) -> tuple[int, int] | None:
    """(values once aliases are expanded, distinct nodes) of a composed YAML document; None when an alias
    refers to a node that contains it (a recursive document). Iterative: an alias chain cannot overflow."""
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _node_children(node))
            continue
        if key in size:
            continue
        if key in visiting:
            return None
        visiting.add(key)
        stack.append((node, True))
        for child in _node_children(node):
            if id(child) in visiting:
                return None
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)], len(size)


def _yaml_loader() -> type:
    """A safe YAML loader class that refuses duplicate keys, deep nesting, huge integers and aliases that
    expand to too many values or into themselves."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_document(self) -> yaml.Node | None:
            node = super().compose_document()
            if node is not None:
                counts = _expansion(node)
                if counts is None:
                    raise yaml.constructor.ConstructorError(
                        None, None, "an alias (*name) refers to a value that contains it", node.start_mark)
                expanded, distinct = counts
                if expanded > distinct and expanded > MAX_ALIAS_NODES:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"aliases (*name) expand to {expanded} values (at most {MAX_ALIAS_NODES})",
                        node.start_mark)
            return node

        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            depth = getattr(self, "_hospfab_depth", 0) + 1
            if depth > MAX_DEPTH:
                # types-PyYAML leaves Parser.peek_event unannotated
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            self._hospfab_depth = depth
            try:
                return super().compose_node(parent, index)
            finally:
                self._hospfab_depth = depth - 1

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.get(key)
                    except TypeError:
                        continue  # an unhashable key: the base class reports it
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            None, None,
                            f"duplicate key {shown(key)!r} (first on line {first.line + 1}, again on line "
                            f"{key_node.start_mark.line + 1})",
                            key_node.start_mark)
                    seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
            digits = sum(ch.isdigit() for ch in str(node.value))
            if digits > MAX_INT_DIGITS:
                raise yaml.constructor.ConstructorError(
                    None, None, f"integer with {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark)
            return super().construct_yaml_int(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    return StrictLoader


def load_yaml_text(text: str, *, source: str) -> Any:
    """Parse YAML ``text`` with the strict loader; ConfigError names ``source`` and the line."""
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{source}:{where} broken YAML: {shown(problem)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: broken YAML: nested too deeply") from None


def read_yaml_mapping(path: str | os.PathLike[str], *, what: str = "file",
                      max_bytes: int = MAX_TEXT_BYTES) -> dict[str, Any]:
    """The top-level mapping of a YAML file (an empty file gives ``{}``).

    Only a regular file of at most ``max_bytes`` is read. Duplicate keys (naming both lines), nesting deeper
    than :data:`MAX_DEPTH` and integers longer than :data:`MAX_INT_DIGITS` digits are refused. Raises
    NotFoundError when the file is missing, InputError when it cannot be read, ConfigError (naming the file,
    and the line and column for broken YAML) when it is not UTF-8, not YAML or not a mapping. ``what`` names
    the file in messages ("fleet file", "profile").
    """
    path = Path(path)
    data = load_yaml_text(read_regular_text(path, what=what, max_bytes=max_bytes), source=shown(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{shown(path)}: expected a mapping of keys to values at the top level of the {what}, "
            f"got {_kind_of(data)}"
        )
    odd = [key for key in data if not isinstance(key, str)]
    if odd:  # `? x`, `1: x`, `yes: x` (a bool in YAML 1.1): no setting is named so
        raise ConfigError(
            f"{shown(path)}: top-level keys of the {what} must be names, not {repr(odd[0])[:40]}"
        )
    return data


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _json_depth(text: str) -> int:
    """The deepest nesting of brackets in a JSON text (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_json(text: str, *, source: str, error: type[HospfabError] = ConfigError) -> Any:
    """Parse JSON ``text`` within the depth and integer limits; ``error`` (naming ``source``) if not."""
    import json

    if _json_depth(text) > MAX_DEPTH:
        raise error(f"{source}: JSON nested deeper than {MAX_DEPTH} levels; refused")
    try:
        return json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except (ValueError, RecursionError) as err:
        raise error(f"{source}: broken JSON: {shown(str(err).splitlines()[0])}") from None


def read_json_mapping(path: str | os.PathLike[str], *, what: str = "file", max_bytes: int = MAX_TEXT_BYTES,
                      error: type[HospfabError] = ConfigError) -> dict[str, Any]:
    """The top-level object of a JSON file: regular file, size, depth and integer limits (``error`` raised
    for broken or refused content, naming the file)."""
    path = Path(path)
    text = read_regular_text(path, what=what, max_bytes=max_bytes)
    data = loads_json(text, source=shown(path), error=error)
    if not isinstance(data, dict):
        raise error(f"{shown(path)}: expected a JSON object at the top level of the {what}")
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


def _describe_one(error: dict[str, Any], model: type | None, data: Any, hidden_keys: tuple[str, ...]) -> str:
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


def _key_text(loc: tuple[Any, ...], data: Any) -> str:
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


def _walk_fields(model: type | None, loc: tuple[Any, ...]) -> tuple[type | None, Any]:
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


def _model_in(annotation: Any, get_args: Callable[[Any], tuple[Any, ...]],
              get_origin: Callable[[Any], Any]) -> type | None:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg, get_args, get_origin)
            if found is not None:
                return found
    return None


def _known_keys(model: type | None, loc: tuple[Any, ...], hidden_keys: tuple[str, ...]) -> list[str]:
    reached = _walk_fields(model, loc)[0] if loc else model
    fields = getattr(reached, "model_fields", None) or {}
    hidden = () if loc else hidden_keys
    return [name for name in fields if name not in hidden]


def _field_at(model: type | None, loc: tuple[Any, ...]) -> Any:
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
