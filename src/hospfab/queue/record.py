"""The device history record of a lot: the lot, its plates, every print attempt (journal job), the release.

What was made (reference, revision, build-file checksums), how many (planned, made, failed, released), where
and with what (printers, materials and material lots), by whom (operators, releaser), when, and the
inspection sample. Exported as JSON (everything), CSV (one row per attempt) and a printable one-page HTML.
Files are written atomically (temp file in the same folder, fsync, ``os.replace``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from hospfab.errors import InputError
from hospfab.fileio import atomic_write_text
from hospfab.journal import Journal
from hospfab.queue.store import DONE, FAILED, Lot, QueueStore

CSV_COLUMNS = (
    "lot_id", "ref", "revision", "plate", "attempt_job", "printer", "printer_profile", "material", "material_lot",
    "operator", "started_at", "ended_at", "outcome", "reason", "remote_file", "sha256", "units",
)  # fmt: skip


TIME_KEYS = ("created_at", "started_at", "ended_at", "released_at", "updated_at", "at", "inspected_at",
             "first_start", "last_end", "deadline")  # fmt: skip


def to_second(value: Any) -> Any:
    """An ISO 8601 timestamp to the second, with its time zone (UTC when it has none)."""
    if not isinstance(value, str) or len(value) < 19:
        return value
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="seconds")


def _seconds(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: to_second(v) if k in TIME_KEYS else _seconds(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_seconds(v) for v in data]
    return data


def validators_of(revision: Any) -> list[dict[str, Any]]:
    """Who signed the revision (validated, approved), from its signed records: each signer's name and roles as
    the site's trust store gave them when they signed (``catalog verify`` checks them against it)."""
    records = list(getattr(revision, "signatures", None) or [])
    if not records and getattr(revision, "validation", None) is not None:
        records = [revision.validation]
    out = []
    for record in records:
        at = record.at.isoformat() if hasattr(record.at, "isoformat") else str(record.at)
        name = getattr(record, "signer", None) or getattr(record, "by", "")
        roles = getattr(record, "roles", None) or [getattr(record, "role", "")]
        out.append({"name": name, "role": ", ".join(r for r in roles if r), "meaning":
                    getattr(record, "meaning", "validated"), "at": at, "key_id": record.key_id})
    return out


def printed_build_files(lot: Lot, jobs: list[Any]) -> list[dict[str, Any]]:
    """Per plate made: the build file actually printed (the successful attempt's sha256), printer, material."""
    by_id = {j.id: j for j in jobs}
    out = []
    for plate in lot.plates:
        if plate.state != DONE:
            continue
        job = by_id.get(plate.job_id or "")
        out.append({"plate": plate.id, "units": plate.units, "printer": plate.printer,
                    "printer_profile": job.printer_profile if job else None,
                    "material": job.material if job else None, "material_lot": job.material_lot if job else None,
                    "build_file": job.build_file if job else None, "sha256": job.sha256 if job else None,
                    "job": plate.job_id, "operator": job.operator if job else None})  # fmt: skip
    return out


def _distinct_builds(printed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The build files actually printed (one line per profile, material and sha256, with its plates)."""
    out: dict[tuple, dict[str, Any]] = {}
    for p in printed:
        key = (p["printer_profile"], p["material"], p["sha256"])
        entry = out.setdefault(key, {"printer": p["printer_profile"], "material": p["material"],
                                     "sha256": p["sha256"], "build_file": p["build_file"], "plates": []})
        entry["plates"].append(p["plate"])
    return list(out.values())


def device_history(store: QueueStore, journal: Journal, lot_id: str, *, inspections: Any = None,
                   revision: Any = None) -> dict[str, Any]:
    """The whole record of one lot as plain data (``inspections``: an InspectionStore; ``revision``: the
    catalog revision, for its validators). Timestamps to the second, with time zone."""
    lot = store.lot(lot_id)
    jobs = [j for j in journal.jobs(newest_first=False) if j.lot_id == lot.id]
    made = lot.units_made
    results = [r.as_dict() for r in inspections.for_lot(lot.id)] if inspections is not None else []
    drawn = [int(u) for u in (lot.sampling or {}).get("units", [])]
    inspected = sorted({r["unit"] for r in results if r["unit"] in drawn})
    printed = printed_build_files(lot, jobs)
    return _seconds({
        "lot": {k: v for k, v in lot.__dict__.items() if k != "plates"},
        "summary": {
            **lot.summary(),
            "units_failed_plates": sum(p.planned_units for p in lot.plates if p.state == FAILED),
            "units_inspected": len(inspected),
            "units_released": made if lot.state == "released" else 0,
            "revision": lot.spec,
            "validators": validators_of(revision),
            "printers": sorted({j.printer for j in jobs if j.printer}),
            "printer_profiles": sorted({j.printer_profile for j in jobs if j.printer_profile}),
            "materials": sorted({f"{j.material} ({j.material_lot or 'lot ?'})" for j in jobs if j.material}),
            "operators": sorted({j.operator for j in jobs} | {lot.operator}),
            "build_files": _distinct_builds(printed),
            "first_start": min((j.started_at for j in jobs if j.started_at), default=None),
            "last_end": max((j.ended_at for j in jobs if j.ended_at), default=None),
            "inspection_verdict": lot.inspection,
        },
        "plates": [p.as_dict() for p in lot.plates],
        "printed": printed,
        "attempts": [j.as_dict() for j in jobs],
        "inspections": results,
        "events": [e for p in lot.plates for e in store.events(p.id)],
    })  # fmt: skip


def to_csv(record: dict[str, Any]) -> str:
    from hospfab.fileio import spreadsheet_safe

    lot = record["lot"]
    units = {p["id"]: p["units"] for p in record["plates"]}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for job in record["attempts"]:
        writer.writerow({key: spreadsheet_safe(value) for key, value in {
            "lot_id": lot["id"], "ref": lot["ref"], "revision": lot["revision"], "plate": job["plate_id"],
            "attempt_job": job["id"], "printer": job["printer"], "printer_profile": job["printer_profile"],
            "material": job["material"], "material_lot": job["material_lot"], "operator": job["operator"],
            "started_at": job["started_at"], "ended_at": job["ended_at"], "outcome": job["outcome"],
            "reason": job["reason"], "remote_file": job["remote_file"], "sha256": job["sha256"],
            "units": units.get(job["plate_id"], 0) if job["outcome"] == DONE else 0,
        }.items()})  # fmt: skip
    return buffer.getvalue()


def to_html(record: dict[str, Any]) -> str:
    """A one-page printable summary (A4, no external resources)."""
    lot, s = record["lot"], record["summary"]
    e = html.escape
    sample = lot.get("sampling") or {}
    drawn = ", ".join(f"unit {d['unit']} (plate {d['plate']}, copy {d['copy']})" for d in sample.get("plates", []))
    rows = [
        ("Lot", lot["id"]), ("Reference", f"{lot['ref']} revision {lot['revision']}"),
        ("Created", f"{lot['created_at']} by {lot['operator']}"), ("Status", s["status"]),
        ("Quantity ordered", lot["quantity"]), ("Units made", s["units_made"]),
        ("Plates", f"{s['plates']} ({s['plates_done']} done, {s['plates_failed']} failed)"),
        ("Units released", s["units_released"]),
        ("Production", f"{s['first_start'] or '-'} to {s['last_end'] or '-'}"),
        ("Printers", ", ".join(s["printers"]) or "-"), ("Materials (lots)", ", ".join(s["materials"]) or "-"),
        ("Operators", ", ".join(s["operators"])),
        ("Revision validated by", "; ".join(f"{v['name']} ({v['role']}, {v['at']}, key {v['key_id']})"
                                            for v in s.get("validators", [])) or "-"),
        ("Build files printed (sha256)", "; ".join(f"{b['printer']}/{b['material']}: {b['sha256']} "
                                                   f"({len(b['plates'])} plates)" for b in s["build_files"]) or "-"),
        ("Units inspected", f"{s.get('units_inspected', 0)}: " + ("; ".join(
            f"unit {r['unit']} {r['method']} {r['verdict'].upper()}" + (
                f" (RMS {r['figures']['rms_mm']:.3f} mm, max {r['figures']['max_mm']:.3f} mm, "
                f"{100 * r['figures']['within_tolerance_share']:.1f} % within +/-{r['tolerance_mm']:g} mm"
                + "".join(f", {d['name']} {d['measured_mm']:.3f} mm" for d in r["figures"].get("dimensions", [])
                          if d.get("measured_mm") is not None) + ")"
                if r["method"] == "scan" else "") + f" by {r['inspected_by']} at {r['inspected_at']}"
            for r in record.get("inspections", [])) or "-")),
        ("Inspection sample", f"{sample.get('sample_size', '?')} per {sample.get('lot_size', '?')}: {drawn or '-'}"),
        ("Acceptance", f"{lot['inspection'] or 'pending'}" + (f" by {lot['released_by']} at {lot['released_at']}"
                                                              if lot["released_by"] else "")),
        ("Note", lot["note"] or ""),
    ]  # fmt: skip
    table = "\n".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    attempts = "\n".join(
        f"<tr><td>{e(str(j['plate_id']))}</td><td>{e(str(j['printer']))}</td><td>{e(str(j['outcome']))}</td>"
        f"<td>{e(str(j['started_at'] or ''))[:19]}</td><td>{e(str(j['reason'] or ''))[:60]}</td></tr>"
        for j in record["attempts"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Device history record {e(lot['id'])}</title>
<style>@page {{ size: A4; margin: 12mm }} body {{ font: 10pt sans-serif }} table {{ border-collapse: collapse;
width: 100% }} th, td {{ border: 1px solid #999; padding: 2px 4px; text-align: left; vertical-align: top }}
th {{ width: 28% }} .attempts td {{ font-size: 8pt }} .sign {{ margin-top: 8mm }}</style></head>
<body><h1>Device history record</h1>
<table>{table}</table>
<h2>Print attempts</h2>
<table class="attempts"><tr><th>Plate</th><th>Printer</th><th>Outcome</th><th>Started</th><th>Reason</th></tr>
{attempts}</table>
<p class="sign">Released by: ______________________ Date: ____________ Signature: ______________________</p>
</body></html>
"""


def export(record: dict[str, Any], path: Path, fmt: str | None = None) -> Path:
    """Write the record as ``fmt`` (csv, json, html; default from the suffix), atomically."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt == "htm":
        fmt = "html"
    if fmt == "json":
        text = json.dumps(record, indent=2, ensure_ascii=False, default=str)
    elif fmt == "csv":
        text = to_csv(record)
    elif fmt == "html":
        text = to_html(record)
    else:
        raise InputError(f"{path}: unknown export format {fmt!r} (use .csv, .json or .html)")
    return atomic_write_text(path, text)


def lot_line(lot: Lot) -> dict[str, Any]:
    return lot.summary()
