"""The queue and lots commands on a journal (no printer needed), and `batch --plan` deadlines on a real server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from test_print_support import write_fleet
from test_queue_runner import REF, lot_catalog  # noqa: F401 - fixture

from hospfab.queue.store import QueueStore

RECIPES = [{"printer": "virtual-test", "material": "pla", "build_file": "/nonexistent.gcode", "sha256": "0" * 64,
            "copies": 2, "print_time_s": 3.0}]  # fmt: skip


@pytest.fixture
def lot(hospfab_home):
    with QueueStore(hospfab_home / "journal.sqlite3") as store:
        return store.create_lot(ref="TEST-LOT", revision=1, quantity=6, recipes=RECIPES, plates=[("vt-0", 2)] * 3,
                                operator="ana", sampling={"lot_size": 100, "sample_size": 1, "units": [4],
                                                          "plates": [{"unit": 4, "plate": 2, "copy": 2}]})


def test_queue_list_status_prioritize_cancel_retry(cli, lot):
    listed = cli("queue", "list", "--json").json()["data"]["plates"]
    assert [p["state"] for p in listed] == ["queued"] * 3
    status = cli("queue", "status", "--json").json()["data"]
    assert status["counts"] == {"queued": 3} and status["open_lots"][0]["lot_id"] == lot.id
    second = lot.plates[1].id
    out = cli("queue", "prioritize", second, "7", "--json")
    assert out.exit_code == 0 and out.json()["data"]["changed"][0]["priority"] == 7
    assert cli("queue", "list", "--json").json()["data"]["plates"][0]["id"] == second  # priority first
    out = cli("queue", "cancel", lot.id, "--operator", "bob", "--json")
    assert len(out.json()["data"]["changed"]) == 3
    assert cli("queue", "list", "--state", "queued", "--json").json()["data"]["plates"] == []
    out = cli("queue", "retry", second)
    assert out.exit_code == 0 and second in out.stdout
    out = cli("queue", "retry", "nope-plate")
    assert out.exit_code == 2 and out.stderr.strip().startswith("Error: lot nope-plate: not found")
    assert "Traceback" not in out.stderr


def test_lots_list_show_release_and_export(cli, lot, tmp_path):
    lots = cli("lots", "list", "--json").json()["data"]["lots"]
    assert [x["lot_id"] for x in lots] == [lot.id]
    show = cli("lots", "show", lot.id, "--json").json()["data"]
    assert show["units_made"] == 0 and show["units_planned"] == 6 and show["status"] == "queued"
    assert show["build_files"] == [] and show["lot"]["recipes"][0]["sha256"] == "0" * 64  # nothing printed yet
    human = cli("lots", "show", lot.id)
    assert "inspect unit 4: plate 002, copy 2: to do" in human.stdout
    out = cli("lots", "release", lot.id, "--by", "qa", "--manual", "4=nope.yaml")
    assert out.exit_code == 2 and "still queued or printing" in out.stderr
    cli("queue", "cancel", lot.id)
    out = cli("lots", "release", lot.id, "--by", "qa", "--reject", "--note", "cancelled lot", "--json")
    assert out.exit_code == 0 and out.json()["data"]["status"] == "rejected"
    out = cli("lots", "export", lot.id, "-o", tmp_path / "dhr.json")
    record = json.loads((tmp_path / "dhr.json").read_text())
    assert record["lot"]["inspection"] == "fail" and len(record["plates"]) == 3
    assert record["summary"]["units_released"] == 0
    out = cli("lots", "export", lot.id, "-o", tmp_path / "dhr.pdf")
    assert out.exit_code == 2 and "unknown export format" in out.stderr


@pytest.mark.octoprint
def test_batch_plan_says_when_the_deadline_cannot_be_met(octoprint_server, lot_catalog, tmp_path, monkeypatch, cli,
                                                         hospfab_home):
    fleet = write_fleet(tmp_path / "fleet.yaml", [octoprint_server], monkeypatch)
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    monkeypatch.setenv("HOSPFAB_CATALOG", str(lot_catalog))
    by = (datetime.now() + timedelta(minutes=2)).strftime("%H:%M")  # 60-120 s away: about 40 plates of 3 s
    out = cli("batch", REF, "--quantity", "1000", "--by", by, "--plan", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["lot_id"] is None and data["plates"] == 500 and data["units"] == 1000
    assert data["deadline_met"] is False and 0 < data["units_by_deadline"] < 1000
    human = cli("batch", REF, "--quantity", "1000", "--by", by, "--plan")
    assert "cannot be met" in human.stdout and "Plan only" in human.stdout
    assert cli("lots", "list", "--json").json()["data"]["lots"] == []
    out = cli("batch", REF, "--quantity", "4", "--printer", "ghost")
    assert out.exit_code == 2 and out.stderr.startswith("Error: printer ghost: not in the fleet file")



def test_batch_planning_is_a_core_use_case(octoprint_server, lot_catalog, tmp_path, monkeypatch, hospfab_home):
    """What `hospfab batch` does, called without the CLI (as a page or a scheduler would): an unreachable
    printer is named and left out of the plan, the lot is queued with its sample drawn."""
    from hospfab.errors import NotFoundError
    from hospfab.queue.batching import enqueue_batch, plan_batch
    from hospfab.settings import Settings

    fleet = write_fleet(tmp_path / "fleet.yaml", [octoprint_server, "http://127.0.0.1:1"], monkeypatch)
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    monkeypatch.setenv("HOSPFAB_CATALOG", str(lot_catalog))
    settings = Settings.resolve()
    plan = plan_batch(settings, REF, 6)
    assert list(plan.unavailable) == ["vt-1"]
    data = plan.as_dict()
    assert [p["printer"] for p in data["plan"]] == ["vt-0"] and data["units"] == 6
    with pytest.raises(NotFoundError, match="printer ghost"):
        plan_batch(settings, REF, 6, only=["ghost"])
    assert plan_batch(settings, REF, 6, only=["vt-0"]).unavailable == {}
    lot = enqueue_batch(settings, plan, operator="ana", max_attempts=2)
    with QueueStore(settings.database_target) as store:
        plates = store.plates(lot_id=lot.id)
    assert lot.quantity == 6 and len(plates) == data["plates"] and {p.planned_printer for p in plates} == {"vt-0"}
    assert lot.sampling["units"] and all(1 <= u <= 6 for u in lot.sampling["units"])
