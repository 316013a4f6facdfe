"""Alert events and their deliveries in the journal database (component ``alerts``).

Every event has a stable ``key`` (``plate_failed:<plate>:<job>``, ``lot_done:<lot>``...), so deriving it twice
(a restarted runner, ``serve`` and a runner side by side) records it once. Each event gets one delivery row
per channel configured when it was recorded; a sender claims a due row with a conditional ``UPDATE`` (a lease),
so two processes never send the same alert to the same channel. SQL kept portable: no AUTOINCREMENT, ISO
timestamps as text, ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hospfab.journal.db import Database, transaction
from hospfab.journal.store import now_iso

COMPONENT = "alerts"
PENDING, SENDING, SENT, GAVE_UP = "pending", "sending", "sent", "gave_up"
LEASE_S = 120.0  # a claimed delivery whose sender died is due again after this

MIGRATIONS = (
    """
    CREATE TABLE alert_events (
        key      TEXT PRIMARY KEY,
        kind     TEXT NOT NULL,
        at       TEXT NOT NULL,
        message  TEXT NOT NULL,
        printer  TEXT,
        lot_id   TEXT,
        plate_id TEXT,
        details  TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX alert_events_at ON alert_events(at);
    CREATE TABLE alert_deliveries (
        event_key  TEXT NOT NULL,
        channel    TEXT NOT NULL,
        state      TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        next_at    TEXT NOT NULL,
        last_error TEXT,
        sent_at    TEXT,
        PRIMARY KEY (event_key, channel)
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries(state, next_at);
    CREATE TABLE alert_marks (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)


@dataclass
class Event:
    key: str
    kind: str
    message: str
    at: str = field(default_factory=now_iso)
    printer: str | None = None
    lot_id: str | None = None
    plate_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Delivery:
    event: Event
    channel: str
    attempts: int


def _at(seconds_from_now: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)).isoformat(timespec="microseconds")


class AlertStore(Database):
    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    # ---- events ------------------------------------------------------------------------------------------

    def record(self, event: Event, channels: list[str]) -> bool:
        """Record ``event`` and a pending delivery per channel; False when it was already recorded."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO alert_events(key, kind, at, message, printer, lot_id, plate_id, details) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING",
                (event.key, event.kind, event.at, event.message, event.printer, event.lot_id, event.plate_id,
                 json.dumps(event.details, sort_keys=True)),
            )
            if cur.rowcount != 1:
                return False
            for channel in channels:
                self.conn.execute(
                    "INSERT INTO alert_deliveries(event_key, channel, state, next_at) VALUES (?,?,?,?)",
                    (event.key, channel, PENDING, event.at),
                )
            return True

    def known(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM alert_events WHERE key=?", (key,)).fetchone() is not None

    def events(self, limit: int = 50) -> list[Event]:
        rows = self.conn.execute("SELECT * FROM alert_events ORDER BY at DESC, key LIMIT ?", (limit,)).fetchall()
        return [self._event(row) for row in rows]

    # ---- marks: cursors and "currently in error" flags -----------------------------------------------------

    def mark(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM alert_marks WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def set_mark(self, name: str, value: str | None) -> None:
        with transaction(self.conn):
            if value is None:
                self.conn.execute("DELETE FROM alert_marks WHERE name=?", (name,))
            else:
                self.conn.execute(
                    "INSERT INTO alert_marks(name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    (name, value),
                )

    # ---- deliveries ----------------------------------------------------------------------------------------

    def due(self, limit: int = 100) -> list[tuple[str, str]]:
        """(event key, channel) of deliveries due now (pending, or a sender's lease expired)."""
        rows = self.conn.execute(
            "SELECT event_key, channel FROM alert_deliveries WHERE state IN (?, ?) AND next_at<=? "
            "ORDER BY next_at LIMIT ?",
            (PENDING, SENDING, now_iso(), limit),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def claim(self, key: str, channel: str) -> Delivery | None:
        """Take a due delivery for sending (None when another process took it first)."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE alert_deliveries SET state=?, next_at=?, attempts=attempts+1 "
                "WHERE event_key=? AND channel=? AND state IN (?, ?) AND next_at<=?",
                (SENDING, _at(LEASE_S), key, channel, PENDING, SENDING, now_iso()),
            )
            if cur.rowcount != 1:
                return None
            row = self.conn.execute("SELECT * FROM alert_events WHERE key=?", (key,)).fetchone()
            attempts = self.conn.execute(
                "SELECT attempts FROM alert_deliveries WHERE event_key=? AND channel=?", (key, channel)
            ).fetchone()[0]
        return Delivery(self._event(row), channel, int(attempts))

    def sent(self, key: str, channel: str) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE alert_deliveries SET state=?, sent_at=?, last_error=NULL WHERE event_key=? AND channel=?",
                (SENT, now_iso(), key, channel),
            )

    def failed(self, key: str, channel: str, error: str, *, retry_in_s: float | None) -> None:
        """A failed attempt: due again in ``retry_in_s`` (None: give up)."""
        state, next_at = (GAVE_UP, now_iso()) if retry_in_s is None else (PENDING, _at(retry_in_s))
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE alert_deliveries SET state=?, next_at=?, last_error=? WHERE event_key=? AND channel=?",
                (state, next_at, error[:500], key, channel),
            )

    def deliveries(self, key: str | None = None) -> list[dict[str, Any]]:
        params: tuple[str, ...]
        sql, params = "SELECT * FROM alert_deliveries", ()
        if key is not None:
            sql, params = sql + " WHERE event_key=?", (key,)
        return [dict(row) for row in self.conn.execute(sql + " ORDER BY event_key, channel", params)]

    @staticmethod
    def _event(row: Any) -> Event:
        data = dict(row)
        data["details"] = json.loads(data["details"] or "{}")
        return Event(**data)
