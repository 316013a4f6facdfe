"""Printer runtime state and runner leases in the database, on both backends."""

from __future__ import annotations

import time

from hospfab.journal import Journal
from hospfab.journal.printer_state import PrinterStates, SharedState, with_shared_state
from hospfab.queue.leases import RunnerLeases


def test_material_loaded_is_the_newest_spool_change_whoever_recorded_it(database):
    with Journal(database) as ws_a, Journal(database) as ws_b, PrinterStates(database) as states:
        assert states.current(["p1"])["p1"] == SharedState("p1", None, None)
        ws_a.record_material_load("p1", "pla", "L-1", "ana")
        ws_b.record_material_load("p1", "petg", "L-2", "bo")  # another workstation, later
        ws_a.record_material_load("p2", "pla", "L-3", "ana")
        now = states.current(["p1", "p2", "p3"])
        assert (now["p1"].material, now["p1"].material_lot) == ("petg", "L-2")
        assert now["p2"].material_lot == "L-3" and now["p3"].material is None


def test_disabled_printer_and_fleet_entry_view(database):
    from hospfab.fleet.model import PrinterConfig

    with PrinterStates(database) as states:
        off = states.set_enabled("p1", False, by="ana", reason="nozzle clogged")
        assert not off.enabled and off.reason == "nozzle clogged"
        assert states.set_enabled("p1", True, by="bo").enabled
    entry = PrinterConfig(name="p1", url="http://127.0.0.1:1", api_key_env="X_KEY", profile="virtual-test",
                          material="pla", material_lot="OLD")
    fresh = with_shared_state(entry, SharedState("p1", "petg", "NEW"))
    assert (fresh.material, fresh.material_lot, fresh.url) == ("petg", "NEW", entry.url)
    assert with_shared_state(entry, SharedState("p1", None, None)) is entry


def test_a_lease_expires_on_the_database_clock_and_is_seen_by_others(database):
    with RunnerLeases(database) as mine, RunnerLeases(database) as other:
        mine.acquire("r1", site="north", lease_s=0.5)
        assert other.alive("r1") and [lease.id for lease in other.active()] == ["r1"]
        assert mine.heartbeat("r1", lease_s=0.5)
        time.sleep(0.8)
        assert not other.alive("r1") and other.active() == []
        assert not mine.heartbeat("r1", lease_s=0.5)  # expired: the runner must re-acquire
        mine.acquire("r1", site="north")
        assert other.alive("r1")
        mine.release("r1")
        assert not other.alive("r1") and not other.alive(None) and not other.alive("never")


def test_coordination_site_printers_fresh_state_and_orphans(database):
    from types import SimpleNamespace

    from hospfab.fleet.model import PrinterConfig
    from hospfab.journal.db import connect
    from hospfab.queue.coordination import Backoff, Coordination

    def printer(name, site):
        return PrinterConfig(name=name, url="http://127.0.0.1:1", api_key_env="X_KEY", profile="virtual-test",
                             material="pla", material_lot="YAML-LOT", site=site)

    fleet = [printer("n1", "north"), printer("n2", "north"), printer("s1", "south")]
    conn = connect(database)
    north = Coordination(conn, "r-north", fleet, site="north", lease_s=0.5)
    north.start()
    waiting: dict[str, str] = {}
    assert sorted(north.printers(waiting)) == ["n1", "n2"] and waiting == {}
    with Journal(database) as other, PrinterStates(database) as states:
        other.record_material_load("n1", "petg", "NEW", "bo")
        states.set_enabled("n2", False, by="bo", reason="nozzle")
    now = north.printers(waiting)
    assert (now["n1"].material, now["n1"].material_lot) == ("petg", "NEW") and "n2" not in now
    assert waiting == {"n2": "disabled: nozzle"}
    south = Coordination(connect(database), "r-south", fleet, site="south", lease_s=60)
    south.start()
    plate = SimpleNamespace(runner="r-north")
    assert not south.mine_to_watch(plate) and south.mine_to_watch(SimpleNamespace(runner="r-south"))
    time.sleep(0.8)  # the north runner stops renewing (killed)
    south.heartbeat()
    assert south.mine_to_watch(plate) and south.any_printer("n1").material == "petg"
    north.heartbeat()  # a paused runner takes its lease again
    south.heartbeat()
    assert not south.mine_to_watch(plate)
    backoff = Backoff(1, 4)
    assert [backoff.next() for _ in range(4)] == [1, 2, 4, 4]
    backoff.reset()
    assert backoff.next() == 1


def test_printers_disable_and_enable_from_the_cli(cli, database, tmp_path, monkeypatch):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("printers:\n  - {name: p1, url: 'http://127.0.0.1:1', api_key_env: X_KEY, profile: virtual-test,"
                     " material: pla}\n")
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    assert cli("printers", "disable", "p1", "--operator", "ana").exit_code == 2  # a reason is required
    out = cli("printers", "disable", "p1", "--reason", "nozzle clogged", "--operator", "ana", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    with PrinterStates(database) as states:
        assert states.current(["p1"])["p1"] == SharedState("p1", None, None, False, "nozzle clogged")
    assert cli("printers", "enable", "p1", "--json").json()["data"]["enabled"] is True
    assert cli("printers", "disable", "nope", "--reason", "x").exit_code == 2
