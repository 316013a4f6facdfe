"""Database operations behind `hospfab db`: status, upgrade, and copying a journal into another database.

:func:`copy_database` copies every state table of a source (an SQLite journal, or a URL) into the target,
in one transaction per table, and verifies the result: each source row is in the target, unchanged (a
SHA-256 over the source rows, in key order, equals the one over the matching target rows). Rows already
there are skipped, so it can be rerun. Tables keyed by text (jobs, lots, plates, ...) match on their key;
tables keyed by a counter (``material_loads``, ``plate_events``) match on their content and get new
counters in the target, so two workstations' journals can both be copied into one database.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hospfab.errors import CheckFailed, InputError
from hospfab.journal.db import Connection, connect, describe, is_url, schema_versions, transaction

# Every component that keeps state in the database, as "module:class" (migrated by `hospfab db upgrade`).
COMPONENTS = (
    "hospfab.journal.store:Journal",
    "hospfab.queue.store:QueueStore",
    "hospfab.journal.printer_state:PrinterStates",
    "hospfab.queue.leases:RunnerLeases",
)

# Tables copied by `hospfab db copy`, parents first: (table, key columns); an empty key means "a counter
# id: match on content".
COPIED_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("jobs", ("id",)),
    ("bed_clear", ("printer",)),
    ("material_loads", ()),
    ("lots", ("id",)),
    ("plates", ("id",)),
    ("plate_events", ()),
    ("printer_state", ("printer",)),
)
COUNTED_TABLES = ("jobs", "bed_clear", "material_loads", "lots", "plates", "plate_events", "printer_state",
                  "runner_leases")  # fmt: skip


def component_classes() -> list[type]:
    classes = []
    for spec in COMPONENTS:
        module, _, name = spec.partition(":")
        try:
            classes.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue  # a component not in this version of hospfab
    return classes


def upgrade(target: Path | str) -> dict[str, int]:
    """Migrate every component; returns the versions now recorded."""
    for cls in component_classes():
        cls(target).close()
    conn = connect(target)
    try:
        return schema_versions(conn)
    finally:
        conn.close()


def status(target: Path | str) -> dict[str, Any]:
    """Backend, server, schema versions (recorded and known to this hospfab) and row counts. Read only."""
    conn = connect(target)
    try:
        recorded = schema_versions(conn)
        known = {cls.COMPONENT: len(cls.MIGRATIONS) for cls in component_classes()}
        components = {
            name: {"recorded": recorded.get(name, 0), "code": known.get(name)}
            for name in sorted(set(recorded) | set(known))
        }
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in COUNTED_TABLES if conn.table_exists(t)}  # fmt: skip
        pending = sorted(n for n, v in components.items() if v["code"] is not None and v["recorded"] < v["code"])
        return {"backend": conn.dialect, "database": describe(target), "server": conn.server(),
                "components": components, "pending_upgrade": pending, "counts": counts}  # fmt: skip
    finally:
        conn.close()


@dataclass
class TableCopy:
    table: str
    source_rows: int = 0
    copied: int = 0
    already_present: int = 0
    conflicts: list[str] = field(default_factory=list)
    checksum: str = ""
    verified: bool = False


def copy_database(source: Path | str, target: Path | str) -> list[TableCopy]:
    """Copy ``source`` into ``target`` (both brought to the current schema; an SQLite source is migrated in
    a temporary copy, never in place). Raises :class:`CheckFailed` if a row could not be verified."""
    if not is_url(str(source)) and not Path(source).is_file():
        raise InputError(f"{source}: no such journal file")
    if describe(source) == describe(target):
        raise InputError(f"{describe(source)}: source and target are the same database")
    upgrade(target)
    scratch = None
    if not is_url(str(source)):
        scratch = Path(tempfile.mkdtemp(prefix="hospfab-copy-"))
        copy = scratch / "source.sqlite3"
        _sqlite_snapshot(Path(source), copy)
        source = copy
    try:
        upgrade(source)
        src, dst = connect(source), connect(target)
        try:
            results = [_copy_table(src, dst, table, key) for table, key in COPIED_TABLES
                       if src.table_exists(table) and dst.table_exists(table)]  # fmt: skip
        finally:
            src.close()
            dst.close()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    bad = [r for r in results if not r.verified]
    if bad:
        detail = "; ".join(f"{r.table}: {', '.join(r.conflicts[:3]) or 'checksum differs'}" for r in bad)
        raise CheckFailed(f"copy into {describe(target)} not verified: {detail}",
                          details={"tables": [asdict(r) for r in results]})  # fmt: skip
    return results


def _sqlite_snapshot(path: Path, copy: Path) -> None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
    except sqlite3.Error as err:
        raise InputError(f"{path}: cannot read the journal to copy: {err}") from err


def _columns(conn: Connection, table: str) -> list[str]:
    cursor = conn.execute(f"SELECT * FROM {table} WHERE 1=0")
    return [getattr(d, "name", None) or d[0] for d in cursor.description]


def _digest(rows: list[tuple]) -> str:
    hasher = hashlib.sha256()
    for row in rows:
        hasher.update(json.dumps(list(row), default=str, ensure_ascii=False).encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def _copy_table(src: Connection, dst: Connection, table: str, key: tuple[str, ...]) -> TableCopy:
    result = TableCopy(table)
    columns = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
    content = [c for c in columns if c != "id"] if not key else columns
    listed = ", ".join(content)
    order = ", ".join(key or content)
    rows = [tuple(r) for r in src.execute(f"SELECT {listed} FROM {table} ORDER BY {order}").fetchall()]
    result.source_rows = len(rows)
    result.checksum = _digest(rows)
    match_cols = key or tuple(content)
    where = " AND ".join(f"{c} IS NOT DISTINCT FROM ?" if dst.dialect == "postgresql" else f"{c} IS ?"
                         for c in match_cols)  # fmt: skip
    select = f"SELECT {listed} FROM {table} WHERE {where} LIMIT 1"
    with transaction(dst):
        for row in rows:
            values = dict(zip(content, row))
            existing = dst.execute(select, [values[c] for c in match_cols]).fetchone()
            if existing is None:
                marks = ", ".join("?" * len(content))
                dst.execute(f"INSERT INTO {table}({listed}) VALUES ({marks})", row)
                result.copied += 1
                continue
            result.already_present += 1
            if tuple(existing) != row:
                result.conflicts.append(f"{'/'.join(str(values[c]) for c in match_cols)} differs")
    # verification, after the commit: read every source row back from the target
    found = []
    for row in rows:
        values = dict(zip(content, row))
        back = dst.execute(select, [values[c] for c in match_cols]).fetchone()
        found.append(tuple(back) if back is not None else ())
    result.verified = not result.conflicts and _digest(found) == result.checksum
    return result
