"""A fault-injecting HTTP proxy for tests: a small ``http.server`` + ``http.client`` server placed in front of a
REAL OctoPrint (FIELD-NOTES "Producing faults"). Not a fake OctoPrint: every request is forwarded unless a rule
says otherwise, and the faults that matter happen *after* OctoPrint acted.

Rules are matched per request (method and path prefix) and switched by the test at any time::

    proxy = FaultProxy(server.url)
    proxy.add("POST", "/api/files/local", "error_after", status=500)   # forward, then answer 500
    proxy.add("GET", "/api/job", "hang", times=None)                   # never answer, every time

Faults:

- ``error_after``: forward, then answer ``status`` with a JSON error (OctoPrint acted);
- ``error_before``: answer ``status`` without forwarding (OctoPrint never saw it);
- ``truncate``: forward, then send the headers and half the body, and close;
- ``drop``: forward, then close the connection without an answer;
- ``slow``: forward, then wait ``delay_s`` before answering;
- ``hang``: never forward, never answer (until the proxy stops);
- ``before``: call ``action()`` then forward normally (to change the printer just before a request).

:class:`SilentServer` accepts TCP connections and never reads nor answers (an OctoPrint that hangs).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

FAULTS = ("error_after", "error_before", "truncate", "drop", "slow", "hang", "before")


@dataclass
class Rule:
    method: str
    path: str
    fault: str
    times: int | None = 1  # None: every matching request
    status: int = 500
    delay_s: float = 0.0
    action: Callable[[], Any] | None = None
    hits: int = 0


@dataclass
class Hit:
    method: str
    path: str
    fault: str | None
    status: int | None = None


@dataclass
class _State:
    rules: list[Rule] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.state = _State()
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, method: str, path: str, fault: str, **kwargs: Any) -> Rule:
        assert fault in FAULTS, fault
        rule = Rule(method.upper(), path, fault, **kwargs)
        with self.state.lock:
            self.state.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.state.lock:
            self.state.rules.clear()

    def hits(self, method: str | None = None, path: str | None = None) -> list[Hit]:
        with self.state.lock:
            return [h for h in self.state.hits
                    if (method is None or h.method == method) and (path is None or h.path.startswith(path))]

    def _match(self, method: str, path: str) -> Rule | None:
        with self.state.lock:
            for rule in self.state.rules:
                if rule.method == method and path.startswith(rule.path) and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    return rule
        return None

    def close(self) -> None:
        self.state.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped connection is unambiguous

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "transfer-encoding", "content-length")}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def _handle(self) -> None:
        body = self._body()
        path = self.path.split("?")[0]
        rule = self.proxy._match(self.command, path)
        fault = rule.fault if rule else None
        hit = Hit(self.command, path, fault)
        with self.proxy.state.lock:
            self.proxy.state.hits.append(hit)
        if fault == "hang":
            self.proxy.state.stopping.wait()
            self._drop()
            return
        if fault == "error_before":
            hit.status = rule.status
            self._answer(rule.status, [("Content-Type", "application/json")],
                         json.dumps({"error": f"proxy: injected {rule.status}"}).encode())
            return
        if fault == "before" and rule.action is not None:
            rule.action()
        status, headers, data = self._forward(body)
        hit.status = status
        if fault == "error_after":
            self._answer(rule.status, [("Content-Type", "application/json")],
                         json.dumps({"error": f"proxy: injected {rule.status} after forwarding"}).encode())
        elif fault == "truncate":
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._drop()
        elif fault == "drop":
            self._drop()
        else:
            if fault == "slow":
                self.proxy.state.stopping.wait(rule.delay_s)
            self._answer(status, headers, data)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle


class SilentServer:
    """Accepts TCP connections and never answers (OctoPrint hung): counts the connections it accepted."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()
