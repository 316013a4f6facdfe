"""The queue runner under faults injected in front of REAL OctoPrint servers (tests/fault_proxy.py).

"No part made twice" is checked with the printers' own statistics (every attempt has a unique file name).
"""

from __future__ import annotations

import time

import pytest
from fault_proxy import FaultProxy
from conftest import assert_no_secret
from test_print_support import write_fleet
from test_queue_runner import journal_path, lot_catalog, new_lot, plates  # noqa: F401 - fixture

from hospfab.catalog import Catalog
from hospfab.fleet import Fleet
from hospfab.journal import Journal
from hospfab.octoprint.exceptions import PrinterNotFound
from hospfab.queue.runner import QueueRunner, RunnerOptions
from hospfab.queue.store import DONE, FAILED

pytestmark = pytest.mark.octoprint

UPLOAD = "/api/files/local"


@pytest.fixture
def proxied_farm(octoprint_server_factory, lot_catalog, tmp_path, monkeypatch):  # noqa: F811
    """Factory: proxied_farm(n) -> (servers, proxies, fleet): every printer behind its own fault proxy."""
    made: list[FaultProxy] = []

    def make(count: int = 1):
        servers = octoprint_server_factory(count)
        proxies = [FaultProxy(s.url) for s in servers]
        made.extend(proxies)
        overrides = {f"vt-{i}": {"api_key": s.api_key, "timeout_s": 1} for i, s in enumerate(servers)}
        fleet = write_fleet(tmp_path / "fleet.yaml", [p.url for p in proxies], monkeypatch, **overrides)
        monkeypatch.setenv("HOSPFAB_CATALOG", str(lot_catalog))
        monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
        return servers, proxies, fleet

    yield make
    for proxy in made:
        proxy.close()


def runner(home, fleet, catalog, log, **options) -> QueueRunner:
    opts = RunnerOptions(poll_s=0.2, until_empty=True, **options)
    return QueueRunner(journal_path(home), Fleet.load(fleet).printers, catalog=Catalog(catalog), options=opts,
                       log=log.append)  # fmt: skip


def prints_per_plate(servers, home, lot_id) -> dict[str, int]:
    """Prints (success + failure) of every attempt of every plate, counted by the printers."""
    with Journal(journal_path(home)) as journal:
        attempts = [j for j in journal.jobs() if j.lot_id == lot_id]
    counts = {p.id: 0 for p in plates(home, lot_id)}
    for server in servers:
        with server.client() as client:
            for job in attempts:
                try:
                    info = client.file_info(job.remote_file)
                except PrinterNotFound:
                    continue
                counts[job.plate_id] += info.prints_success + info.prints_failure
    return counts


@pytest.mark.parametrize("fault, kwargs", [("error_after", {"status": 500}), ("error_after", {"status": 409}),
                                           ("truncate", {}), ("drop", {}), ("slow", {"delay_s": 4.0})])
def test_lost_upload_answer_is_confirmed_printing_and_never_reprinted(proxied_farm, cli, hospfab_home,
                                                                      lot_catalog, fault, kwargs):  # noqa: F811
    servers, proxies, fleet = proxied_farm(1)
    lot_id = new_lot(cli, 4)["lot_id"]  # 2 plates
    proxies[0].add("POST", UPLOAD, fault, **kwargs)
    log: list[str] = []
    with runner(hospfab_home, fleet, lot_catalog, log) as run:
        summary = run.run()
    assert [p.state for p in plates(hospfab_home, lot_id)] == [DONE, DONE]
    assert [p.attempts for p in plates(hospfab_home, lot_id)] == [1, 1]  # the confirmed send was not retried
    assert summary.not_sent == 0 and summary.done == 2
    assert set(prints_per_plate(servers, hospfab_home, lot_id).values()) == {1}
    assert any("answer to the upload lost" in line for line in log)


def test_a_plate_that_cannot_be_sent_uses_its_attempts_fails_and_later_plates_run(proxied_farm, cli, hospfab_home,
                                                                                 lot_catalog):  # noqa: F811
    """409 'file exists' (or any refusal before OctoPrint acted) three times in a row: no livelock."""
    servers, proxies, fleet = proxied_farm(1)
    lot_id = new_lot(cli, 4)["lot_id"]  # 2 plates, one printer
    proxies[0].add("POST", UPLOAD, "error_before", status=409, times=3)
    log: list[str] = []
    with runner(hospfab_home, fleet, lot_catalog, log) as run:
        summary = run.run(max_rounds=200)
    assert summary.stopped == "queue empty"
    first, second = plates(hospfab_home, lot_id)
    assert first.state == FAILED and first.attempts == 3 and "409" in first.reason and "not sent" in first.reason
    assert second.state == DONE and second.attempts == 1
    with Journal(journal_path(hospfab_home)) as journal:
        jobs = [j for j in journal.jobs(newest_first=False) if j.plate_id == first.id]
    assert [j.outcome for j in jobs] == ["failed"] * 3
    assert len({j.remote_file for j in jobs}) == 3  # a name is never reused
    assert prints_per_plate(servers, hospfab_home, lot_id) == {first.id: 0, second.id: 1}
    assert sum("not sent" in line for line in log) == 3
    assert_no_secret("\n".join(log), "runner log")
    assert any("3 in a row" in line and "no attempt left, plate failed" in line for line in log)


def test_a_plate_not_sent_on_a_printer_goes_to_another_one(proxied_farm, cli, hospfab_home, lot_catalog,
                                                           gcode_file):  # noqa: F811
    """The avoid list: vt-0 refuses the first send; vt-1 is busy for a few seconds with a foreign job.
    When both are free, the plate must go to vt-1, not back to vt-0 (fails if the avoid list is removed)."""
    servers, proxies, fleet = proxied_farm(2)
    lot_id = new_lot(cli, 2)["lot_id"]  # 1 plate
    with servers[1].client() as client:
        assert client.upload(gcode_file(dwell_s=3), "foreign.gcode", print_=True).effective_print
    proxies[0].add("POST", UPLOAD, "error_before", status=500)
    log: list[str] = []
    with runner(hospfab_home, fleet, lot_catalog, log) as run:
        run.step()
        plate = plates(hospfab_home, lot_id)[0]
        assert plate.state == "queued" and plate.avoid == ["vt-0"] and plate.attempts == 1
        summary = run.run(max_rounds=400)
    assert summary.stopped == "queue empty"
    plate = plates(hospfab_home, lot_id)[0]
    assert plate.state == DONE and plate.printer == "vt-1" and plate.attempts == 2
    assert prints_per_plate(servers, hospfab_home, lot_id) == {plate.id: 1}


def test_unknown_send_keeps_plate_and_printer_until_the_printer_answers(proxied_farm, cli, hospfab_home,
                                                                       lot_catalog):  # noqa: F811
    servers, proxies, fleet = proxied_farm(2)
    lot_id = new_lot(cli, 2)["lot_id"]  # 1 plate
    proxies[0].add("POST", UPLOAD, "error_after", status=500)
    silent = [proxies[0].add("GET", path, "error_before", status=500, times=None)
              for path in ("/api/job", "/api/files")]  # cannot be asked about the job (its state answers)
    proxies[1].add("GET", "/api/printer", "error_before", status=500, times=None)  # vt-1 not free at first
    log: list[str] = []
    with runner(hospfab_home, fleet, lot_catalog, log) as run:
        run.step()
        plate = plates(hospfab_home, lot_id)[0]
        assert plate.state == "dispatching" and plate.printer == "vt-0"
        with Journal(journal_path(hospfab_home)) as journal:
            assert journal.get(plate.job_id).outcome == "unknown"
        proxies[1].clear()  # vt-1 is free now: the plate must still not be printed there
        for _ in range(10):
            run.step()
            time.sleep(0.2)
        held = plates(hospfab_home, lot_id)[0]
        assert held.state == "dispatching" and held.printer == "vt-0" and held.attempts == 1
        for rule in silent:
            rule.times = 0  # vt-0 answers again: its statistics decide
        summary = run.run(max_rounds=400)
    assert summary.stopped == "queue empty"
    plate = plates(hospfab_home, lot_id)[0]
    assert plate.state == DONE and plate.printer == "vt-0" and plate.attempts == 1
    assert prints_per_plate(servers, hospfab_home, lot_id) == {plate.id: 1}
    assert any("outcome unknown" in line for line in log)
    assert_no_secret("\n".join(log), "runner log")
    for server in servers:  # no key in the journal or the fleet file either
        for stored in (journal_path(hospfab_home), fleet):
            assert server.api_key.encode() not in stored.read_bytes()
