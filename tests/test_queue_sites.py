"""Runners per site on one PostgreSQL, against real OctoPrint servers: two sites sharing a lot with one runner
killed by SIGKILL, a spool change from another workstation during a run, the database stopped and restarted
during a run. "Printed exactly once" is read from the printers' own statistics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_queue_runner import lot_catalog, new_lot, plates, printed_once_everywhere, wait_until  # noqa: F401 - fixture
from test_print_support import write_fleet

from hospfab.catalog import Catalog
from hospfab.fleet import Fleet
from hospfab.journal import Journal
from hospfab.queue.runner import QueueRunner, RunnerOptions
from hospfab.queue.store import DONE

pytestmark = pytest.mark.octoprint


@pytest.fixture
def shared(octoprint_server_factory, lot_catalog, pg_url, tmp_path, monkeypatch):  # noqa: F811
    """Factory: shared(n, sites) -> servers; fleet, catalog and the PostgreSQL database in the environment."""

    def make(count: int, sites: list[str]):
        servers = octoprint_server_factory(count)
        overrides = {f"vt-{i}": {"site": site} for i, site in enumerate(sites)}
        fleet = write_fleet(tmp_path / "fleet.yaml", servers, monkeypatch, **overrides)
        monkeypatch.setenv("HOSPFAB_CATALOG", str(lot_catalog))
        monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
        monkeypatch.setenv("HOSPFAB_DATABASE", pg_url)
        return servers

    return make


def lot_plates(lot_id: str):
    return plates(None, lot_id)  # the shared database of HOSPFAB_DATABASE


def runner_command(site: str) -> list[str]:
    return [sys.executable, "-m", "hospfab", "queue", "run", "--site", site, "--until-empty", "--poll", "0.2",
            "--lease", "3"]  # fmt: skip


def test_two_site_runners_share_a_lot_and_one_killed_mid_lot_loses_and_repeats_nothing(shared, cli):
    servers = shared(2, ["north", "south"])
    lot_id = new_lot(cli, 12)["lot_id"]  # 6 plates of ~2.5 s
    north = subprocess.Popen(runner_command("north"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    south = subprocess.Popen(runner_command("south"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: any(p.state == "printing" and p.printer == "vt-0" for p in lot_plates(lot_id))
                   and any(p.printer == "vt-1" for p in lot_plates(lot_id)), timeout_s=90)  # fmt: skip
    finally:
        north.send_signal(signal.SIGKILL)
        north.communicate(timeout=10)
    orphan = [p for p in lot_plates(lot_id) if p.printer == "vt-0" and p.state in ("printing", "dispatching")]
    assert orphan, "the north runner was killed with a plate on its printer"
    out, err = south.communicate(timeout=240)
    assert south.returncode == 0, out + err
    final = lot_plates(lot_id)
    assert [p.state for p in final] == [DONE] * 6
    assert printed_once_everywhere(servers, None, lot_id) == {p.id: 1 for p in final}
    # the south runner dispatched only to south printers after the kill; the orphan was settled by it
    assert next(p for p in final if p.id == orphan[0].id).state == DONE
    with Journal(os.environ["HOSPFAB_DATABASE"]) as journal:
        assert {j.printer for j in journal.jobs() if j.lot_id == lot_id} <= {"vt-0", "vt-1"}


def test_a_spool_change_from_another_workstation_is_honoured_on_the_next_plate(shared, cli, lot_catalog):  # noqa: F811
    shared(1, ["north"])
    lot_id = new_lot(cli, 6)["lot_id"]  # 3 plates, one printer
    target = os.environ["HOSPFAB_DATABASE"]
    options = RunnerOptions(poll_s=0.2, until_empty=True)
    printers = Fleet.load(os.environ["HOSPFAB_FLEET"]).printers  # the fleet file says lot LOT-0
    with QueueRunner(target, printers, catalog=Catalog(lot_catalog), options=options) as runner:
        runner.step()
        first = wait_until(lambda: next((p for p in lot_plates(lot_id) if p.state == "printing"), None))
        with Journal(target) as other_workstation:  # `printers load` elsewhere: only the database knows
            other_workstation.record_material_load("vt-0", "pla", "LOT-NEW", "bo")
        runner.run()
    with Journal(target) as journal:
        lots = {j.plate_id: j.material_lot for j in journal.jobs() if j.lot_id == lot_id and j.outcome == "done"}
    assert lots[first.id] == "LOT-0"
    assert sorted(v for k, v in lots.items() if k != first.id) == ["LOT-NEW", "LOT-NEW"]


def test_the_database_stopped_and_restarted_during_a_run(shared, cli, pg_server):
    servers = shared(2, ["north", "north"])
    lot_id = new_lot(cli, 8)["lot_id"]  # 4 plates
    command = runner_command("north")
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(p.state == "printing" for p in lot_plates(lot_id)), timeout_s=90)
        pg_server.stop("fast")
        time.sleep(4)  # the printers finish their plates while nothing can be recorded
        assert runner.poll() is None, runner.communicate()  # the runner waits for the database
        pg_server.start()
        out, err = runner.communicate(timeout=240)
    finally:
        pg_server.ensure_started()  # for the next tests, whatever happened here
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, out + err
    final = lot_plates(lot_id)
    assert [p.state for p in final] == [DONE] * 4
    assert printed_once_everywhere(servers, None, lot_id) == {p.id: 1 for p in final}
