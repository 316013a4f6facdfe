"""Lots and their plates in the journal database (component ``queue``), every transition one transaction.

A **lot** is N units of one catalog revision (``REF@REV``), split into plates; its recipes (per printer
profile and material: build file, sha256, units per plate, estimated time) are recorded when it is created, so
the record says exactly what was meant to be printed. A **plate** moves through::

    queued -> dispatching -> printing -> done
                   |             |-> queued (failed or lost, attempts left)  -> ... -> failed
                   |-> queued (never reached the printer; the attempt stays used)
    queued | failed -> cancelled ; failed | cancelled -> queued (retry)

Each attempt is one journal job (``jobs.plate_id``), printed from a unique remote file name that embeds the
plate id and attempt number, so a printer's own statistics tell whether that attempt printed; attempt
numbers only grow (an attempt that never reached the printer still used its number, file name and one of
``max_attempts``: a plate that cannot be sent ends failed instead of looping). Claiming a plate is a
conditional ``UPDATE ... WHERE state='queued' RETURNING`` and records the attempt's journal job in the same
transaction (:meth:`QueueStore.claim` with ``job``): two runners never dispatch one plate, and no plate is
ever dispatching without its job. Other read-then-write transitions lock the plate row first
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). Times are the database server's.
Every transition is logged in ``plate_events``.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from hospfab.errors import InputError, NotFoundError
from hospfab.journal.db import Database, transaction
from hospfab.journal.store import Job, claim_printer

COMPONENT = "queue"

QUEUED, DISPATCHING, PRINTING, DONE, FAILED, CANCELLED = (
    "queued", "dispatching", "printing", "done", "failed", "cancelled",
)  # fmt: skip
ACTIVE = (DISPATCHING, PRINTING)
PENDING = (QUEUED, DISPATCHING, PRINTING)
OPEN, RELEASED, REJECTED = "open", "released", "rejected"

MIGRATIONS = (
    """
    CREATE TABLE lots (
        id          TEXT PRIMARY KEY,
        ref         TEXT NOT NULL,
        revision    INTEGER NOT NULL,
        quantity    INTEGER NOT NULL CHECK (quantity > 0),
        priority    INTEGER NOT NULL DEFAULT 0,
        deadline    TEXT,
        created_at  TEXT NOT NULL,
        operator    TEXT NOT NULL,
        state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','released','rejected','cancelled')),
        recipes     TEXT NOT NULL,
        plan        TEXT NOT NULL DEFAULT '{}',
        sampling    TEXT NOT NULL DEFAULT '{}',
        released_at TEXT,
        released_by TEXT,
        inspection  TEXT,
        note        TEXT
    );
    CREATE TABLE plates (
        id              TEXT PRIMARY KEY,
        lot_id          TEXT NOT NULL REFERENCES lots(id),
        seq             INTEGER NOT NULL,
        priority        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL CHECK (state IN
                          ('queued','dispatching','printing','done','failed','cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        max_attempts    INTEGER NOT NULL,
        planned_printer TEXT,
        planned_units   INTEGER NOT NULL,
        printer         TEXT,
        job_id          TEXT,
        remote_file     TEXT,
        units           INTEGER NOT NULL DEFAULT 0,
        avoid           TEXT NOT NULL DEFAULT '[]',
        runner          TEXT,
        reason          TEXT,
        updated_at      TEXT NOT NULL,
        UNIQUE (lot_id, seq)
    );
    CREATE INDEX plates_state ON plates(state, priority);
    CREATE INDEX plates_lot ON plates(lot_id, seq);
    CREATE TABLE plate_events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        plate_id  TEXT NOT NULL,
        at        TEXT NOT NULL,
        from_state TEXT,
        to_state  TEXT NOT NULL,
        printer   TEXT,
        job_id    TEXT,
        note      TEXT
    );
    CREATE INDEX plate_events_plate ON plate_events(plate_id, id);
    """,
    # 2: the dispatch order as an index (the top of a 10,000-plate queue without a sort)
    "CREATE INDEX plates_dispatch ON plates(state, priority DESC, lot_id, seq)",
)


@dataclass
class Plate:
    id: str
    lot_id: str
    seq: int
    priority: int
    state: str
    attempts: int
    max_attempts: int
    planned_printer: str | None
    planned_units: int
    printer: str | None
    job_id: str | None
    remote_file: str | None
    units: int
    avoid: list[str]
    runner: str | None
    reason: str | None
    updated_at: str

    @classmethod
    def from_row(cls, row: Any) -> Plate:
        data = dict(row)
        data["avoid"] = json.loads(data["avoid"] or "[]")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Lot:
    id: str
    ref: str
    revision: int
    quantity: int
    priority: int
    deadline: str | None
    created_at: str
    operator: str
    state: str
    recipes: list[dict[str, Any]]
    plan: dict[str, Any]
    sampling: dict[str, Any]
    released_at: str | None = None
    released_by: str | None = None
    inspection: str | None = None
    note: str | None = None
    plates: list[Plate] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any, plates: list[Plate]) -> Lot:
        data = dict(row)
        for key in ("recipes", "plan", "sampling"):
            data[key] = json.loads(data[key] or "null")
        return cls(**data, plates=plates)

    @property
    def spec(self) -> str:
        return f"{self.ref}@{self.revision}"

    def count(self, *states: str) -> int:
        return sum(1 for p in self.plates if p.state in states)

    @property
    def units_made(self) -> int:
        return sum(p.units for p in self.plates if p.state == DONE)

    @property
    def units_planned(self) -> int:
        return sum(p.planned_units for p in self.plates if p.state != CANCELLED)

    @property
    def finished(self) -> bool:
        """No plate left to print (every plate done, failed or cancelled)."""
        return self.count(*PENDING) == 0

    @property
    def status(self) -> str:
        if self.state != OPEN:
            return self.state
        if not self.finished:
            return "in production" if self.count(*ACTIVE, DONE, FAILED) else "queued"
        return "complete" if self.units_made >= self.quantity else "incomplete"

    def summary(self) -> dict[str, Any]:
        return {
            "lot_id": self.id, "ref": self.ref, "revision": self.revision, "quantity": self.quantity,
            "priority": self.priority, "status": self.status, "created_at": self.created_at,
            "plates": len(self.plates), "plates_done": self.count(DONE), "plates_failed": self.count(FAILED),
            "plates_pending": self.count(*PENDING), "units_made": self.units_made,
            "units_planned": self.units_planned,
        }  # fmt: skip


def new_lot_id() -> str:
    return "L" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def remote_file_name(plate_id: str, attempt: int) -> str:
    """The unique name a plate's attempt is uploaded under: plate and attempt are in it."""
    return f"hospfab-{plate_id}-a{attempt}.gcode"


def draw_sample(quantity: int, lot_size: int, sample_size: int, rng: random.Random | None = None) -> list[int]:
    """Unit numbers (1-based) to inspect: ``sample_size`` drawn at random from each block of ``lot_size``."""
    rng = rng or random.SystemRandom()
    units: list[int] = []
    for start in range(1, quantity + 1, lot_size):
        block = list(range(start, min(start + lot_size, quantity + 1)))
        units.extend(sorted(rng.sample(block, min(sample_size, len(block)))))
    return units


class QueueStore(Database):
    """Lots and plates in the journal database at ``path`` (tables migrated on open)."""

    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    # ---- lots ------------------------------------------------------------------------------------------

    def create_lot(
        self,
        *,
        ref: str,
        revision: int,
        quantity: int,
        recipes: list[dict[str, Any]],
        plates: list[tuple[str | None, int]],
        operator: str,
        priority: int = 0,
        deadline: str | None = None,
        max_attempts: int = 3,
        plan: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> Lot:
        """Create a lot and enqueue its plates (``plates``: planned printer and units per plate)."""
        if quantity < 1 or not plates:
            raise InputError(f"lot of {ref}@{revision}: nothing to print (quantity {quantity}, {len(plates)} plates)")
        lot_id = new_lot_id()
        with transaction(self.conn):
            now = self.conn.now()
            self.conn.execute(
                "INSERT INTO lots(id, ref, revision, quantity, priority, deadline, created_at, operator, recipes,"
                " plan, sampling) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (lot_id, ref, revision, quantity, priority, deadline, now, operator, json.dumps(recipes),
                 json.dumps(plan or {}), json.dumps(sampling or {})),
            )
            for seq, (printer, units) in enumerate(plates, start=1):
                plate_id = f"{lot_id}-{seq:03d}"
                self.conn.execute(
                    "INSERT INTO plates(id, lot_id, seq, priority, state, max_attempts, planned_printer,"
                    " planned_units, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (plate_id, lot_id, seq, priority, QUEUED, max_attempts, printer, units, now),
                )
                self._event(plate_id, None, QUEUED, printer, None, f"lot {lot_id} created by {operator}", now)
        return self.lot(lot_id)

    def lot(self, lot_id: str) -> Lot:
        row = self.conn.execute("SELECT * FROM lots WHERE id=?", (lot_id,)).fetchone()
        if row is None:
            rows = self.conn.execute("SELECT * FROM lots WHERE id LIKE ? LIMIT 2", (lot_id + "%",)).fetchall()
            if len(rows) != 1:
                raise NotFoundError(f"lot {lot_id}: {'ambiguous' if rows else 'not found'} in {self.path}")
            row = rows[0]
        return Lot.from_row(row, self.plates(lot_id=row["id"]))

    def lots(self) -> list[Lot]:
        rows = self.conn.execute("SELECT * FROM lots ORDER BY created_at DESC").fetchall()
        plates: dict[str, list[Plate]] = {}
        for plate in self.plates():
            plates.setdefault(plate.lot_id, []).append(plate)
        return [Lot.from_row(row, plates.get(row["id"], [])) for row in rows]

    def release(self, lot_id: str, *, by: str, inspection: str, note: str = "") -> Lot:
        """Record the release decision: ``pass`` releases the units made, ``fail`` rejects (quarantines)."""
        if inspection not in ("pass", "fail"):
            raise InputError(f"inspection must be 'pass' or 'fail', not {inspection!r}")
        lot = self.lot(lot_id)
        if lot.state != OPEN:
            raise InputError(f"lot {lot.id}: already {lot.state} by {lot.released_by} at {lot.released_at}")
        if not lot.finished:
            raise InputError(f"lot {lot.id}: {lot.count(*PENDING)} plates still queued or printing; release later")
        if inspection == "pass" and lot.units_made == 0:
            raise InputError(f"lot {lot.id}: no unit was made, nothing to release")
        state = RELEASED if inspection == "pass" else REJECTED
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE lots SET state=?, released_at=?, released_by=?, inspection=?, note=? WHERE id=? AND "
                "state='open'",
                (state, self.conn.now(), by, inspection, note, lot.id),
            )
        return self.lot(lot.id)

    # ---- plates ----------------------------------------------------------------------------------------

    def plates(self, *, lot_id: str | None = None, states: tuple[str, ...] | None = None) -> list[Plate]:
        where, params = [], []
        if lot_id is not None:
            where.append("lot_id=?")
            params.append(lot_id)
        if states is not None:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        sql = "SELECT * FROM plates" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY priority DESC, lot_id, seq"
        return [Plate.from_row(r) for r in self.conn.execute(sql, params)]

    def plate(self, plate_id: str) -> Plate:
        row = self.conn.execute("SELECT * FROM plates WHERE id=?", (plate_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"plate {plate_id}: not found in {self.path}")
        return Plate.from_row(row)

    def events(self, plate_id: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM plate_events", ()
        if plate_id is not None:
            sql, params = sql + " WHERE plate_id=?", (plate_id,)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY id", params)]

    def claim(self, plate_id: str, *, runner: str, printer: str, job_id: str, job: Job | None = None,
              require_bed_clear: bool = False) -> Plate | None:
        """queued -> dispatching for ``printer`` (a new attempt), or None if another runner took it first.

        With ``job`` (the attempt's journal job, outcome uploading), the job is recorded as the printer's
        claim in the SAME transaction (its ``remote_file`` is set to the attempt's name): either the plate is
        dispatching with its job, or nothing changed. Raises :class:`PrinterError` when the printer is
        claimed (or its bed not clear), with the plate left queued."""
        with transaction(self.conn):
            now = self.conn.now()
            row = self.conn.execute(  # the attempt's file name is made here, from the number just taken
                "UPDATE plates SET state=?, attempts=attempts+1, printer=?, job_id=?, runner=?, reason=NULL,"
                " remote_file='hospfab-' || id || '-a' || (attempts + 1) || '.gcode', updated_at=?"
                " WHERE id=? AND state=? RETURNING *",
                (DISPATCHING, printer, job_id, runner, now, plate_id, QUEUED),
            ).fetchone()
            if row is None:
                return None
            claimed = Plate.from_row(row)
            if claimed.remote_file != remote_file_name(plate_id, claimed.attempts):
                raise RuntimeError(f"plate {plate_id}: unexpected remote file name {claimed.remote_file}")
            note = f"attempt {claimed.attempts} by runner {runner}"
            self._event(plate_id, QUEUED, DISPATCHING, printer, job_id, note, now)
            if job is not None:
                job.remote_file, job.plate_id, job.printer = claimed.remote_file, plate_id, printer
                claim_printer(self.conn, job, require_bed_clear=require_bed_clear, now=now)
            return claimed

    def unclaim(self, plate_id: str, job_id: str, reason: str) -> Plate:
        """dispatching -> queued when the attempt never reached the printer. The attempt stays counted: its
        number (and remote file name) is never reused."""
        return self._move(plate_id, job_id, (DISPATCHING,), QUEUED, reason)

    def mark_printing(self, plate_id: str, job_id: str) -> Plate:
        return self._move(plate_id, job_id, (DISPATCHING,), PRINTING, None)

    def finish_attempt(self, plate_id: str, job_id: str, *, ok: bool, units: int = 0, reason: str | None = None
                       ) -> Plate:
        """The attempt ``job_id`` ended: done, or queued again (printer avoided) until attempts run out."""
        with transaction(self.conn):
            plate = self._get(plate_id, lock=True)
            if plate.job_id != job_id or plate.state not in ACTIVE:
                return plate  # already settled (by another runner, or a cancel)
            if ok:
                target = DONE
            else:
                target = QUEUED if plate.attempts < plate.max_attempts else FAILED
                if plate.printer and plate.printer not in plate.avoid:
                    plate.avoid.append(plate.printer)
            now = self.conn.now()
            self.conn.execute(
                "UPDATE plates SET state=?, units=?, avoid=?, reason=?, runner=NULL, updated_at=? WHERE id=?",
                (target, units if ok else 0, json.dumps(plate.avoid), reason, now, plate_id),
            )
            self._event(plate_id, plate.state, target, plate.printer, job_id, reason, now)
            return self._get(plate_id)

    def cancel(self, ident: str, *, by: str) -> list[Plate]:
        """Cancel a plate, or every not-yet-printing plate of a lot. Plates on a printer are left alone."""
        plates = self._plates_of(ident)
        changed = []
        with transaction(self.conn):
            for plate in plates:
                current = self._get(plate.id, lock=True)
                if current.state in (QUEUED, FAILED):
                    self._set_state(current, CANCELLED, f"cancelled by {by}")
                    changed.append(self._get(plate.id))
            if not changed and len(plates) == 1 and plates[0].state in ACTIVE:
                raise InputError(f"plate {plates[0].id}: {plates[0].state} on {plates[0].printer}; cancel the job "
                                 f"on the printer (`hospfab jobs cancel {plates[0].job_id}`)")
        return changed

    def retry(self, ident: str, *, by: str, extra_attempts: int = 1) -> list[Plate]:
        """Queue failed or cancelled plates again (of a plate id or a lot id), with more attempts allowed."""
        changed = []
        with transaction(self.conn):
            for plate in self._plates_of(ident):
                current = self._get(plate.id, lock=True)
                if current.state in (FAILED, CANCELLED):
                    wanted = current.attempts + extra_attempts
                    self.conn.execute(
                        "UPDATE plates SET max_attempts=CASE WHEN max_attempts > ? THEN max_attempts ELSE ? END "
                        "WHERE id=?",
                        (wanted, wanted, plate.id),
                    )
                    self._set_state(current, QUEUED, f"retry by {by}")
                    changed.append(self._get(plate.id))
        return changed

    def prioritize(self, ident: str, priority: int) -> list[Plate]:
        """Set the priority of a plate or of a whole lot (higher prints first)."""
        plates = self._plates_of(ident)
        with transaction(self.conn):
            now = self.conn.now()
            for plate in plates:
                self.conn.execute("UPDATE plates SET priority=?, updated_at=? WHERE id=?", (priority, now, plate.id))
            if self.conn.execute("SELECT 1 FROM lots WHERE id=?", (ident,)).fetchone():
                self.conn.execute("UPDATE lots SET priority=? WHERE id=?", (priority, ident))
        return [self._get(p.id) for p in plates]

    # ---- internals -------------------------------------------------------------------------------------

    def _plates_of(self, ident: str) -> list[Plate]:
        row = self.conn.execute("SELECT * FROM plates WHERE id=?", (ident,)).fetchone()
        if row is not None:
            return [Plate.from_row(row)]
        return self.lot(ident).plates

    def _get(self, plate_id: str, *, lock: bool = False) -> Plate:
        sql = "SELECT * FROM plates WHERE id=?" + (self.conn.for_update if lock else "")
        row = self.conn.execute(sql, (plate_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"plate {plate_id}: not found in {self.path}")
        return Plate.from_row(row)

    def _move(self, plate_id: str, job_id: str, sources: tuple[str, ...], target: str, reason: str | None) -> Plate:
        with transaction(self.conn):
            plate = self._get(plate_id, lock=True)
            if plate.job_id != job_id or plate.state not in sources:
                return plate
            runner = None if target == QUEUED else plate.runner
            now = self.conn.now()
            self.conn.execute(
                "UPDATE plates SET state=?, runner=?, reason=?, updated_at=? WHERE id=?",
                (target, runner, reason, now, plate_id),
            )
            self._event(plate_id, plate.state, target, plate.printer, job_id, reason, now)
            return self._get(plate_id)

    def _set_state(self, plate: Plate, target: str, note: str) -> None:
        now = self.conn.now()
        self.conn.execute("UPDATE plates SET state=?, reason=?, runner=NULL, updated_at=? WHERE id=?",
                          (target, note, now, plate.id))
        self._event(plate.id, plate.state, target, plate.printer, plate.job_id, note, now)

    def _event(self, plate_id: str, source: str | None, target: str, printer: str | None, job_id: str | None,
               note: str | None, at: str) -> None:
        self.conn.execute(
            "INSERT INTO plate_events(plate_id, at, from_state, to_state, printer, job_id, note) "
            "VALUES (?,?,?,?,?,?,?)",
            (plate_id, at, source, target, printer, job_id, note),
        )
