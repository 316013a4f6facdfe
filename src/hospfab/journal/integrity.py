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
from collections.abc import Callable
from pathlib import Path

from hospfab.errors import ExitCode
from hospfab.journal.connection import JournalError

#: ``PRAGMA application_id`` of a hospfab journal ("HFJ1").
APPLICATION_ID = 0x48464A31
WAY_OUT = "run `hospfab journal check`; restore a good copy with `hospfab journal restore FROM`"


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


def _regular_id(path: Path) -> str | None:
    """The journal id kept beside the journal (None when absent or unreadable as a short regular file)."""
    from hospfab.errors import InputError
    from hospfab.fileio import read_regular_text

    try:
        text = read_regular_text(id_path(path), what="journal id file", max_bytes=200).strip()
    except InputError:
        return None
    return text or None


_VERIFIED: set[tuple] = set()


def _state_key(path: Path, info: os.stat_result) -> tuple:
    """The file and its -wal as this process verified them: a -wal put there since is a new file, a change
    by another writer a new size or time."""
    try:
        wal = os.stat(path.with_name(path.name + "-wal"))
        wal_key: tuple | None = (wal.st_ino, wal.st_size, wal.st_mtime_ns)
    except OSError:
        wal_key = None
    return (str(path), info.st_ino, info.st_size, info.st_mtime_ns, wal_key)


def verify_before_open(path: Path) -> None:
    """Refuse a journal that is not itself or not intact, before a read-write connection could write to it
    (or checkpoint a foreign ``-wal`` into it). Cheap: once per process and file, on a read-only connection."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return  # a new journal
    except OSError as err:
        raise JournalError(f"{path}: cannot open the journal: {err.strerror}") from None
    import stat as stat_module

    if not stat_module.S_ISREG(info.st_mode):
        raise JournalDamaged(f"{path}: the journal is not a regular file; {WAY_OUT}")
    key = _state_key(path, info)
    if key in _VERIFIED:
        return
    problem = inspect(path)
    if problem is not None:
        if _disk_full(path):  # SQLite cannot even create its -shm: not damage
            raise JournalError(f"{path}: the disk holding the journal is full", code="journal_disk_full")
        raise JournalDamaged(f"{path}: {problem}; {WAY_OUT}")
    _VERIFIED.add(key)


def _disk_full(path: Path) -> bool:
    try:
        info = os.statvfs(path.parent)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 64 * 1024


def inspect(path: Path, *, full: bool = False) -> str | None:
    """What is wrong with the journal at ``path`` (None: it is itself and intact). Read-only."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as err:
        return f"cannot be opened ({err})"
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables and "schema_migrations" not in tables):
            return f"is not a hospfab journal (application_id {app_id:#x})"
        inside = None
        if "journal_identity" in tables:
            row = conn.execute("SELECT id FROM journal_identity ORDER BY rowid LIMIT 1").fetchone()
            inside = row[0] if row else None
        beside = _regular_id(path)
        if beside is not None and inside != beside:
            wal = path.with_name(path.name + "-wal")
            hint = f" (is {wal.name} from another database? move it away)" if wal.exists() else ""
            return (f"its contents are journal {inside or 'without id'}, not journal {beside} "
                    f"recorded in {id_path(path).name}{hint}")  # fmt: skip
        pragma = "integrity_check" if full else "quick_check"
        results = [r[0] for r in conn.execute(f"PRAGMA {pragma}(5)")]
        if results != ["ok"]:
            return f"fails SQLite's {pragma.replace('_', ' ')} ({'; '.join(map(str, results))[:300]})"
    except sqlite3.Error as err:
        return f"cannot be read ({err})"
    finally:
        conn.close()
    return None


def stamp(conn: sqlite3.Connection, path: Path) -> None:
    """Mark an opened journal as hospfab's (application_id) with its own id, inside and beside it."""
    from hospfab.fileio import atomic_write_text

    try:
        row = None
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='journal_identity'").fetchone():
            row = conn.execute("SELECT id FROM journal_identity ORDER BY rowid LIMIT 1").fetchone()
        if row is None or conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute("BEGIN IMMEDIATE")  # two processes creating one journal agree on one id
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("CREATE TABLE IF NOT EXISTS journal_identity (id TEXT NOT NULL)")
                row = conn.execute("SELECT id FROM journal_identity ORDER BY rowid LIMIT 1").fetchone()
                if row is None:
                    row = (_regular_id(path) or secrets.token_hex(16),)
                    conn.execute("INSERT INTO journal_identity(id) VALUES (?)", row)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        journal_id = row[0]
    except sqlite3.Error as err:
        raise describe_sqlite_error(str(path), err) from None
    if _regular_id(path) != journal_id:
        try:
            atomic_write_text(id_path(path), journal_id + "\n", mode=0o600)
        except OSError as err:
            raise JournalError(f"{id_path(path)}: cannot write the journal id: {err.strerror}") from None
    try:
        _VERIFIED.add(_state_key(path, os.stat(path)))
    except OSError:
        pass


def journal_id(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT id FROM journal_identity ORDER BY rowid LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


# -- check, backup, restore (``hospfab journal ...``) -----------------------------------------------------------


def check_journal(path: Path) -> dict:
    """A full report on the journal at ``path``: identity, SQLite integrity check, damaged job rows."""
    from hospfab.errors import NotFoundError

    if not path.exists():
        raise NotFoundError(f"{path}: no journal here (nothing was printed yet, or HOSPFAB_HOME points elsewhere)")
    problem = inspect(path, full=True)
    report: dict = {"journal": str(path), "id": _regular_id(path), "ok": problem is None, "problem": problem,
                    "jobs": None, "damaged_rows": []}  # fmt: skip
    if problem is None:
        from hospfab.journal.store import DAMAGED, Job, lenient_text

        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        conn.text_factory = lenient_text
        try:
            rows = conn.execute("SELECT * FROM jobs").fetchall()
            jobs = [Job.from_row(r) for r in rows]
        except sqlite3.Error as err:
            report.update(ok=False, problem=f"the jobs table cannot be read ({err})")
            jobs = []
        finally:
            conn.close()
        report["jobs"] = len(jobs)
        report["damaged_rows"] = [{"id": j.id, "problem": j.reason} for j in jobs if j.outcome == DAMAGED]
        if report["damaged_rows"]:
            report["ok"] = False
    return report


def _copy_database(source: Path, dest: Path, *, check: Callable[[Path], None] | None = None) -> None:
    """Copy the SQLite database ``source`` to ``dest`` (mode 0600, atomically) through SQLite's backup API, in
    rollback-journal mode; ``check`` runs on the copy before it replaces ``dest``."""
    from hospfab.fileio import atomic_path

    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with atomic_path(dest, mode=0o600) as tmp:
            target = sqlite3.connect(tmp)
            try:
                src.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
            if check is not None:
                check(tmp)
    finally:
        src.close()


def backup_journal(path: Path, out: Path) -> dict:
    """Copy the journal (consistent, through SQLite's backup API) to ``out``, mode 0600; checked after."""
    from hospfab.errors import InputError

    if out.exists():
        raise InputError(f"{out}: already exists; choose a new file for the backup")
    verify_before_open(path)

    def checked(copy: Path) -> None:
        problem = inspect(copy, full=True)
        if problem is not None:
            raise JournalDamaged(f"{out}: the backup {problem}; nothing written")

    try:
        _copy_database(path, out, check=checked)
    except sqlite3.Error as err:
        raise describe_sqlite_error(str(out), err) from None
    except OSError as err:
        raise JournalError(f"{out}: cannot write the backup: {err.strerror}") from None
    return {"journal": str(path), "backup": str(out), "bytes": out.stat().st_size}


def restore_journal(path: Path, source: Path) -> dict:
    """Replace the journal with the backup ``source`` (checked first). The current journal, its ``-wal``,
    ``-shm`` and id file are moved aside (``<journal>.replaced-<UTC time>``), never deleted."""
    from datetime import datetime, timezone

    from hospfab.errors import InputError
    from hospfab.fileio import open_regular

    os.close(open_regular(source, what="journal backup"))
    problem = inspect(source, full=True)
    if problem is not None:
        raise JournalDamaged(f"{source}: the backup {problem}; the journal was not replaced")
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] not in (0, APPLICATION_ID):
            raise InputError(f"{source}: not a hospfab journal")
        backup_id = journal_id(conn)
    finally:
        conn.close()
    stamp_text = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm", ".id"):
        current = path.with_name(path.name + suffix)
        if current.exists():
            aside = path.with_name(f"{path.name}.replaced-{stamp_text}{suffix}")
            os.replace(current, aside)
            moved.append(str(aside))
    _copy_database(source, path)
    if backup_id:
        from hospfab.fileio import atomic_write_text

        atomic_write_text(id_path(path), backup_id + "\n", mode=0o600)
    _VERIFIED.clear()
    return {"journal": str(path), "restored_from": str(source), "moved_aside": moved, "id": backup_id}
