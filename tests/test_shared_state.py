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
