"""Retries: idempotent GETs are retried with backoff on 502/503/504; actions (POST) never are."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hospfab.octoprint import OctoPrintClient, PrinterProtocolError


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests, then 200/204; counts requests per method."""

    failures = 2
    seen: dict

    def _answer(self):
        self.seen[self.command] = self.seen.get(self.command, 0) + 1
        if sum(self.seen.values()) <= self.failures:
            status, body = 503, {"error": "starting up"}
        elif self.command == "GET":
            status, body = 200, {"api": "0.1", "server": "1.11.8"}
        else:
            status, body = 204, None
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer  # noqa: N815 - http.server API

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    handler = type("Handler", (_Flaky,), {"seen": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    server.shutdown()
    server.server_close()


def test_get_is_retried_until_it_succeeds(flaky):
    url, seen = flaky
    with OctoPrintClient(url, "KEY", name="flaky", retries=2, backoff_s=0.01) as client:
        assert client.version()["server"] == "1.11.8"
    assert seen == {"GET": 3}


def test_get_gives_up_after_its_retries(flaky):
    url, seen = flaky
    with OctoPrintClient(url, "KEY", name="flaky", retries=1, backoff_s=0.01) as client:
        with pytest.raises(PrinterProtocolError, match="printer flaky: GET /api/version: unexpected HTTP 503"):
            client.version()
    assert seen == {"GET": 2}


def test_post_is_never_retried(flaky):
    url, seen = flaky
    with OctoPrintClient(url, "KEY", name="flaky", retries=5, backoff_s=0.01) as client:
        with pytest.raises(PrinterProtocolError, match="HTTP 503: starting up"):
            client.cancel()
    assert seen == {"POST": 1}
