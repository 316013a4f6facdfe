"""Printers' runtime state that every workstation and runner must agree on, in the database.

The fleet YAML describes printers (name, URL, key source, profile, site, tags). What changes while they work
lives here, read fresh on every dispatch round:

- the material and lot loaded: the newest spool change in ``material_loads`` (``hospfab printers load``),
  falling back to the fleet file's ``material``/``material_lot`` for a printer never loaded through hospfab;
- bed cleared: ``bed_clear`` (``hospfab printers cleared``), compared with the printer's last job;
- enabled or disabled (component ``printer_state``): a disabled printer gets no new job, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hospfab.journal.db import Connection, Database, connect, migrate, transaction
from hospfab.journal.store import COMPONENT as JOURNAL_COMPONENT
from hospfab.journal.store import MIGRATIONS as JOURNAL_MIGRATIONS

COMPONENT = "printer_state"

MIGRATIONS = (
    """
    CREATE TABLE printer_state (
        printer    TEXT PRIMARY KEY,
        enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        reason     TEXT,
        changed_by TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    """,
)


@dataclass(frozen=True)
class SharedState:
    """One printer's runtime state as the database has it now."""

    printer: str
    material: str | None  # None: never loaded through hospfab (use the fleet file's)
    material_lot: str | None
    enabled: bool = True
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PrinterStates(Database):
    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        migrate(self.conn, JOURNAL_COMPONENT, JOURNAL_MIGRATIONS)  # material_loads and bed_clear live there

    def set_enabled(self, printer: str, enabled: bool, *, by: str, reason: str | None = None) -> SharedState:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO printer_state(printer, enabled, reason, changed_by, changed_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(printer) DO UPDATE SET enabled=excluded.enabled, reason=excluded.reason, "
                "changed_by=excluded.changed_by, changed_at=excluded.changed_at",
                (printer, 1 if enabled else 0, reason, by, self.conn.now()),
            )
        return self.current([printer])[printer]

    def current(self, printers: list[str] | None = None) -> dict[str, SharedState]:
        """The state of ``printers`` (every printer the database knows when None), one query per table."""
        return current_states(self.conn, printers)


def current_states(conn: Connection, printers: list[str] | None = None) -> dict[str, SharedState]:
    """The shared state of ``printers`` read from ``conn`` without migrating anything (a table not created yet
    means nothing recorded): read-only commands never write to the database."""
    loads = {}
    if conn.table_exists("material_loads"):
        loads = {
            row["printer"]: (row["material"], row["lot"])
            for row in conn.execute(
                "SELECT m.printer, m.material, m.lot FROM material_loads m JOIN "
                "(SELECT printer, MAX(id) AS id FROM material_loads GROUP BY printer) newest ON newest.id = m.id"
            )
        }
    flags = {}
    if conn.table_exists("printer_state"):
        flags = {row["printer"]: (bool(row["enabled"]), row["reason"])
                 for row in conn.execute("SELECT printer, enabled, reason FROM printer_state")}  # fmt: skip
    names = printers if printers is not None else sorted(set(loads) | set(flags))
    out = {}
    for name in names:
        material, lot = loads.get(name, (None, None))
        enabled, reason = flags.get(name, (True, None))
        out[name] = SharedState(name, material, lot, enabled, reason)
    return out


def with_shared_state(printer: Any, state: SharedState | None) -> Any:
    """``printer`` (a fleet entry) with the material and lot the database says are loaded now."""
    if state is None or state.material is None:
        return printer
    if hasattr(printer, "model_copy"):
        return printer.model_copy(update={"material": state.material, "material_lot": state.material_lot})
    from dataclasses import replace

    return replace(printer, material=state.material, material_lot=state.material_lot)


def read_shared_states(target: Any, printers: list[str]) -> dict[str, SharedState]:
    """:func:`current_states` of the database ``target`` (path or URL), opened only to read."""
    conn = connect(target)
    try:
        return current_states(conn, printers)
    finally:
        conn.close()
