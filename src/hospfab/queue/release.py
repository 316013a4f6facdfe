"""Lot release on evidence, as a use case: inspect the drawn units (scans measured now, or manual records),
record each result, then release, reject (quarantine) or refuse; and the lot's device history record. The CLI's
``hospfab lots release`` / ``lots export``, a web page or a scheduler call these functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hospfab.errors import CheckFailed, HospfabError, InputError, SafetyError
from hospfab.queue import inspections as insp

if TYPE_CHECKING:
    from hospfab.settings import Settings


@dataclass
class ReleaseOutcome:
    lot: Any
    decision: insp.Decision | None  # None: rejected without inspection
    recorded: list[insp.UnitInspection] = field(default_factory=list)

    @property
    def error(self) -> CheckFailed | None:
        """The failure to report (exit 1) when a sample failed and the lot was rejected."""
        if self.decision is not None and self.decision.state == "rejected":
            return insp.rejected_error(self.lot, self.decision)
        return None

    def as_dict(self) -> dict[str, Any]:
        lot, decision = self.lot, self.decision
        return lot.summary() | {"released_by": lot.released_by, "released_at": lot.released_at,
                                "inspection": lot.inspection, "recorded": [r.as_dict() for r in self.recorded],
                                "drawn": decision.drawn if decision else [],
                                "failed_units": decision.failed if decision else []}  # fmt: skip


def reject_lot(settings: Settings, lot_id: str, *, by: str, note: str = "") -> ReleaseOutcome:
    """Quarantine the lot without inspection (wrong filament, a failed print run...)."""
    from hospfab.queue.store import QueueStore

    with QueueStore(settings.database_target) as store:
        lot = store.release(store.lot(lot_id).id, by=by, inspection="fail", note=note or "rejected without inspection")
    return ReleaseOutcome(lot, None)


def release_on_evidence(settings: Settings, lot_id: str, *, by: str, scans: Sequence[tuple[int, Path]] = (),
                        manuals: Sequence[tuple[int, Path]] = (),
                        tolerance: float | None = None, reports: Path | None = None,
                        note: str = "") -> ReleaseOutcome:
    """Record the drawn units' results (``scans`` inspected now against the lot's revision, ``manuals`` read
    from YAML records), then release the lot if every drawn unit passed, reject (quarantine) it if one failed,
    or refuse while one is missing. Refused: a unit that was not drawn, an unfinished or closed lot, a lot
    printed on a test-only printer profile (SafetyError, exit 4)."""
    from hospfab.journal import Journal
    from hospfab.queue.store import QueueStore

    scans, manuals = list(scans), list(manuals)
    with QueueStore(settings.database_target) as store, Journal(settings.database_target) as journal, \
            insp.InspectionStore(settings.database_target) as results:  # fmt: skip
        lot = store.lot(lot_id)
        insp.check_drawn(lot, [u for u, _ in scans + manuals])
        insp.check_open_and_finished(lot)
        blocked = insp.test_only_profiles([j for j in journal.jobs() if j.lot_id == lot.id],
                                          test_only_checker(settings.profiles_dir))  # fmt: skip
        if blocked:
            raise SafetyError(f"lot {lot.id}: printed on test-only printer profile {', '.join(blocked)}; such a "
                              f"lot is never released (use --reject)", code="test_only_profile")  # fmt: skip
        recorded = [manual_result(lot.id, unit, path, by) for unit, path in manuals]
        if scans:
            recorded += scan_results(settings, lot, scans, by, tolerance, reports)
        for item in recorded:
            results.add(item)
        if not recorded and not results.for_lot(lot.id):
            raise InputError(f"lot {lot.id}: no inspection result; give --scan UNIT=FILE or --manual UNIT=FILE "
                             f"for drawn unit {', '.join(map(str, insp.check_drawn(lot, [])))}")  # fmt: skip
        lot, decision = insp.release_lot(store, results, lot.id, by=by, blocked_profiles=blocked, note=note)
    return ReleaseOutcome(lot, decision, recorded)


def test_only_checker(profiles_dir: Path) -> Callable[[str], bool]:
    """Whether a printer profile is test-only; a profile that no longer loads cannot vouch for a release."""
    from hospfab.profiles import ProfileStore

    profiles = ProfileStore(profiles_dir)

    def check(name: str) -> bool:
        try:
            return bool(getattr(profiles.printer(name), "test_only", False))
        except Exception:  # noqa: BLE001 - a profile that no longer loads cannot vouch for a release
            return True

    return check


def manual_result(lot_id: str, unit: int, path: Path, by: str) -> insp.UnitInspection:
    verdict, figures = insp.read_manual_record(path)
    files = [{"role": "manual record", "path": str(path), "sha256": insp.sha256_file(path)}]
    return insp.new_inspection(lot_id, unit, insp.MANUAL, verdict, by=by, tolerance_mm=None, figures=figures,
                               files=files)  # fmt: skip


def scan_results(settings: Settings, lot: Any, scans: list[tuple[int, Path]], by: str, tolerance: float | None,
                 reports: Path | None) -> list[insp.UnitInspection]:
    """Inspect each drawn unit's scan against the lot's revision (an HTML report per unit in ``reports``)."""
    from hospfab.inspect.run import inspect_file, load_reference

    reference = load_reference(lot.spec, settings.catalog())
    out = []
    for unit, path in scans:
        report = reports / f"{lot.id}-unit-{unit}.html" if reports else None
        result = inspect_file(path, reference, tolerance=tolerance, report=report, inspected_by=by)
        files = [{"role": "scan", "path": str(path), "sha256": result.scan_sha256},
                 {"role": "reference", "path": str(reference.path), "sha256": reference.sha256}]
        if report is not None:
            files.append({"role": "report", "path": str(report), "sha256": insp.sha256_file(report)})
        figures = {**result.figures, "findings": [f.as_dict() for f in result.findings],
                   "reference": reference.name, "tolerance_source": result.tolerance_source,
                   "dimensions": result.dimensions}  # fmt: skip
        out.append(insp.new_inspection(lot.id, unit, insp.SCAN, result.verdict, by=by,
                                       tolerance_mm=result.tolerance_mm, figures=figures, files=files))  # fmt: skip
    return out


def export_record(settings: Settings, lot_id: str, output: Path) -> Path:
    """Write the lot's device history record (.csv, .json or .html) and return its path."""
    from hospfab.journal import Journal
    from hospfab.queue.record import device_history, export
    from hospfab.queue.store import QueueStore

    with QueueStore(settings.database_target) as store, Journal(settings.database_target) as journal, \
            insp.InspectionStore(settings.database_target) as inspections:  # fmt: skip
        record = device_history(store, journal, lot_id, inspections=inspections,
                                revision=_revision_or_none(settings, store.lot(lot_id).spec))
        return export(record, output)


def _revision_or_none(settings: Settings, spec: str) -> Any:
    """The lot's catalog revision (for its validators), or None when the catalog no longer has it."""
    try:
        return settings.catalog().resolve(spec)
    except HospfabError:
        return None
