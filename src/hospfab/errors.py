"""One error hierarchy for all of hospfab.

Every expected failure is raised as a :class:`HospfabError` subclass carrying a one-line message (naming the
file, profile or printer concerned), a stable machine-readable ``code`` and the process ``exit_code``.
The CLI turns them into ``Error: <message>`` on stderr (or an ``errors`` entry in the JSON envelope) in one
place, ``hospfab.cli.output``; nothing else prints errors.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    FAILED = 1  # a check or validation failed (mesh defects, G-code out of bounds, print failed)
    USAGE = 2  # usage error or unreadable input (bad STL, broken YAML, unknown profile)
    PRINTER = 3  # printer unavailable or unreachable, or no printer can take the job
    SAFETY = 4  # refused for safety: integrity (checksum, signature) or validation status
    DATABASE = 5  # the journal database is unreachable, busy too long, or cannot be read or written
    INTERNAL = 70  # a bug in hospfab: please report it


class HospfabError(Exception):
    """Base of every expected hospfab failure."""

    code: str = "error"
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class InputError(HospfabError):
    """Input that cannot be read or understood: a missing or corrupt file, bad arguments."""

    code = "unreadable"
    exit_code = ExitCode.USAGE


class ConfigError(InputError):
    """A YAML profile, fleet file or catalog file that is malformed or invalid."""

    code = "invalid_config"


class NotFoundError(InputError):
    """A named thing (profile, reference, revision, printer, job) does not exist."""

    code = "not_found"


class CheckFailed(HospfabError):
    """A check or validation ran and found the subject unfit (exit 1)."""

    code = "check_failed"
    exit_code = ExitCode.FAILED


class SlicerError(HospfabError):
    """The slicer is missing, crashed, timed out or produced unusable output."""

    code = "slicer_failed"
    exit_code = ExitCode.FAILED


class PrinterError(HospfabError):
    """A printer is unreachable, refuses us, or cannot take a job (exit 3)."""

    code = "printer_unavailable"
    exit_code = ExitCode.PRINTER


class SafetyError(HospfabError):
    """Refused for safety: the operator must not get what they asked for without an override (exit 4)."""

    code = "refused"
    exit_code = ExitCode.SAFETY


class IntegrityError(SafetyError):
    """A checksum, manifest or signature does not match what was validated."""

    code = "integrity_failed"
