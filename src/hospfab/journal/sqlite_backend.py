"""The embedded backend: one SQLite file in WAL mode (the default; nothing to set up)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hospfab.journal.connection import (
    BUSY_TIMEOUT_S,
    ConstraintViolation,
    Connection,
    DatabaseBusy,
    JournalError,
)
from hospfab.journal.integrity import describe_sqlite_error, stamp, verify_before_open


class SQLiteConnection(Connection):
    dialect = "sqlite"
    for_update = ""  # BEGIN IMMEDIATE already holds the only write lock

    def __init__(self, raw: sqlite3.Connection, path: Path) -> None:
        super().__init__(str(path))
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    @property
    def total_changes(self) -> int:
        return self.raw.total_changes

    @property
    def text_factory(self) -> Any:
        return self.raw.text_factory

    @text_factory.setter
    def text_factory(self, factory: Any) -> None:  # the journal reads damaged text leniently
        self.raw.text_factory = factory

    def _execute(self, sql: str, params: Any) -> Any:
        return self.raw.execute(sql, params)

    def _executemany(self, sql: str, rows: Any) -> Any:
        return self.raw.executemany(sql, rows)

    def _begin_sql(self, immediate: bool) -> str:
        return "BEGIN IMMEDIATE" if immediate else "BEGIN"

    def _close(self) -> None:
        self.raw.close()

    def translate(self, err: Exception, sql: str) -> JournalError:
        text = str(err)
        if isinstance(err, sqlite3.IntegrityError):
            return ConstraintViolation(f"{self.name}: {text}", detail=text, constraint=text.rpartition(": ")[2])
        if isinstance(err, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return DatabaseBusy(
                f"{self.name}: {text} (another hospfab held the write lock for more than {BUSY_TIMEOUT_S:g} s); "
                "retry, or look for a stuck process using this journal",
                detail=text,
            )
        if isinstance(err, sqlite3.Error):
            return describe_sqlite_error(self.name, err)  # full disk, damaged or read-only file: one line
        if isinstance(err, OSError):
            return JournalError(f"{self.name}: {text}", detail=text)
        raise err

    def table_exists(self, name: str) -> bool:
        row = self.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        return row is not None

    def now(self) -> str:
        # The embedded database's clock is this machine's clock.
        return datetime.now(timezone.utc).isoformat(timespec="microseconds")

    def server(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (file {self.name})"


def connect_sqlite(path: Path, *, timeout: float = BUSY_TIMEOUT_S) -> SQLiteConnection:
    """Open (creating it 0600 and its folder 0700 if needed) the SQLite database at ``path`` in WAL mode, after
    checking it is itself and intact (:mod:`hospfab.journal.integrity`)."""
    from hospfab.settings import create_private_file

    verify_before_open(path)  # itself and intact, before anything may write to it
    try:
        create_private_file(path)  # 0600 (SQLite gives its -wal and -shm the same mode), folder 0700
        raw = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        raw.row_factory = sqlite3.Row
        mode = raw.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("PRAGMA synchronous=FULL")
    except (OSError, sqlite3.Error) as err:
        raise JournalError(f"{path}: cannot open the journal database: {err}") from err
    if str(mode).lower() != "wal":
        raw.close()
        raise JournalError(f"{path}: cannot switch the journal database to WAL mode (got {mode!r})")
    stamp(raw, path)
    return SQLiteConnection(raw, path)
