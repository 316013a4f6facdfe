"""Queue runners' leases in the database (component ``runners``): who is running, and who is gone.

A runner takes a lease when it starts (:meth:`RunnerLeases.acquire`) and renews it every round
(:meth:`heartbeat`); the lease ends ``lease_s`` after the last heartbeat, on the database server's clock. A
runner whose lease has expired (kill -9, power loss, network cut) is gone, wherever it ran: any other runner
then reconciles its plates from the printers' own file statistics. No local pid is probed, so runners on
different hosts judge each other the same way. A runner that finds its own lease expired (it was paused
longer than the lease) must not touch its old plates without reconciling them first: :meth:`heartbeat`
returns False and the runner re-acquires.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from hospfab.journal.db import Database, parse_time, transaction

COMPONENT = "runners"
DEFAULT_LEASE_S = 60.0

MIGRATIONS = (
    """
    CREATE TABLE runner_leases (
        id           TEXT PRIMARY KEY,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        site         TEXT,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        stopped_at   TEXT
    );
    """,
)


@dataclass(frozen=True)
class Lease:
    id: str
    host: str
    pid: int
    site: str | None
    started_at: str
    heartbeat_at: str
    expires_at: str
    stopped_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _later(now: str, seconds: float) -> str:
    return (parse_time(now) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


class RunnerLeases(Database):
    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    def acquire(self, runner: str, *, site: str | None, lease_s: float = DEFAULT_LEASE_S) -> Lease:
        with transaction(self.conn):
            now = self.conn.now()
            self.conn.execute(
                "INSERT INTO runner_leases(id, host, pid, site, started_at, heartbeat_at, expires_at) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET heartbeat_at=excluded.heartbeat_at, "
                "expires_at=excluded.expires_at, stopped_at=NULL",
                (runner, socket.gethostname(), os.getpid(), site, now, now, _later(now, lease_s)),
            )
        return self.get(runner)

    def heartbeat(self, runner: str, *, lease_s: float = DEFAULT_LEASE_S) -> bool:
        """Renew ``runner``'s lease; False when it had already expired (or was never taken)."""
        with transaction(self.conn):
            now = self.conn.now()
            row = self.conn.execute(
                "SELECT expires_at, stopped_at FROM runner_leases WHERE id=?" + self.conn.for_update, (runner,)
            ).fetchone()
            if row is None or row["stopped_at"] is not None or parse_time(row["expires_at"]) <= parse_time(now):
                return False
            updated = self.conn.execute(
                "UPDATE runner_leases SET heartbeat_at=?, expires_at=? WHERE id=?", (now, _later(now, lease_s), runner)
            ).rowcount
            return updated == 1

    def release(self, runner: str) -> None:
        with transaction(self.conn):
            now = self.conn.now()
            self.conn.execute(
                "UPDATE runner_leases SET stopped_at=?, expires_at=? WHERE id=? AND stopped_at IS NULL",
                (now, now, runner),
            )

    def get(self, runner: str) -> Lease | None:
        row = self.conn.execute("SELECT * FROM runner_leases WHERE id=?", (runner,)).fetchone()
        return Lease(**dict(row)) if row else None

    def alive(self, runner: str | None) -> bool:
        """True while ``runner`` holds an unexpired lease (server clock)."""
        if not runner:
            return False
        lease = self.get(runner)
        if lease is None or lease.stopped_at is not None:
            return False
        return parse_time(lease.expires_at) > parse_time(self.conn.now())

    def active(self) -> list[Lease]:
        now = parse_time(self.conn.now())
        rows = self.conn.execute("SELECT * FROM runner_leases WHERE stopped_at IS NULL ORDER BY started_at")
        return [lease for lease in (Lease(**dict(r)) for r in rows) if parse_time(lease.expires_at) > now]
