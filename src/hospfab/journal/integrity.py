"""The journal proves it is itself and intact before anything is written to it.

- **identity**: ``PRAGMA application_id`` marks the file as a hospfab journal, and a random journal id is kept
  both inside the database (``journal_identity``) and beside it (``<journal>.id``, mode 0600). A ``-wal`` file
  of another database placed beside the journal is replayed by SQLite without error: the id read through it
  then differs from the one beside the file, and the journal is refused *before* SQLite may checkpoint the
  foreign pages into it (the check runs on a read-only connection).
- **intactness**: ``PRAGMA quick_check`` on the same read-only connection, once per process and file state.
- errors name the file and the way out: ``hospfab journal check``, ``backup OUT``, ``restore FROM``.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

from hospfab.errors import ExitCode, HospfabError

#: ``PRAGMA application_id`` of a hospfab journal ("HFJ1").
APPLICATION_ID = 0x48464A31
WAY_OUT = "run `hospfab journal check`; restore a good copy with `hospfab journal restore FROM`"


class JournalError(HospfabError):
    """The journal database cannot be opened, read or written."""

    code = "journal_error"


class JournalDamaged(JournalError):
    """The journal is not the file it claims to be, or fails SQLite's integrity check (exit 4)."""

    code = "journal_damaged"
    exit_code = ExitCode.SAFETY


def describe_sqlite_error(name: str, err: sqlite3.Error) -> JournalError:
    text = str(err)
    lowered = text.lower()
    if "disk is full" in lowered or "disk full" in lowered:
        return JournalError(f"{name}: the disk holding the journal is full ({text})", code="journal_disk_full")
    if "malformed" in lowered or "not a database" in lowered or "disk image" in lowered:
        return JournalDamaged(f"{name}: the journal is damaged ({text}); {WAY_OUT}")
    if "readonly" in lowered or "read-only" in lowered:
        return JournalError(f"{name}: the journal cannot be written ({text})", code="journal_read_only")
    return JournalError(f"{name}: journal error: {text}")


def id_path(path: Path) -> Path:
    return path.with_name(path.name + ".id")
