"""One connection interface over SQLite and PostgreSQL, and the errors both backends raise.

A :class:`Connection` runs portable SQL (``?`` placeholders), in autocommit mode outside
``hospfab.journal.db.transaction``. Driver errors never escape: a server that cannot be reached becomes
:class:`DatabaseUnavailable`, a writer that waited too long :class:`DatabaseBusy` (both exit 5, one line), a
broken constraint :class:`ConstraintViolation` (its ``constraint`` names the index), anything else
:class:`JournalError`.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hospfab.errors import ConfigError, ExitCode, HospfabError

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another writer's transaction (concurrent `hospfab print`)


class JournalError(HospfabError):
    """The journal database cannot be opened, read or written."""

    code = "journal_error"
    exit_code = ExitCode.DATABASE

    def __init__(self, message: str, *, detail: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.detail = detail or message


class DatabaseUnavailable(JournalError):
    """The database server cannot be reached (down, wrong host or port, refused credentials)."""

    code = "database_unavailable"


class DatabaseBusy(JournalError):
    """Another writer held the database longer than the busy timeout (or a deadlock was broken)."""

    code = "database_busy"


class ConstraintViolation(JournalError):
    """A write broke a constraint of the schema (unique index, check, foreign key)."""

    code = "constraint_violation"

    def __init__(self, message: str, *, constraint: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.constraint = constraint


class JournalTooNew(ConfigError):
    """The journal was written by a newer hospfab (a component's schema version is above this code's)."""

    code = "journal_too_new"


def is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://user:***@host/db``); other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparsable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons inside strings and triggers are safe)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements


class Connection:
    """What components use: ``execute``, ``executemany``, ``table_exists``, ``now``, ``for_update`` (the
    row-locking suffix of a ``SELECT`` inside a write transaction), ``dialect`` and ``name`` (for messages,
    never holding a password). Backends implement the underscored methods."""

    dialect: str = ""
    for_update: str = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tx = False  # inside transaction(): a lost connection must fail, never silently re-open

    # ---- statements -------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Any = ()) -> Any:
        try:
            return self._execute(sql, params)
        except JournalError:
            raise
        except Exception as err:  # driver errors only: translated once, here
            raise self.translate(err, sql) from err

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection since it was opened (as SQLite's)."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Any) -> Any:
        try:
            return self._executemany(sql, rows)
        except JournalError:
            raise
        except Exception as err:
            raise self.translate(err, sql) from err

    def begin(self, *, immediate: bool) -> None:
        self.execute(self._begin_sql(immediate))
        self._tx = True

    def commit(self) -> None:
        try:
            self.execute("COMMIT")
        finally:
            self._tx = False

    def rollback_quietly(self, original: BaseException) -> None:
        """Roll back after ``original`` without masking it (the connection may already be gone, or the
        backend may already have rolled back)."""
        self._tx = False
        try:
            if self.in_transaction:
                self._execute("ROLLBACK", ())
        except Exception as err:  # keep the original error; note the failed rollback on it
            original.add_note(f"(rollback also failed: {err})")

    def close(self) -> None:
        try:
            self._close()
        except Exception:
            pass

    # ---- backend hooks ------------------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def _execute(self, sql: str, params: Any) -> Any:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Any) -> Any:
        raise NotImplementedError

    def _begin_sql(self, immediate: bool) -> str:
        return "BEGIN"

    def _close(self) -> None:
        raise NotImplementedError

    def translate(self, err: Exception, sql: str) -> JournalError:
        raise NotImplementedError

    def table_exists(self, name: str) -> bool:
        raise NotImplementedError

    def now(self) -> str:
        raise NotImplementedError

    def lock_key(self, key: str) -> None:
        """Inside a transaction: hold a lock named ``key`` until it ends (PostgreSQL advisory lock); SQLite's
        ``BEGIN IMMEDIATE`` already serialises every writer."""

    def migration_lock(self) -> None:
        """Inside a transaction: serialise concurrent migrators (SQLite's write lock already does)."""

    def translate_ddl(self, script: str) -> str:
        return script

    def server(self) -> str:
        """Backend and server version, for `hospfab db status`."""
        raise NotImplementedError


# SQLite's INTEGER PRIMARY KEY (with or without AUTOINCREMENT) numbers rows itself: an identity column in PostgreSQL
_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b", re.IGNORECASE)


def ddl_for_postgresql(script: str) -> str:
    """The SQLite-flavoured DDL of a migration, for PostgreSQL: identity keys and double precision."""
    script = _AUTOINCREMENT.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
    return _REAL.sub("DOUBLE PRECISION", script)
