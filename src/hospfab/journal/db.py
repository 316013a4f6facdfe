"""The database shared by every component that persists state (journal, batch queue, printer state, ...).

Two backends behind one small interface:

- **SQLite** (the default, nothing to set up): one file (``Settings.journal_path``) in WAL mode;
- **PostgreSQL** (``HOSPFAB_DATABASE=postgresql://...`` or ``--database``): one server shared by several
  workstations and sites, through psycopg 3 (imported only when such a URL is used).

:func:`connect` returns a :class:`~hospfab.journal.connection.Connection` whatever the backend: components
write portable SQL with ``?`` placeholders, read rows by column name or position, and get the same errors
(:class:`DatabaseUnavailable`, :class:`DatabaseBusy`, :class:`ConstraintViolation`). Each component owns an
explicit, append-only list of migrations and records how far it got in one shared table::

    schema_migrations(component TEXT PRIMARY KEY, version INTEGER NOT NULL)

Usage from a component (the queue, for example)::

    from hospfab.journal.db import Database, transaction

    class Lots(Database):
        COMPONENT = "lots"
        MIGRATIONS = (
            # version 1
            '''
            CREATE TABLE lots (id TEXT PRIMARY KEY, ref TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX lots_ref ON lots(ref);
            ''',
            # version 2: a callable gets the connection, already inside the migration transaction
            lambda conn: conn.execute("ALTER TABLE lots ADD COLUMN note TEXT"),
        )

    with Lots(settings.database) as lots, transaction(lots.conn):
        lots.conn.execute("INSERT INTO lots(id, ref, created_at) VALUES (?, ?, ?)", (..., lots.now()))

Rules:

- Migration *n* (1-based position in the list) brings the component from version n-1 to n. Never edit or
  reorder a released migration: append a new one. A migration is an SQL script (run on both backends;
  ``INTEGER PRIMARY KEY [AUTOINCREMENT]`` becomes an identity column and ``REAL`` double precision on
  PostgreSQL; avoid SQLite-only SQL such as ``PRAGMA``, ``sqlite_master`` or two-argument ``MAX``), a callable taking the
  connection (``conn.dialect`` is ``"sqlite"`` or ``"postgresql"``), or a dict ``{"sqlite": ...,
  "postgresql": ...}`` of either.
- All pending migrations of a call, and the version bump, run in ONE transaction (DDL is transactional on
  both backends): everything applies or nothing does. Opening a database whose schema is current takes no
  write lock (read-only commands never wait on a writer).
- A database whose recorded version for the component is higher than ``len(migrations)`` was written by a
  newer hospfab: :class:`JournalTooNew` is raised and nothing is touched.
- Connections are in autocommit mode; every change goes through :func:`transaction`, which commits on
  success and rolls back on any exception (the original exception is the one raised).
- Times: :meth:`Database.now` is the database server's clock (ISO 8601 UTC, microseconds), so hosts with
  skewed clocks still agree; compare times with :func:`parse_time`, never as strings.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from hospfab.journal.connection import (
    BUSY_TIMEOUT_S,
    ConstraintViolation,
    Connection,
    DatabaseBusy,
    DatabaseUnavailable,
    JournalError,
    JournalTooNew,
    is_url,
    redact,
    split_statements,
)
from hospfab.journal.integrity import JournalDamaged  # noqa: F401 - re-exported (a damaged SQLite journal)

Migration = str | Callable[[Connection], object] | Mapping[str, Any]

__all__ = [
    "BUSY_TIMEOUT_S", "ConstraintViolation", "Connection", "Database", "DatabaseBusy", "DatabaseUnavailable",
    "JournalDamaged", "JournalError", "JournalTooNew", "Migration", "connect", "describe", "is_url", "migrate", "parse_time",
    "read_url_file", "redact", "schema_version", "schema_versions", "split_statements", "transaction",
]  # fmt: skip


def connect(target: Path | str, *, timeout: float = BUSY_TIMEOUT_S) -> Connection:
    """Open the database ``target``: a ``postgresql://`` URL, or the path of an SQLite file (created with
    its folder if needed, WAL mode). Rows can be indexed by column name or position."""
    if is_url(str(target)):
        from hospfab.journal.pg_backend import connect_postgresql

        return connect_postgresql(str(target), timeout=timeout)
    from hospfab.journal.sqlite_backend import connect_sqlite

    return connect_sqlite(Path(target), timeout=timeout)


def describe(target: Path | str) -> str:
    """How to name ``target`` in messages: the path, or the URL without its password."""
    return redact(str(target)) if is_url(str(target)) else str(target)


def read_url_file(path: Path) -> str:
    """The database URL stored in ``path`` (``HOSPFAB_DATABASE_FILE``), refused unless only its owner can
    read it (it may hold a password)."""
    from hospfab.errors import ConfigError

    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path}: database URL file is not a regular file")
        if mode & 0o077:
            raise ConfigError(
                f"{path}: database URL file is readable by others (mode {stat.S_IMODE(mode):o}); "
                f"run `chmod 600 {path}`"
            )
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the database URL file: {err.strerror or err}") from err
    if not value:
        raise ConfigError(f"{path}: database URL file is empty")
    return value


@contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """One transaction, committed on success and rolled back on any exception (re-raised unchanged).

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock now, so a read-then-write is race free. PostgreSQL:
    ``BEGIN`` (read committed); writers protect their reads with ``conn.for_update`` row locks, conditional
    updates and the unique indexes of each component."""
    conn.begin(immediate=immediate)
    try:
        yield conn
    except BaseException as err:
        conn.rollback_quietly(err)
        raise
    conn.commit()


def _ensure_table(conn: Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )


def schema_version(conn: Connection, component: str) -> int:
    """The schema version recorded for ``component`` (0 when never migrated)."""
    if not conn.table_exists("schema_migrations"):
        return 0
    row = conn.execute("SELECT version FROM schema_migrations WHERE component=?", (component,)).fetchone()
    return int(row[0]) if row else 0


def schema_versions(conn: Connection) -> dict[str, int]:
    """Every component's recorded schema version."""
    if not conn.table_exists("schema_migrations"):
        return {}
    rows = conn.execute("SELECT component, version FROM schema_migrations ORDER BY component").fetchall()
    return {row[0]: int(row[1]) for row in rows}


def _too_new(conn: Connection, component: str, current: int, target: int) -> JournalTooNew:
    return JournalTooNew(
        f"{conn.name}: component '{component}' is at schema version {current}, newer than this hospfab "
        f"understands ({target}); upgrade hospfab"
    )


def migrate(conn: Connection, component: str, migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s tables up to ``len(migrations)``; return the version now recorded.

    Reads the version first without any lock; only when something is pending does it take the write lock
    (and re-read, another process may have migrated meanwhile). Raises :class:`JournalTooNew` if the
    database records a higher version than ``len(migrations)``.
    """
    target = len(migrations)
    current = schema_version(conn, component)
    if current == target:
        return current
    if current > target:
        raise _too_new(conn, component, current, target)
    try:
        with transaction(conn):
            conn.migration_lock()
            _ensure_table(conn)
            current = schema_version(conn, component)
            if current > target:
                raise _too_new(conn, component, current, target)
            for version in range(current + 1, target + 1):
                _apply(conn, migrations[version - 1])
            if target > current:
                conn.execute(
                    "INSERT INTO schema_migrations(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version=excluded.version",
                    (component, target),
                )
            return max(current, target)
    except (JournalTooNew, DatabaseUnavailable, DatabaseBusy):
        raise
    except JournalError as err:
        raise JournalError(f"{conn.name}: migrating '{component}' failed: {err.detail}") from err


def _apply(conn: Connection, step: Migration) -> None:
    if isinstance(step, Mapping):
        step = step[conn.dialect]
    if callable(step):
        step(conn)
        return
    for statement in split_statements(conn.translate_ddl(step)):
        conn.execute(statement)


def parse_time(value: str | datetime | None) -> datetime | None:
    """A stored time as an aware datetime (stored times are ISO 8601 UTC); None stays None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Database:
    """A component's view of the shared database: connected and migrated on open, closed on exit.

    ``target`` is an SQLite path, a ``postgresql://`` URL, or an open :class:`Connection` to share (one
    transaction can then span several components; the connection stays open on :meth:`close`).
    Subclasses name their ``COMPONENT`` and ``MIGRATIONS`` (see :func:`migrate`)."""

    COMPONENT: str
    MIGRATIONS: Sequence[Migration]

    def __init__(self, target: Path | str | Connection) -> None:
        if isinstance(target, Connection):
            self.conn, self._owns = target, False
        else:
            self.conn, self._owns = connect(target), True
        self.path: Path | str = self.conn.name if self.conn.dialect != "sqlite" else Path(self.conn.name)
        try:
            migrate(self.conn, self.COMPONENT, self.MIGRATIONS)
        except BaseException:
            self.close()
            raise

    @property
    def dialect(self) -> str:
        return self.conn.dialect

    def now(self) -> str:
        """Now on the database server's clock, ISO 8601 UTC with microseconds."""
        return self.conn.now()

    def close(self) -> None:
        if self._owns:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
