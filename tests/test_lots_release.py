"""`lots release` on evidence: drawn units only, scans measured, manual records, rejection, test-only
printers; and the device history record that results (`lots export`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scans import make_scan

from hospfab.journal import Journal
from hospfab.journal.store import Job, now_iso
from hospfab.queue.store import QueueStore

ROOT = Path(__file__).resolve().parents[1]
CATALOG, PROFILES = ROOT / "catalog", ROOT / "profiles"
REF = "TUBE-RACK-16"
SECOND_TZ = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def made_lot(home: Path, profile: str = "prusa-mk4", drawn: int = 2) -> str:
    """A lot of 3 racks, one per plate, all printed (journal jobs on ``profile``), unit ``drawn`` sampled."""
    path = home / "journal.sqlite3"
    with QueueStore(path) as store, Journal(path) as journal:
        lot = store.create_lot(ref=REF, revision=1, quantity=3, recipes=[{
            "printer": profile, "material": "petg", "build_file": "build/x.gcode", "sha256": "a" * 64,
            "copies": 1, "print_time_s": 60.0}], plates=[("mk4-1", 1)] * 3, operator="ana",
            sampling={"lot_size": 100, "sample_size": 1, "units": [drawn],
                      "plates": [{"unit": drawn, "plate": drawn, "copy": 1}]})  # fmt: skip
        for n, plate in enumerate(lot.plates):
            job_id = f"J{n}"
            store.claim(plate.id, runner="t", printer="mk4-1", job_id=job_id)
            journal.add(Job(id=job_id, ref=REF, revision=1, build_file="build/x.gcode", sha256="b" * 64,
                            printer="mk4-1", printer_url="http://mk4-1", printer_profile=profile, material="petg",
                            material_lot="PETG-2026-11", operator="ben", created_at=now_iso(),
                            started_at=now_iso(), ended_at=now_iso(), outcome="done", lot_id=lot.id,
                            plate_id=plate.id))  # fmt: skip
            store.mark_printing(plate.id, job_id)
            store.finish_attempt(plate.id, job_id, ok=True, units=1)
        return lot.id


def record(tmp_path: Path, measured: float) -> Path:
    path = tmp_path / f"unit-{measured}.yaml"
    path.write_text("instrument: caliper 500-196\nmeasured_by: Ana\nmeasurements:\n"
                    f"- {{name: Hole diameter, nominal_mm: 17.0, measured_mm: {measured}, tolerance_mm: 0.3}}\n")
    return path


@pytest.fixture
def lots(cli):
    return lambda *args: cli("--catalog", CATALOG, "--profiles", PROFILES, "lots", *args)


def test_release_needs_the_drawn_unit_and_refuses_others(lots, hospfab_home, tmp_path):
    lot = made_lot(hospfab_home)
    out = lots("release", lot, "--by", "qa")
    assert out.exit_code == 2 and "drawn unit 2" in out.stderr
    out = lots("release", lot, "--by", "qa", "--manual", f"3={record(tmp_path, 17.1)}")
    assert out.exit_code == 2 and "unit 3 was not drawn" in out.stderr and "(drawn: 2)" in out.stderr
    out = lots("release", lot, "--by", "qa", "--scan", "2")
    assert out.exit_code == 2 and "UNIT=FILE" in out.stderr
    assert lots("show", lot, "--json").json()["data"]["status"] == "complete"  # nothing changed


def test_manual_pass_releases_and_the_record_is_complete(lots, hospfab_home, tmp_path):
    lot = made_lot(hospfab_home)
    evidence = record(tmp_path, 17.12)
    out = lots("release", lot, "--by", "QA Lead", "--manual", f"2={evidence}", "--json")
    assert out.exit_code == 0, out.stderr
    data = out.json()["data"]
    assert data["status"] == "released" and data["recorded"][0]["verdict"] == "pass"
    show = lots("show", lot)
    assert "inspect unit 2: plate 002, copy 1: PASS (manual" in show.stdout
    assert lots("export", lot, "-o", tmp_path / "dhr.json").exit_code == 0
    dhr = json.loads((tmp_path / "dhr.json").read_text())
    s = dhr["summary"]
    assert s["units_made"] == 3 and s["units_inspected"] == 1 and s["units_released"] == 3
    assert s["validators"][0]["name"] == "Demo Validator" and s["validators"][0]["key_id"]
    assert s["build_files"] == [{"printer": "prusa-mk4", "material": "petg", "sha256": "b" * 64,
                                 "build_file": "build/x.gcode", "plates": [p["id"] for p in dhr["plates"]]}]
    assert "a" * 64 not in json.dumps(s)  # the recipe's hash is not what was printed
    assert s["materials"] == ["petg (PETG-2026-11)"] and s["operators"] == ["ana", "ben"]
    inspection = dhr["inspections"][0]
    import hashlib

    assert inspection["files"][0]["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert inspection["figures"]["measurements"][0]["deviation_mm"] == pytest.approx(0.12)
    for stamp in (dhr["lot"]["created_at"], dhr["lot"]["released_at"], s["first_start"], inspection["inspected_at"],
                  dhr["attempts"][0]["ended_at"]):  # fmt: skip
        assert SECOND_TZ.match(stamp), stamp
    assert lots("export", lot, "-o", tmp_path / "dhr.html").exit_code == 0
    page = (tmp_path / "dhr.html").read_text()
    assert "Demo Validator" in page and "unit 2 manual PASS" in page and "b" * 64 in page


def test_failed_manual_measurement_rejects_the_lot(lots, hospfab_home, tmp_path):
    lot = made_lot(hospfab_home)
    out = lots("release", lot, "--by", "qa", "--manual", f"2={record(tmp_path, 17.5)}")
    assert out.exit_code == 1 and "rejected (quarantined)" in out.stderr
    assert lots("show", lot, "--json").json()["data"]["status"] == "rejected"


def test_lot_on_a_test_only_printer_is_never_released(lots, hospfab_home, tmp_path):
    lot = made_lot(hospfab_home, profile="virtual-test")
    out = lots("release", lot, "--by", "qa", "--manual", f"2={record(tmp_path, 17.0)}")
    assert out.exit_code == 4 and "test-only printer profile virtual-test" in out.stderr
    assert lots("release", lot, "--by", "qa", "--reject").exit_code == 0


def test_scanned_unit_is_measured_and_recorded(lots, hospfab_home, tmp_path):
    from hospfab.inspect.scan import read_reference

    lot = made_lot(hospfab_home)
    rack = read_reference(CATALOG / REF / "rev-1/model.stl")[0]
    make_scan(rack, np.random.default_rng(31), points=2500).write(tmp_path / "unit2.ply")
    out = lots("release", lot, "--by", "qa", "--scan", f"2={tmp_path / 'unit2.ply'}", "--tolerance", "0.3",
               "--reports", tmp_path, "--json")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    item = out.json()["data"]["recorded"][0]
    assert item["method"] == "scan" and item["verdict"] == "pass" and item["tolerance_mm"] == 0.3
    assert item["figures"]["rms_mm"] < 0.06 and item["figures"]["reference"] == "TUBE-RACK-16@1"
    roles = {f["role"]: f for f in item["files"]}
    assert set(roles) == {"scan", "reference", "report"} and Path(roles["report"]["path"]).is_file()
    assert out.json()["data"]["status"] == "released"
