"""The shared backend: a PostgreSQL server through psycopg 3 (imported only when a URL is configured).

Portable SQL comes in with ``?`` placeholders and is rewritten once per statement to psycopg's ``%s``.
Rows support ``row["column"]``, ``row[0]``, ``dict(row)`` and unpacking, like :class:`sqlite3.Row`. A
connection lost outside a transaction is re-opened on the next statement (the server was restarted); inside
a transaction the error is raised, since nothing of that transaction was committed.
"""

from __future__ import annotations

from datetime import timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors

from hospfab.journal.connection import (
    BUSY_TIMEOUT_S,
    ConstraintViolation,
    Connection,
    DatabaseBusy,
    DatabaseUnavailable,
    JournalError,
    ddl_for_postgresql,
    redact,
)

MIGRATION_LOCK = 0x686F7366  # pg_advisory_xact_lock key serialising concurrent migrators ("hosf")
CONNECT_TIMEOUT_S = 10


class Row(tuple):
    """A result row indexable by position or column name (the shape of :class:`sqlite3.Row`)."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    if cursor.description is None:
        return None
    index = {col.name: i for i, col in enumerate(cursor.description)}
    row_type = type("Row", (Row,), {"__slots__": (), "_index": index})
    return lambda values: row_type(values)


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders (outside quotes) to ``%s``; every literal ``%`` doubled."""
    out, quote = [], ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


def one_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def where(url: str) -> str:
    """``host:port/dbname`` of ``url``, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost (Unix socket)"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


class PostgreSQLConnection(Connection):
    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(redact(url))
        self._url, self._timeout = url, timeout
        self._changes = 0
        self.raw = self._open()

    def _open(self) -> psycopg.Connection:
        try:
            raw = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                  row_factory=_row_factory)  # fmt: skip
            raw.execute(f"SET lock_timeout = '{int(self._timeout * 1000)}ms'")
            raw.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as err:
            raise self._unavailable(err) from err
        return raw

    def _unavailable(self, err: Exception) -> DatabaseUnavailable:
        first = one_line(err) or "no answer"
        first = first.replace(self._url, self.name)
        return DatabaseUnavailable(
            f"PostgreSQL at {where(self._url)} unreachable: {first}; check that the server is running, the host, "
            "port and credentials of HOSPFAB_DATABASE (or --database), and the network",
            detail=first,
        )

    @property
    def in_transaction(self) -> bool:
        if self.raw.closed or self.raw.broken:
            return False
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def _ensure_open(self) -> None:
        if self.raw.closed or self.raw.broken:
            if self._tx:
                raise DatabaseUnavailable(f"PostgreSQL at {where(self._url)}: connection lost during a transaction "
                                          "(nothing of it was committed)")
            self.raw.close()
            self.raw = self._open()

    @property
    def total_changes(self) -> int:
        return self._changes

    def _count(self, sql: str, cursor: Any) -> Any:
        if cursor.rowcount > 0 and sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._changes += cursor.rowcount
        return cursor

    def _execute(self, sql: str, params: Any) -> Any:
        self._ensure_open()
        return self._count(sql, self.raw.execute(to_psycopg(sql), tuple(params)))

    def _executemany(self, sql: str, rows: Any) -> Any:
        self._ensure_open()
        cursor = self.raw.cursor()
        cursor.executemany(to_psycopg(sql), [tuple(r) for r in rows])
        return self._count(sql, cursor)

    def _close(self) -> None:
        self.raw.close()

    def translate(self, err: Exception, sql: str) -> JournalError:
        if isinstance(err, pg_errors.IntegrityError):
            constraint = getattr(err.diag, "constraint_name", None) or ""
            return ConstraintViolation(f"{where(self._url)}: {one_line(err)}", detail=one_line(err),
                                       constraint=constraint)
        if isinstance(err, (pg_errors.LockNotAvailable, pg_errors.TransactionRollback, pg_errors.QueryCanceled)):
            return DatabaseBusy(
                f"{where(self._url)}: {one_line(err)} (waited up to {BUSY_TIMEOUT_S:g} s for another writer); "
                "retry",
                detail=str(err),
            )
        if isinstance(err, psycopg.OperationalError) or self.raw.broken or self.raw.closed:
            return self._unavailable(err)
        if isinstance(err, psycopg.Error):
            return JournalError(f"{where(self._url)}: {one_line(err)}", detail=one_line(err))
        raise err

    def table_exists(self, name: str) -> bool:
        return self.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]

    def now(self) -> str:
        value = self.execute("SELECT clock_timestamp()").fetchone()[0]
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def lock_key(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(1, hashtext(?))", (key,))

    def migration_lock(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def translate_ddl(self, script: str) -> str:
        return ddl_for_postgresql(script)

    def server(self) -> str:
        version = self.execute("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {version} at {where(self._url)}"


def connect_postgresql(url: str, *, timeout: float = BUSY_TIMEOUT_S) -> PostgreSQLConnection:
    return PostgreSQLConnection(url, timeout)
