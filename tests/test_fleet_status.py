"""Concurrent fleet status against real OctoPrint servers, unreachable printers and refused keys."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hospfab.fleet import Fleet, PrinterConfig, status_all
from hospfab.octoprint.localserver import free_port
from hospfab.octoprint.states import State


def printer(name, url, env, **extra):
    return PrinterConfig(name=name, url=url, api_key_env=env, profile="virtual-test", material="pla", **extra)


@pytest.mark.octoprint
def test_status_of_real_printers_with_unreachable_and_bad_key(octoprint_server_factory, monkeypatch, gcode_file):
    a, b = octoprint_server_factory(2)
    monkeypatch.setenv("KEY_A", a.api_key)
    monkeypatch.setenv("KEY_B", b.api_key)
    monkeypatch.setenv("KEY_BAD", "NOT-THE-KEY-42")
    with a.client() as client:
        client.upload(gcode_file(moves=5, dwell_s=20), "busy-job.gcode", print_=True)
        client.wait_for({State.PRINTING}, 10)
    fleet = Fleet(
        printers=[
            printer("a", a.url, "KEY_A", site="icu", material_lot="L-1"),
            printer("b", b.url, "KEY_B"),
            printer("ghost", f"http://127.0.0.1:{free_port()}", "KEY_A"),
            printer("wrong-key", b.url, "KEY_BAD"),
            printer("no-key", b.url, "KEY_UNSET_ANYWHERE"),
        ]
    )
    statuses = {s.name: s for s in fleet.status_all(timeout=5)}
    assert list(statuses) == ["a", "b", "ghost", "wrong-key", "no-key"]
    busy = statuses["a"]
    assert busy.reachable and busy.state is State.PRINTING and busy.job_file == "busy-job.gcode"
    assert busy.completion is not None and busy.site == "icu" and busy.material_lot == "L-1"
    assert statuses["b"].ok and statuses["b"].idle and statuses["b"].state_text == "Operational"
    ghost = statuses["ghost"]
    assert not ghost.reachable and ghost.state is None and ghost.error_code == "printer_unreachable"
    assert "ghost" in ghost.error
    wrong = statuses["wrong-key"]
    assert wrong.error_code == "printer_auth_refused" and "NOT-THE-KEY-42" not in json.dumps(wrong.as_dict())
    assert statuses["no-key"].error_code == "invalid_config"
    assert statuses["ghost"].as_dict()["state"] == "unreachable"


class _BarrierHandler(BaseHTTPRequestHandler):
    """Answers /api/job only once `parties` requests are waiting at the same time."""

    barrier: threading.Barrier

    def do_GET(self):  # noqa: N802 - http.server API
        try:
            self.barrier.wait()
            status, body = 200, {"state": "Operational", "job": {"file": {}}, "progress": {}}
        except threading.BrokenBarrierError:
            status, body = 503, {"error": "requests were not concurrent"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_status_all_asks_printers_concurrently(monkeypatch):
    """Eight printers behind one server that answers only when all eight requests are in flight together:
    a sequential implementation would break the barrier and see every printer fail."""
    parties = 8
    handler = type("Handler", (_BarrierHandler,), {"barrier": threading.Barrier(parties, timeout=4)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KEY", "k")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        statuses = status_all([printer(f"p{i}", url, "KEY") for i in range(parties)], timeout=8)
    finally:
        server.shutdown()
        server.server_close()
    assert [s.state for s in statuses] == [State.OPERATIONAL] * parties
