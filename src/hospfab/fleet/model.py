"""The fleet file: which OctoPrint printers exist, where their API keys come from, what material is loaded.

Example ``fleet.yaml``::

    version: 1
    printers:
      - name: mk4-01
        url: http://octopi-01.lan
        api_key_env: HOSPFAB_KEY_MK4_01     # or api_key_file: keys/mk4-01.key (mode 0600)
        profile: prusa-mk4
        material: petg-medical
        material_lot: LOT-2024-117
        site: building-b
        tags: [icu]
        bed_clearing: manual                # or automatic

API keys are never stored in this file, printed or logged: only where to find them.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from hospfab.fleet.status import PrinterStatus
    from hospfab.octoprint.client import OctoPrintClient

from hospfab.errors import ConfigError, InputError, NotFoundError
from hospfab.fileio import (
    atomic_write_text,
    describe_validation_error,
    read_regular_bytes,
    read_yaml_mapping,
    shown,
)

FLEET_FILE_VERSION = 1
#: Longest printer URL accepted.
MAX_URL_CHARS = 2048
#: Longest API key accepted (OctoPrint's keys are 32-43 characters).
MAX_KEY_CHARS = 256
#: Largest api_key_file read.
MAX_KEY_FILE_BYTES = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PrinterConfig(BaseModel):
    """One printer of the fleet."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(description="Unique printer name: letters, digits, '.', '_' or '-', at most 64.")
    url: str = Field(description="OctoPrint base URL, http:// or https:// (TLS is verified), no credentials.")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    api_key_file: str | None = Field(
        None, description="File holding the API key (mode 0600); relative paths are relative to the fleet file."
    )
    profile: str = Field(description="Printer profile name (profiles/printers).")
    material: str = Field(description="Material profile of the spool loaded now.")
    material_lot: str | None = Field(None, description="Lot number of the spool loaded now.")
    site: str | None = Field(None, description="Where the printer stands (building, room).")
    tags: list[str] = Field(default_factory=list, description="Free labels (ward, purpose).")
    bed_clearing: Literal["manual", "automatic"] = Field(
        "manual", description="manual: a person must confirm the bed is clear before the next job."
    )
    timeout_s: float = Field(
        10.0, gt=0, le=300,
        description="Seconds to wait for an answer (uploads get 3x); choosing a printer, listing and watching jobs "
        "wait at most 3 s.",
    )
    test_printer: bool = Field(
        False, description="A test rig (e.g. OctoPrint's Virtual Printer): the only kind that may print a "
        "recipe made for a test-only printer profile."
    )

    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        # never echo the URL in these messages: it may hold a secret
        value = value.strip()
        if len(value) > MAX_URL_CHARS:
            raise ValueError(f"is longer than {MAX_URL_CHARS} characters")
        if any(not 0x21 <= ord(ch) <= 0x7E for ch in value):
            raise ValueError("must be printable ASCII, without spaces, line breaks or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if "@" in parts.netloc:
            raise ValueError("must not contain credentials (user:password@): use api_key_env or api_key_file")
        if "?" in value or "#" in value:
            raise ValueError(
                "must not have a query (?...) or fragment (#...): an API key there would be printed and stored; "
                "use api_key_env or api_key_file"
            )
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name (letters, digits, '_')")
        return value

    @field_validator("profile", "material")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _one_key_source(self) -> PrinterConfig:
        if (self.api_key_env is None) == (self.api_key_file is None):
            raise ValueError("give exactly one of api_key_env or api_key_file")
        return self

    # -- API key and client --------------------------------------------------------------------------

    def key_file_path(self) -> Path | None:
        if self.api_key_file is None:
            return None
        path = Path(self.api_key_file).expanduser()
        if not path.is_absolute() and self._base_dir is not None:
            path = self._base_dir / path
        return path

    def api_key(self) -> str:
        """The API key, from the environment variable or the 0600 key file, checked to be one line of printable
        ASCII of at most ``MAX_KEY_CHARS`` before any use. Never logged, stored, or shown in a message."""
        if self.api_key_env is not None:
            value = os.environ.get(self.api_key_env, "").strip()
            if not value:
                raise ConfigError(
                    f"printer {self.name}: environment variable {self.api_key_env} (api_key_env) is not set"
                )
            return _checked_key(value, f"printer {self.name}: the API key in environment variable {self.api_key_env}")
        path = self.key_file_path()
        assert path is not None
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as err:
            raise ConfigError(f"printer {self.name}: cannot read api_key_file {shown(path)}: {err.strerror}") from None
        if mode & 0o077:
            raise ConfigError(
                f"printer {self.name}: api_key_file {shown(path)} refused: mode {mode:04o} lets others read it "
                f"(run: chmod 600 {shown(path)})"
            )
        try:  # a regular file only (a FIFO would block forever), of bounded size
            raw = read_regular_bytes(path, what="api_key_file", max_bytes=MAX_KEY_FILE_BYTES)
        except InputError as err:
            raise ConfigError(f"printer {self.name}: {err.message}") from None
        where = f"printer {self.name}: the API key in api_key_file {shown(path)}"
        try:
            value = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ConfigError(f"{where} is not printable ASCII (it is not shown)") from None
        if not value:
            raise ConfigError(f"printer {self.name}: api_key_file {shown(path)} is empty")
        return _checked_key(value, where)

    def client(self, **kwargs: Any) -> OctoPrintClient:
        """An :class:`~hospfab.octoprint.OctoPrintClient` for this printer (use it as a context manager)."""
        from hospfab.octoprint.client import OctoPrintClient

        kwargs.setdefault("read_timeout", self.timeout_s)
        return OctoPrintClient(self.url, self.api_key(), name=self.name, **kwargs)


def _defaults_left_out(printer: PrinterConfig) -> set[str]:
    out = set() if printer.tags else {"tags"}
    if not printer.test_printer:
        out.add("test_printer")
    if printer.timeout_s == PrinterConfig.model_fields["timeout_s"].default:
        out.add("timeout_s")
    return out


def _checked_key(value: str, where: str) -> str:
    """``value`` when it is one line of printable ASCII of at most MAX_KEY_CHARS; ConfigError (exit 2) naming
    where it came from, never the key, otherwise. A key that fails reaches no library that could echo it."""
    if len(value) > MAX_KEY_CHARS:
        raise ConfigError(f"{where} is longer than {MAX_KEY_CHARS} characters (it is not shown)")
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{where} has several lines; a key is one line (it is not shown)")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in value):
        raise ConfigError(f"{where} has spaces, control or non-ASCII characters (it is not shown)")
    return value


class Fleet(BaseModel):
    """All printers of one fleet file."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(FLEET_FILE_VERSION, description="Fleet file format version.")
    printers: list[PrinterConfig] = Field(default_factory=list)

    _path: Path | None = PrivateAttr(default=None)
    _exists: bool = PrivateAttr(default=True)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value > FLEET_FILE_VERSION:
            raise ValueError(f"is {value}, newer than this hospfab understands ({FLEET_FILE_VERSION}): upgrade")
        if value < 1:
            raise ValueError("must be 1")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Fleet:
        seen: set[str] = set()
        for printer in self.printers:
            if printer.name in seen:
                raise ValueError(f"printer name {printer.name!r} appears twice")
            seen.add(printer.name)
        return self

    # -- file ------------------------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def exists(self) -> bool:
        """False when loaded from a missing file (an empty fleet)."""
        return self._exists

    @property
    def hint(self) -> str | None:
        """What to do when the fleet is empty, naming the file."""
        if self.printers:
            return None
        where = self._path or "the fleet file"
        start = f"no fleet file at {where}" if not self._exists else f"no printers in {where}"
        return (
            f"{start}: add one with `hospfab printers add NAME --url URL --api-key-env VAR "
            f"--profile P --material M` (or choose a file with --fleet / HOSPFAB_FLEET)"
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Fleet:
        """Read a fleet file. A missing file gives an empty fleet (see :attr:`hint`); a broken one raises
        ConfigError naming the file and the key."""
        path = Path(path)
        try:
            raw = read_yaml_mapping(path, what="fleet file")
        except NotFoundError:
            fleet = cls()
            fleet._path, fleet._exists = path, False
            return fleet
        try:
            fleet = cls.model_validate(raw)
        except ValidationError as err:
            raise ConfigError(describe_validation_error(err, path, model=cls, data=raw)) from None
        fleet._path = path
        for printer in fleet.printers:
            printer._base_dir = path.parent
        return fleet

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the fleet atomically (temp file in the same folder, fsync, rename)."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise ConfigError("no fleet file path to save to")
        doc = {
            "version": FLEET_FILE_VERSION,
            "printers": [p.model_dump(exclude_none=True, exclude=_defaults_left_out(p)) for p in self.printers],
        }
        text = "# hospfab fleet file (API keys are never stored here: only where to find them)\n"
        text += yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        from hospfab.settings import make_private_dir

        make_private_dir(target.parent)
        atomic_write_text(target, text, mode=0o600)  # names where keys are: for its owner only
        self._path, self._exists = target, True
        return target

    # -- editing ---------------------------------------------------------------------------------------

    def get(self, name: str) -> PrinterConfig:
        for printer in self.printers:
            if printer.name == name:
                return printer
        known = ", ".join(p.name for p in self.printers) or "none"
        raise NotFoundError(f"printer {name}: not in the fleet file {self._path or ''} (known: {known})".strip())

    def add(self, printer: PrinterConfig) -> None:
        if any(p.name == printer.name for p in self.printers):
            raise InputError(f"printer {printer.name}: already in the fleet file (remove it first)")
        if self._path is not None:
            printer._base_dir = self._path.parent
        self.printers.append(printer)

    def remove(self, name: str) -> PrinterConfig:
        printer = self.get(name)
        self.printers.remove(printer)
        return printer

    def status_all(self, timeout: float = 5.0, max_workers: int | None = None) -> list[PrinterStatus]:
        """Status of every printer, queried concurrently (see :func:`hospfab.fleet.status.status_all`)."""
        from hospfab.fleet.status import status_all

        return status_all(self.printers, timeout=timeout, max_workers=max_workers)
