"""The job journal: every job sent to a printer, its outcome, and bed-clear confirmations.

One row per job in ``jobs`` (printer columns may be NULL for a job still queued, and ``lot_id``/``plate_id``
belong to the batch queue); one row per printer in ``bed_clear`` (the last time someone confirmed the bed
empty); one row per spool change in ``material_loads`` (``hospfab printers load``). Timestamps are ISO 8601
UTC strings with microseconds from the database server's clock (:meth:`Database.now`), compared as times.
Every change is one transaction. "At most one active job per printer" is the database's own invariant (a
partial unique index over uploading, printing and unknown jobs, migration 4): two concurrent ``hospfab print`` (one workstation or two, SQLite or
PostgreSQL) can never both claim one printer, whatever the code around the insert does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hospfab.errors import NotFoundError, PrinterError
from hospfab.journal.db import ConstraintViolation, Connection, Database, parse_time, transaction

COMPONENT = "journal"

# Outcomes. A job is *active* until it reaches a final outcome. ``unknown``: the send may have started a print
# and the printer could not be asked; the printer stays claimed until reconciliation decides.
QUEUED, UPLOADING, PRINTING, UNKNOWN = "queued", "uploading", "printing", "unknown"
DONE, FAILED, CANCELLED, LOST = "done", "failed", "cancelled", "lost"
ACTIVE_OUTCOMES = (QUEUED, UPLOADING, PRINTING, UNKNOWN)
#: Jobs that hold their printer (a print may be running or about to).
CLAIMING_OUTCOMES = (UPLOADING, PRINTING, UNKNOWN)
FINAL_OUTCOMES = (DONE, FAILED, CANCELLED, LOST)
#: Not an outcome stored by hospfab: how a row that cannot be read is listed (``Job.from_row``).
DAMAGED = "damaged"

_JOBS_TABLE = """
    CREATE TABLE {name} (
        id              TEXT PRIMARY KEY,
        ref             TEXT NOT NULL,
        revision        INTEGER NOT NULL,
        build_file      TEXT,
        sha256          TEXT NOT NULL,
        printer         TEXT,
        printer_url     TEXT,
        printer_profile TEXT,
        material        TEXT,
        material_lot    TEXT,
        operator        TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        started_at      TEXT,
        ended_at        TEXT,
        outcome         TEXT NOT NULL CHECK (outcome IN
                          ('queued','uploading','printing','unknown','done','failed','cancelled','lost')),
        reason          TEXT,
        overrides       TEXT NOT NULL DEFAULT '{{}}',
        remote_file     TEXT,
        progress        REAL,
        lot_id          TEXT,
        plate_id        TEXT
    );
"""

MIGRATIONS = (
    # 1: jobs and bed confirmations
    """
    CREATE TABLE jobs (
        id              TEXT PRIMARY KEY,
        ref             TEXT NOT NULL,
        revision        INTEGER NOT NULL,
        build_file      TEXT,
        sha256          TEXT NOT NULL,
        printer         TEXT,
        printer_url     TEXT,
        printer_profile TEXT,
        material        TEXT,
        material_lot    TEXT,
        operator        TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        started_at      TEXT,
        ended_at        TEXT,
        outcome         TEXT NOT NULL CHECK (outcome IN
                          ('queued','uploading','printing','done','failed','cancelled','lost')),
        reason          TEXT,
        overrides       TEXT NOT NULL DEFAULT '{}',
        remote_file     TEXT,
        progress        REAL,
        lot_id          TEXT,
        plate_id        TEXT
    );
    CREATE INDEX jobs_printer_created ON jobs(printer, created_at);
    CREATE INDEX jobs_ref_created ON jobs(ref, created_at);
    CREATE INDEX jobs_outcome ON jobs(outcome);
    CREATE TABLE bed_clear (
        printer    TEXT PRIMARY KEY,
        cleared_at TEXT NOT NULL,
        operator   TEXT NOT NULL
    );
    """,
    # 2: spool changes (`hospfab printers load`); starts per printer (the queue's site stagger)
    """
    CREATE TABLE material_loads (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        printer  TEXT NOT NULL,
        material TEXT NOT NULL,
        lot      TEXT NOT NULL,
        operator TEXT NOT NULL,
        at       TEXT NOT NULL
    );
    CREATE INDEX material_loads_printer_at ON material_loads(printer, at);
    CREATE INDEX jobs_printer_started ON jobs(printer, started_at);
    """,
    # 3: outcome 'unknown' (a CHECK constraint cannot be altered in SQLite: the table is rebuilt; plain SQL
    # that PostgreSQL runs as well)
    _JOBS_TABLE.format(name="jobs_v3")
    + """
    INSERT INTO jobs_v3 (id, ref, revision, build_file, sha256, printer, printer_url, printer_profile, material,
        material_lot, operator, created_at, started_at, ended_at, outcome, reason, overrides, remote_file,
        progress, lot_id, plate_id)
    SELECT id, ref, revision, build_file, sha256, printer, printer_url, printer_profile, material,
        material_lot, operator, created_at, started_at, ended_at, outcome, reason, overrides, remote_file,
        progress, lot_id, plate_id FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_v3 RENAME TO jobs;
    CREATE INDEX jobs_printer_created ON jobs(printer, created_at);
    CREATE INDEX jobs_ref_created ON jobs(ref, created_at);
    CREATE INDEX jobs_outcome ON jobs(outcome);
    CREATE INDEX jobs_printer_started ON jobs(printer, started_at);
    """,
    # 4: at most one active job per printer, enforced by the database (older duplicates are settled first)
    lambda conn: _one_active_job_per_printer(conn),
)

ACTIVE_JOB_INDEX = "jobs_one_active_per_printer"
NOW = "now"  # Journal.update(job_id, started_at=NOW): the database server's time


def _one_active_job_per_printer(conn: Connection) -> None:
    duplicates = conn.execute(
        "SELECT printer FROM jobs WHERE outcome IN ('uploading','printing','unknown') AND printer IS NOT NULL "
        "GROUP BY printer HAVING COUNT(*) > 1"
    ).fetchall()
    for (printer,) in duplicates:
        rows = conn.execute(
            "SELECT id FROM jobs WHERE printer=? AND outcome IN ('uploading','printing','unknown') "
            "ORDER BY created_at DESC, id DESC",
            (printer,),
        ).fetchall()
        for (job_id,) in rows[1:]:  # keep the newest active; the older ones cannot both be on the printer
            conn.execute(
                "UPDATE jobs SET outcome='lost', ended_at=COALESCE(ended_at, created_at), "
                "reason='journal upgrade: a newer job was active on the same printer' WHERE id=?",
                (job_id,),
            )
    conn.execute(
        f"CREATE UNIQUE INDEX {ACTIVE_JOB_INDEX} ON jobs(printer) WHERE outcome IN ('uploading','printing','unknown')"
    )

JOB_COLUMNS = (
    "id", "ref", "revision", "build_file", "sha256", "printer", "printer_url", "printer_profile", "material",
    "material_lot", "operator", "created_at", "started_at", "ended_at", "outcome", "reason", "overrides",
    "remote_file", "progress", "lot_id", "plate_id",
)  # fmt: skip


def now_iso() -> str:
    """Now, UTC, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_job_id() -> str:
    """A short unique job id: UTC date plus 32 random bits, e.g. ``250611-3f9a2c1b``."""
    return datetime.now(timezone.utc).strftime("%y%m%d-") + secrets.token_hex(4)


@dataclass
class Job:
    """One job as recorded in the journal."""

    id: str
    ref: str
    revision: int
    build_file: str | None
    sha256: str
    printer: str | None
    printer_url: str | None
    printer_profile: str | None
    material: str | None
    material_lot: str | None
    operator: str
    created_at: str
    started_at: str | None = None
    ended_at: str | None = None
    outcome: str = UPLOADING
    reason: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    remote_file: str | None = None
    progress: float | None = None
    lot_id: str | None = None
    plate_id: str | None = None

    @property
    def active(self) -> bool:
        return self.outcome in ACTIVE_OUTCOMES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Any) -> Job:
        """The job of a row; a row whose values cannot be what hospfab wrote (damaged text, a non-integer
        revision, an unknown outcome, bad JSON or dates) comes back flagged: outcome ``damaged``, the problem as
        its reason, so one bad row never hides the rest of the history."""
        data = {key: row[key] for key in JOB_COLUMNS}
        problem = _row_problem(data)
        if problem is None:
            try:
                data["overrides"] = json.loads(data["overrides"] or "{}")
                if not isinstance(data["overrides"], dict):
                    problem = "overrides is not a JSON object"
            except (ValueError, RecursionError):
                problem = "overrides is not valid JSON"
        if problem is None:
            return cls(**data)
        text = {k: (None if v is None else str(v)) for k, v in data.items()}
        return cls(
            id=text["id"] or "?", ref=text["ref"] or "?", revision=data["revision"] if isinstance(
                data["revision"], int) else 0, build_file=text["build_file"], sha256=text["sha256"] or "",
            printer=text["printer"], printer_url=text["printer_url"], printer_profile=text["printer_profile"],
            material=text["material"], material_lot=text["material_lot"], operator=text["operator"] or "?",
            created_at=text["created_at"] or "", started_at=text["started_at"], ended_at=text["ended_at"],
            outcome=DAMAGED, reason=f"damaged row: {problem}", overrides={}, remote_file=text["remote_file"],
            lot_id=text["lot_id"], plate_id=text["plate_id"],
        )  # fmt: skip


class DamagedText(str):
    """Text of the journal that is not valid UTF-8 (decoded with replacement characters)."""


def lenient_text(raw: bytes) -> str:
    """SQLite text as str; invalid UTF-8 becomes :class:`DamagedText` instead of failing the whole query."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return DamagedText(raw.decode("utf-8", errors="replace"))


def _row_problem(data: dict[str, Any]) -> str | None:
    for key, value in data.items():
        if isinstance(value, DamagedText):
            return f"{key} is not valid UTF-8 text"
        if isinstance(value, bytes):
            return f"{key} holds binary data"
    if not isinstance(data["revision"], int):
        return "revision is not an integer"
    if data["outcome"] not in (*ACTIVE_OUTCOMES, *FINAL_OUTCOMES):
        return f"unknown outcome {str(data['outcome'])[:40]!r}"
    for key in ("created_at", "started_at", "ended_at"):
        if data[key] is None and key != "created_at":
            continue
        try:
            datetime.fromisoformat(str(data[key]))
        except ValueError:
            return f"{key} is not a date"
    if data["progress"] is not None and not isinstance(data["progress"], (int, float)):
        return "progress is not a number"
    return None


@dataclass(frozen=True)
class BedClear:
    printer: str
    cleared_at: str
    operator: str


@dataclass(frozen=True)
class MaterialLoad:
    """One spool change: ``material`` (profile name) of ``lot`` loaded on ``printer`` by ``operator``."""

    printer: str
    material: str
    lot: str
    operator: str
    at: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class Journal(Database):
    """The journal database at ``path`` (created and migrated on open)."""

    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self.conn.text_factory = lenient_text  # a damaged text value flags its row, not the whole query

    # ---- writing -----------------------------------------------------------------------------------------

    def claim(self, job: Job, *, require_bed_clear: bool) -> None:
        """Record ``job`` (outcome uploading) as the printer's claim, atomically.

        Refused with :class:`PrinterError` if the printer already has an active job in the journal, or
        (``require_bed_clear``) if its bed was not confirmed clear since its last job.
        """
        with transaction(self.conn):
            claim_printer(self.conn, job, require_bed_clear=require_bed_clear)

    def add(self, job: Job) -> None:
        """Record a job without claiming a printer (e.g. a queued job); ``created_at`` is the server's now."""
        with transaction(self.conn):
            job.created_at = self.conn.now()
            insert_job(self.conn, job)

    def update(self, job_id: str, **changes: Any) -> Job:
        """Change fields of one job in one transaction; returns the job as stored."""
        unknown = set(changes) - set(JOB_COLUMNS) - {"id"}
        if unknown or "id" in changes:
            raise ValueError(f"cannot update job fields {sorted(unknown | ({'id'} & set(changes)))}")
        if "overrides" in changes:
            changes["overrides"] = json.dumps(changes["overrides"], sort_keys=True)
        with transaction(self.conn):
            for key in ("created_at", "started_at", "ended_at"):
                if changes.get(key) == NOW:
                    changes[key] = self.conn.now()
            if changes:
                assignments = ", ".join(f"{key}=?" for key in changes)
                self.conn.execute(f"UPDATE jobs SET {assignments} WHERE id=?", (*changes.values(), job_id))
            return self._get(job_id)

    def finish(self, job_id: str, outcome: str, reason: str | None = None) -> Job:
        """Give an active job its final outcome (no-op on a job that already has one)."""
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"not a final outcome: {outcome}")
        with transaction(self.conn):
            job = self._get(job_id, lock=True)
            if job.active:
                progress = 100.0 if outcome == DONE else job.progress
                self.conn.execute(  # a reason recorded earlier (a lost answer) is kept unless a new one is given
                    "UPDATE jobs SET outcome=?, reason=COALESCE(?, reason), ended_at=?, progress=? WHERE id=? "
                    "AND outcome IN ('queued','uploading','printing','unknown')",
                    (outcome, reason, self.conn.now(), progress, job_id),
                )
            return self._get(job_id)

    def mark_bed_clear(self, printer: str, operator: str) -> BedClear:
        """Record that ``operator`` confirmed the bed of ``printer`` empty, now.

        Refused while the journal still shows an active job on that printer (reconcile it first).
        """
        with transaction(self.conn):
            self.conn.lock_key(f"printer:{printer}")
            busy = _active_on(self.conn, printer)
            if busy is not None:
                raise PrinterError(
                    f"printer {printer}: job {busy.id} is still {busy.outcome}; "
                    "the bed can be confirmed clear once it has ended",
                    code="printer_busy",
                )
            record = BedClear(printer, self.conn.now(), operator)
            self.conn.execute(
                "INSERT INTO bed_clear(printer, cleared_at, operator) VALUES (?, ?, ?) "
                "ON CONFLICT(printer) DO UPDATE SET cleared_at=excluded.cleared_at, operator=excluded.operator",
                (record.printer, record.cleared_at, record.operator),
            )
            return record

    def record_material_load(self, printer: str, material: str, lot: str, operator: str) -> MaterialLoad:
        """Record a spool change on ``printer``, now."""
        with transaction(self.conn):
            record = MaterialLoad(printer, material, lot, operator, self.conn.now())
            self.conn.execute(
                "INSERT INTO material_loads(printer, material, lot, operator, at) VALUES (?, ?, ?, ?, ?)",
                (record.printer, record.material, record.lot, record.operator, record.at),
            )
        return record

    # ---- reading -----------------------------------------------------------------------------------------

    def material_loads(self, printer: str | None = None, *, newest_first: bool = True) -> list[MaterialLoad]:
        """Spool changes, of one printer or of all."""
        sql = "SELECT printer, material, lot, operator, at FROM material_loads"
        params: list[str] = []
        if printer is not None:
            sql += " WHERE printer=?"
            params.append(printer)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY at {order}, id {order}"
        return [MaterialLoad(*row) for row in self.conn.execute(sql, params)]

    def last_start(self, printers: Iterable[str]) -> str | None:
        """When the latest job on any of ``printers`` started (a job still uploading counts from its
        creation: it is about to start); None if none ever did."""
        names = list(printers)
        if not names:
            return None
        marks = ",".join("?" * len(names))
        started = self.conn.execute(f"SELECT MAX(started_at) FROM jobs WHERE printer IN ({marks})", names)
        uploading = self.conn.execute(
            f"SELECT MAX(created_at) FROM jobs WHERE printer IN ({marks}) AND outcome='uploading' "
            "AND started_at IS NULL",
            names,
        )
        times = [t for t in (started.fetchone()[0], uploading.fetchone()[0]) if t]
        return max(times, key=parse_time) if times else None

    def seconds_since_last_start(self, printers: Iterable[str]) -> float | None:
        """Seconds since :meth:`last_start`, on the database server's clock (hosts may disagree)."""
        last = self.last_start(printers)
        if last is None:
            return None
        return (parse_time(self.conn.now()) - parse_time(last)).total_seconds()

    def get(self, job_id: str) -> Job:
        """One job by id, or by a unique prefix of its id."""
        row = self.conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is not None:
            return Job.from_row(row)
        pattern = job_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.conn.execute("SELECT * FROM jobs WHERE id LIKE ? ESCAPE '\\' LIMIT 2", (pattern,)).fetchall()
        if len(rows) == 1:
            return Job.from_row(rows[0])
        if rows:
            raise NotFoundError(f"job {job_id}: ambiguous id prefix in journal {self.path}")
        raise NotFoundError(f"job {job_id}: not found in journal {self.path}")

    def jobs(
        self,
        *,
        ref: str | None = None,
        printer: str | None = None,
        since: str | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[Job]:
        """Jobs matching every given filter (``since``: ISO date or date-time, compared to created_at)."""
        where, params = [], []
        if ref is not None:
            where.append("ref=?")
            params.append(ref)
        if printer is not None:
            where.append("printer=?")
            params.append(printer)
        if since is not None:
            where.append("created_at>=?")
            params.append(since)
        if outcomes is not None:
            outcomes = list(outcomes)
            where.append(f"outcome IN ({','.join('?' * len(outcomes))})")
            params.extend(outcomes)
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY created_at {'DESC' if newest_first else 'ASC'}, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [Job.from_row(row) for row in self.conn.execute(sql, params)]

    def active_jobs(self, printer: str | None = None) -> list[Job]:
        return self.jobs(printer=printer, outcomes=CLAIMING_OUTCOMES, newest_first=False)

    def active_on(self, printer: str) -> Job | None:
        return _active_on(self.conn, printer)

    def bed_clear(self, printer: str) -> bool:
        """True when the bed was confirmed clear after the printer's last job (or it never had one)."""
        return _bed_clear(self.conn, printer)

    def last_bed_clear(self, printer: str) -> BedClear | None:
        return _last_bed_clear(self.conn, printer)

    # ---- internals ---------------------------------------------------------------------------------------

    def _get(self, job_id: str, *, lock: bool = False) -> Job:
        sql = "SELECT * FROM jobs WHERE id=?" + (self.conn.for_update if lock else "")
        row = self.conn.execute(sql, (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"job {job_id}: not found in journal {self.path}")
        return Job.from_row(row)

    def _insert(self, job: Job) -> None:
        insert_job(self.conn, job)


# ---- statements shared with the queue (one transaction for a plate claim and its job) --------------------


def claim_printer(conn: Connection, job: Job, *, require_bed_clear: bool, now: str | None = None) -> None:
    """Inside a transaction on ``conn``: record ``job`` as its printer's claim (``created_at``: the server's
    now). Raises :class:`PrinterError` (``printer_claimed`` or ``bed_not_clear``); the unique index
    turns a race lost to another workstation into the same error."""
    conn.lock_key(f"printer:{job.printer}")
    busy = _active_on(conn, job.printer or "")
    if busy is not None:
        raise _claimed(job.printer, busy)
    if require_bed_clear and not _bed_clear(conn, job.printer or ""):
        raise PrinterError(
            f"printer {job.printer}: bed not confirmed clear since its last job "
            f"(run `hospfab printers cleared {job.printer}`)",
            code="bed_not_clear",
        )
    job.created_at = now or conn.now()
    try:
        insert_job(conn, job)
    except ConstraintViolation as err:
        if ACTIVE_JOB_INDEX in err.constraint or "jobs.printer" in err.constraint:
            raise _claimed(job.printer, None) from err
        raise


def _claimed(printer: str | None, busy: Job | None) -> PrinterError:
    what = f"job {busy.id} ({busy.outcome})" if busy else "an active job (claimed at the same instant)"
    return PrinterError(f"printer {printer}: already has {what} in the journal", code="printer_claimed")


def insert_job(conn: Connection, job: Job) -> None:
    values = job.as_dict()
    values["overrides"] = json.dumps(job.overrides, sort_keys=True)
    columns = ", ".join(JOB_COLUMNS)
    marks = ", ".join("?" * len(JOB_COLUMNS))
    conn.execute(f"INSERT INTO jobs({columns}) VALUES ({marks})", [values[c] for c in JOB_COLUMNS])


def _active_on(conn: Connection, printer: str) -> Job | None:
    row = conn.execute(
        "SELECT * FROM jobs WHERE printer=? AND outcome IN ('uploading','printing','unknown') "
        "ORDER BY created_at DESC LIMIT 1",
        (printer,),
    ).fetchone()
    return Job.from_row(row) if row else None


def _last_bed_clear(conn: Connection, printer: str) -> BedClear | None:
    row = conn.execute("SELECT * FROM bed_clear WHERE printer=?", (printer,)).fetchone()
    return BedClear(row["printer"], row["cleared_at"], row["operator"]) if row else None


def _bed_clear(conn: Connection, printer: str) -> bool:
    last = conn.execute(
        "SELECT * FROM jobs WHERE printer=? AND started_at IS NOT NULL ORDER BY started_at DESC LIMIT 1",
        (printer,),
    ).fetchone()
    if last is None:
        return True
    if last["outcome"] in ACTIVE_OUTCOMES:
        return False
    cleared = _last_bed_clear(conn, printer)
    return cleared is not None and parse_time(cleared.cleared_at) >= parse_time(last["ended_at"] or last["started_at"])
