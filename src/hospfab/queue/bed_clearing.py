"""Who changed a printer's bed clearing (manual/automatic) and when (component ``bed_clearing``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hospfab.journal.db import Database, transaction
from hospfab.journal.store import now_iso

MIGRATIONS = (
    """
    CREATE TABLE bed_clearing_changes (
        printer  TEXT NOT NULL,
        at       TEXT NOT NULL,
        before   TEXT,
        after    TEXT NOT NULL,
        operator TEXT NOT NULL,
        PRIMARY KEY (printer, at)
    );
    """,
)


@dataclass(frozen=True)
class BedClearingChange:
    printer: str
    at: str
    before: str | None
    after: str
    operator: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


class BedClearingLog(Database):
    COMPONENT = "bed_clearing"
    MIGRATIONS = MIGRATIONS

    def record(self, printer: str, before: str | None, after: str, operator: str) -> BedClearingChange:
        change = BedClearingChange(printer, now_iso(), before, after, operator)
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO bed_clearing_changes(printer, at, before, after, operator) VALUES (?,?,?,?,?)",
                (change.printer, change.at, change.before, change.after, change.operator),
            )
        return change

    def changes(self, printer: str | None = None) -> list[BedClearingChange]:
        sql, params = "SELECT printer, at, before, after, operator FROM bed_clearing_changes", ()
        if printer is not None:
            sql, params = sql + " WHERE printer=?", (printer,)
        return [BedClearingChange(*row) for row in self.conn.execute(sql + " ORDER BY at", params)]
