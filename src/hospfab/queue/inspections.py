"""Inspection results of a lot's drawn units, and the release decision they support (component
``inspections`` in the journal database, its own migrations).

A lot is released only on evidence: every unit the sampling plan drew (``lot.sampling["units"]``) has a
recorded result, from a scan measured by :mod:`hospfab.inspect` or from a manual measurement record; a result
for a unit that was not drawn is refused; a failed unit rejects (quarantines) the whole lot, as the sampling
plan says; a lot printed on a test-only printer profile is never released. Each result keeps its figures,
the sha256 of its files and its verdict, for the device history record.

SQL is kept portable (no SQLite-only syntax): text ids, ISO 8601 text timestamps, JSON in TEXT columns.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hospfab.errors import CheckFailed, InputError, SafetyError
from hospfab.journal.db import Database, transaction

COMPONENT = "inspections"
SCAN, MANUAL = "scan", "manual"

MIGRATIONS = (
    """
    CREATE TABLE unit_inspections (
        id           TEXT PRIMARY KEY,
        lot_id       TEXT NOT NULL,
        unit         INTEGER NOT NULL,
        method       TEXT NOT NULL CHECK (method IN ('scan', 'manual')),
        verdict      TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
        tolerance_mm REAL,
        figures      TEXT NOT NULL,
        files        TEXT NOT NULL,
        inspected_by TEXT NOT NULL,
        inspected_at TEXT NOT NULL,
        note         TEXT
    );
    CREATE INDEX unit_inspections_lot ON unit_inspections(lot_id, unit);
    """,
)


def now_local() -> str:
    """Now, to the second, with the local time zone (for records people read)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class UnitInspection:
    id: str
    lot_id: str
    unit: int
    method: str
    verdict: str
    tolerance_mm: float | None
    figures: dict[str, Any]
    files: list[dict[str, str]]
    inspected_by: str
    inspected_at: str
    note: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> UnitInspection:
        data = dict(row)
        data["figures"] = json.loads(data["figures"] or "{}")
        data["files"] = json.loads(data["files"] or "[]")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class InspectionStore(Database):
    """Unit inspection results in the journal database at ``path`` (tables migrated on open)."""

    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    def add(self, item: UnitInspection) -> UnitInspection:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO unit_inspections(id, lot_id, unit, method, verdict, tolerance_mm, figures, files,"
                " inspected_by, inspected_at, note) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (item.id, item.lot_id, item.unit, item.method, item.verdict, item.tolerance_mm,
                 json.dumps(item.figures, default=float), json.dumps(item.files), item.inspected_by,
                 item.inspected_at, item.note),
            )  # fmt: skip
        return item

    def for_lot(self, lot_id: str) -> list[UnitInspection]:
        rows = self.conn.execute(
            "SELECT * FROM unit_inspections WHERE lot_id=? ORDER BY unit, inspected_at, id", (lot_id,)
        ).fetchall()
        return [UnitInspection.from_row(r) for r in rows]


def new_inspection(lot_id: str, unit: int, method: str, verdict: str, *, by: str, tolerance_mm: float | None,
                   figures: dict[str, Any], files: list[dict[str, str]], note: str | None = None) -> UnitInspection:
    return UnitInspection("I" + secrets.token_hex(6), lot_id, unit, method, verdict, tolerance_mm, figures, files,
                          by, now_local(), note)  # fmt: skip


# ---- manual measurement records -------------------------------------------------------------------------


def read_manual_record(path: Path) -> tuple[str, dict[str, Any]]:
    """A manual measurement record (YAML or JSON)::

        instrument: Mitutoyo 500-196 caliper, calibrated 2026-03
        measured_by: J. Martin
        measurements:
          - {name: Hole diameter, nominal_mm: 17.0, measured_mm: 17.12, tolerance_mm: 0.3}

    Returns the verdict (every measurement within its tolerance) and the figures to record.
    """
    from hospfab.fileio import read_yaml_mapping

    data = read_yaml_mapping(path, what="measurement record")
    items = data.get("measurements")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: a measurement record needs a non-empty 'measurements' list")
    rows = []
    for number, item in enumerate(items, start=1):
        try:
            name = str(item["name"])
            nominal, measured, tol = (float(item[k]) for k in ("nominal_mm", "measured_mm", "tolerance_mm"))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: measurement {number} needs name, nominal_mm, measured_mm and tolerance_mm "
                             f"(numbers in mm)") from None  # fmt: skip
        if not tol > 0:
            raise InputError(f"{path}: measurement {number} ({name}): tolerance_mm must be above 0")
        deviation = measured - nominal
        rows.append({"name": name, "nominal_mm": nominal, "measured_mm": measured, "tolerance_mm": tol,
                     "deviation_mm": round(deviation, 6), "ok": abs(deviation) <= tol + 1e-9})  # fmt: skip
    verdict = "pass" if all(r["ok"] for r in rows) else "fail"
    stated = data.get("verdict")
    if stated is not None and str(stated).lower() != verdict:
        raise InputError(f"{path}: says verdict {stated!r} but its measurements give {verdict!r}")
    figures = {"measurements": rows, "instrument": str(data.get("instrument") or ""),
               "measured_by": str(data.get("measured_by") or "")}  # fmt: skip
    return verdict, figures


# ---- the release decision -------------------------------------------------------------------------------


def parse_unit_files(pairs: Iterable[str], option: str) -> list[tuple[int, Path]]:
    """``["37=unit37.ply", ...]`` -> ``[(37, Path("unit37.ply")), ...]``."""
    out = []
    for pair in pairs:
        unit, sep, file = pair.partition("=")
        if not sep or not unit.strip().isdigit() or not file:
            raise InputError(f"{option} {pair!r}: expected UNIT=FILE, e.g. {option} 37=unit-37.ply")
        out.append((int(unit), Path(file)))
    return out


def check_drawn(lot: Any, units: Iterable[int]) -> list[int]:
    """The drawn units; refuses any of ``units`` that the sampling plan did not draw."""
    drawn = [int(u) for u in (lot.sampling or {}).get("units", [])]
    for unit in units:
        if unit not in drawn:
            raise InputError(f"lot {lot.id}: unit {unit} was not drawn for inspection (drawn: "
                             f"{', '.join(map(str, drawn)) or 'none'}); inspect the drawn unit")  # fmt: skip
    return drawn


def check_open_and_finished(lot: Any) -> None:
    """Refuse, before anything is measured, a lot already decided or still printing."""
    if lot.state != "open":
        raise InputError(f"lot {lot.id}: already {lot.state} by {lot.released_by} at {lot.released_at}")
    if not lot.finished:
        pending = sum(1 for p in lot.plates if p.state in ("queued", "dispatching", "printing"))
        raise InputError(f"lot {lot.id}: {pending} plates still queued or printing; release later")


def test_only_profiles(jobs: Iterable[Any], is_test_only: Callable[[str], bool]) -> list[str]:
    """Printer profiles among the lot's print attempts that are for test rigs only."""
    names = sorted({j.printer_profile for j in jobs if getattr(j, "printer_profile", None)})
    return [n for n in names if is_test_only(n)]


@dataclass
class Decision:
    state: str  # "released", "rejected" or "pending"
    drawn: list[int]
    missing: list[int]
    failed: list[int]


def decide(lot: Any, results: list[UnitInspection]) -> Decision:
    """Released when every drawn unit passed; rejected as soon as one failed; pending otherwise."""
    drawn = check_drawn(lot, [])
    latest: dict[int, UnitInspection] = {}
    for item in results:
        latest.setdefault(item.unit, item)
        if item.verdict == "fail":
            latest[item.unit] = item  # a failure is never overwritten by a later pass
    failed = sorted(u for u, r in latest.items() if r.verdict == "fail" and u in drawn)
    missing = [u for u in drawn if u not in latest]
    if failed:
        return Decision("rejected", drawn, missing, failed)
    if not drawn:
        raise SafetyError(f"lot {lot.id}: the sampling plan drew no unit; nothing can support a release",
                          code="no_sample")  # fmt: skip
    return Decision("pending" if missing else "released", drawn, missing, failed)


def release_lot(store: Any, inspections: InspectionStore, lot_id: str, *, by: str, blocked_profiles: list[str],
                note: str = "") -> tuple[Any, Decision]:
    """Apply the decision to the lot: release, reject (quarantine), or refuse while units are missing."""
    lot = store.lot(lot_id)
    decision = decide(lot, inspections.for_lot(lot.id))
    if decision.state == "rejected":
        units = ", ".join(map(str, decision.failed))
        lot = store.release(lot.id, by=by, inspection="fail", note=note or f"sample unit {units} failed inspection")
        return lot, decision
    if decision.state == "pending":
        raise InputError(f"lot {lot.id}: drawn unit {', '.join(map(str, decision.missing))} not inspected yet; "
                         f"give --scan UNIT=FILE or --manual UNIT=FILE", code="inspection_missing")  # fmt: skip
    if blocked_profiles:
        raise SafetyError(f"lot {lot.id}: printed on test-only printer profile {', '.join(blocked_profiles)}; "
                          f"such a lot is never released", code="test_only_profile")  # fmt: skip
    return store.release(lot.id, by=by, inspection="pass", note=note), decision


def rejected_error(lot: Any, decision: Decision) -> CheckFailed:
    return CheckFailed(f"lot {lot.id} rejected (quarantined): drawn unit {', '.join(map(str, decision.failed))} "
                       f"failed inspection", code="lot_rejected")  # fmt: skip
