"""SQLite plumbing shared by every component that persists state (the job journal, the batch queue).

One database file (``Settings.journal_path``) in WAL mode holds the tables of several components. Each
component owns an explicit, append-only list of migrations and records how far it got in one shared table::

    schema_migrations(component TEXT PRIMARY KEY, version INTEGER NOT NULL)

Usage from a component (the queue, for example)::

    from hospfab.journal.db import connect, migrate, transaction

    QUEUE_MIGRATIONS = (
        # version 1
        '''
        CREATE TABLE lots (id TEXT PRIMARY KEY, ref TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX lots_ref ON lots(ref);
        ''',
        # version 2: a callable gets the connection, already inside the migration transaction
        lambda conn: conn.execute("ALTER TABLE lots ADD COLUMN note TEXT"),
    )

    conn = connect(settings.journal_path)
    migrate(conn, "queue", QUEUE_MIGRATIONS)
    with transaction(conn):
        conn.execute("INSERT INTO lots ...")

Rules:

- Migration *n* (1-based position in the list) brings the component from version n-1 to n. Never edit or
  reorder a released migration: append a new one.
- All pending migrations of a call, and the version bump, run in ONE ``BEGIN IMMEDIATE`` transaction: either
  everything applies or nothing does (SQLite DDL is transactional). Do not use ``executescript`` in a
  migration callable: it commits behind your back.
- A database whose recorded version for the component is higher than ``len(migrations)`` was written by a
  newer hospfab: :class:`JournalTooNew` is raised and nothing is touched.
- Connections are in autocommit mode (``isolation_level=None``); every change goes through
  :func:`transaction`, which commits on success and rolls back on any exception.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from hospfab.errors import ConfigError
from hospfab.journal.integrity import (  # noqa: F401 - JournalDamaged re-exported
    JournalDamaged,
    JournalError,
    describe_sqlite_error,
    stamp,
    verify_before_open,
)
from hospfab.settings import create_private_file

Migration = str | Callable[[sqlite3.Connection], object]

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another writer's transaction (concurrent `hospfab print`)


class JournalTooNew(ConfigError):
    """The journal was written by a newer hospfab (a component's schema version is above this code's)."""

    code = "journal_too_new"


def connect(path: Path | str, *, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open (creating it and its folder if needed) the SQLite database at ``path`` in WAL mode.

    The connection is in autocommit mode: wrap every change in :func:`transaction`. Rows come back as
    :class:`sqlite3.Row` (index by column name).
    """
    path = Path(path)
    verify_before_open(path)  # itself and intact, before anything may write to it
    try:
        create_private_file(path)  # 0600 (SQLite gives its -wal and -shm the same mode), folder 0700
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")
    except (OSError, sqlite3.Error) as err:
        raise JournalError(f"{path}: cannot open the journal database: {err}") from err
    if str(mode).lower() != "wal":
        conn.close()
        raise JournalError(f"{path}: cannot switch the journal database to WAL mode (got {mode!r})")
    stamp(conn, path)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction: ``BEGIN IMMEDIATE`` (takes the write lock now, so read-then-write is race free),
    ``COMMIT`` on success, ``ROLLBACK`` on any exception (re-raised)."""
    try:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as err:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise journal_error(conn, err) from None


def journal_error(conn: sqlite3.Connection, err: sqlite3.Error) -> JournalError:
    """A one-line error naming the database file for an SQLite failure (a full disk, a damaged file)."""
    return describe_sqlite_error(_db_name(conn), err)


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


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """The schema version recorded for ``component`` (0 when never migrated)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM schema_migrations WHERE component=?", (component,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s tables up to ``len(migrations)``; return the version now recorded.

    Each migration is an SQL script (several statements allowed) or a callable taking the connection.
    Everything pending runs in one immediate transaction. Raises :class:`JournalTooNew` if the database
    records a higher version than ``len(migrations)``.
    """
    target = len(migrations)
    db_name = _db_name(conn)
    try:
        with transaction(conn):
            _ensure_table(conn)
            current = schema_version(conn, component)
            if current > target:
                raise JournalTooNew(
                    f"{db_name}: component '{component}' is at schema version {current}, newer than this "
                    f"hospfab understands ({target}); upgrade hospfab"
                )
            for version in range(current + 1, target + 1):
                step = migrations[version - 1]
                if callable(step):
                    step(conn)
                else:
                    for statement in split_statements(step):
                        conn.execute(statement)
            if target > current:
                conn.execute(
                    "INSERT INTO schema_migrations(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version=excluded.version",
                    (component, target),
                )
            return max(current, target)
    except sqlite3.Error as err:
        raise JournalError(f"{db_name}: migrating '{component}' failed: {err}") from err


def _db_name(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
        return row[2] or ":memory:"
    except sqlite3.Error:
        return "journal"


class Database:
    """A component's view of the journal database: connected and migrated on open, closed on exit.

    Subclasses name their ``COMPONENT`` and ``MIGRATIONS`` (see :func:`migrate`)."""

    COMPONENT: str
    MIGRATIONS: Sequence[Migration]

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        migrate(self.conn, self.COMPONENT, self.MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
