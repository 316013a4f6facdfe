"""Start and stop a real local OctoPrint server with its Virtual Printer, on 127.0.0.1 only.

Used by the test fixtures, the benchmark and the README demo. The server runs from its own venv
(``make octoprint``), with a headless configuration (no wizard, no LAN discovery, no internet checks), an admin
user with a known API key, and the fast Virtual Printer settings from FIELD-NOTES (no simulated errors,
``M220 S10000`` before each print so a 2,000-line job takes about a second).

    server = start_server(Path("/tmp/op1"))
    try:
        ...  # server.url, server.api_key
    finally:
        server.stop()
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from hospfab.errors import PrinterError
from hospfab.settings import checkout_root

if TYPE_CHECKING:
    from hospfab.octoprint.client import OctoPrintClient

ADMIN_USER = "admin"

_DISABLED_PLUGINS = [
    "discovery",
    "announcements",
    "softwareupdate",
    "pluginmanager",
    "health_check",
    "tracking",
    "errortracking",
    "achievements",
    "firmware_check",
    "file_check",
]


def find_octoprint(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The ``octoprint`` executable: ``explicit``, ``$HOSPFAB_OCTOPRINT``, this checkout's
    ``.octoprint-venv/bin/octoprint``, or ``octoprint`` on PATH. None when none exists."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("HOSPFAB_OCTOPRINT"):
        candidates.append(Path(os.environ["HOSPFAB_OCTOPRINT"]))
    root = checkout_root()
    if root is not None:
        candidates.append(root / ".octoprint-venv" / "bin" / "octoprint")
    on_path = shutil.which("octoprint")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pbkdf2_hash(password: str) -> str:
    """A passlib-compatible ``$pbkdf2-sha256$`` hash, so no OctoPrint CLI call is needed to add the user."""
    rounds = 29000
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(digest)}"


def write_config(basedir: Path, *, port: int, api_key: str, password: str) -> None:
    """Write a headless ``config.yaml``, ``users.yaml`` (admin with ``api_key``) and the fast-print script."""
    basedir.mkdir(parents=True, exist_ok=True)
    config = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
            "pythonEolCheck": {"enabled": False},
            "seenWizards": {"corewizard": 4, "file_check": 1, "softwareupdate": 1, "classicwebcam": 1},
        },
        "serial": {
            "port": "VIRTUAL",
            "baudrate": 115200,
            "autoconnect": True,
            "blacklistedPorts": ["/dev/*"],
        },
        "plugins": {
            "_disabled": list(_DISABLED_PLUGINS),
            "virtual_printer": {"enabled": True, "simulated_errors": []},
        },
    }
    (basedir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    users = {
        "_version": 2,
        ADMIN_USER: {
            "password": _pbkdf2_hash(password),
            "active": True,
            "groups": ["admins", "users"],
            "permissions": [],
            "apikey": api_key,
            "settings": {},
        },
    }
    users_file = basedir / "users.yaml"
    users_file.write_text(yaml.safe_dump(users, sort_keys=False))
    users_file.chmod(0o600)
    scripts = basedir / "scripts" / "gcode"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "beforePrintStarted").write_text("M220 S10000\n")


@dataclass
class LocalServer:
    """A running local OctoPrint. ``api_key`` is the admin's key; ``password`` logs into the web UI."""

    basedir: Path
    port: int
    api_key: str = field(repr=False)
    password: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.basedir / "logs" / "octoprint.log"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout_s``."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def client(self, **kwargs: Any) -> OctoPrintClient:
        from hospfab.octoprint.client import OctoPrintClient

        return OctoPrintClient(self.url, self.api_key, name=kwargs.pop("name", f"local:{self.port}"), **kwargs)

    def reset(self, timeout_s: float = 20.0) -> None:
        """Bring the printer back to Operational and idle with no stored files (so nothing is selected):
        cancels a running job, reconnects after an error, deletes every uploaded file."""
        from hospfab.octoprint.states import BUSY_STATES, IDLE_STATES, State

        with self.client(read_timeout=5.0) as client:
            current = client.printer_state()
            if current.state in BUSY_STATES and current.state is not State.CANCELLING:
                client.cancel()
            if current.state not in IDLE_STATES and current.state not in BUSY_STATES:
                client.connect()
            client.wait_for(IDLE_STATES, timeout_s)
            for name in client.list_files():
                client.delete_file(name)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def launch(
    basedir: Path,
    *,
    octoprint: str | os.PathLike[str] | None = None,
    port: int | None = None,
    api_key: str | None = None,
) -> LocalServer:
    """Configure ``basedir`` and start the server process, without waiting for it (see :func:`wait_ready`)."""
    executable = find_octoprint(octoprint)
    if executable is None:
        raise PrinterError(
            "OctoPrint is not installed: run `make octoprint` or set HOSPFAB_OCTOPRINT to its executable"
        )
    port = port or free_port()
    api_key = api_key or secrets.token_hex(16).upper()
    password = secrets.token_urlsafe(12)
    write_config(basedir, port=port, api_key=api_key, password=password)
    log = open(basedir / "serve.out", "ab")  # noqa: SIM115 - the child keeps it
    try:
        process = subprocess.Popen(
            [
                str(executable),
                "serve",
                "--iknowwhatimdoing",
                "--basedir",
                str(basedir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    return LocalServer(basedir=basedir, port=port, api_key=api_key, password=password, process=process)


def wait_ready(server: LocalServer, timeout_s: float = 90.0, *, operational: bool = True) -> LocalServer:
    """Wait for a real 200 from ``/api/version`` (and, by default, an Operational virtual printer)."""
    deadline = time.monotonic() + timeout_s
    headers = {"X-Api-Key": server.api_key}
    with httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0), trust_env=False) as http:
        path = "/api/version"
        while True:
            if not server.running():
                raise PrinterError(
                    f"local OctoPrint on port {server.port} exited with code {server.process.returncode} "
                    f"during start-up (log: {server.log_path})"
                )
            try:
                response = http.get(server.url + path, headers=headers)
                if response.status_code == 200:
                    if path == "/api/printer" or not operational:
                        return server
                    path = "/api/printer"
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                server.stop()
                raise PrinterError(
                    f"local OctoPrint on port {server.port} not ready after {timeout_s:g} s "
                    f"(log: {server.log_path})"
                )
            time.sleep(0.2)


def start_server(
    basedir: Path,
    *,
    octoprint: str | os.PathLike[str] | None = None,
    port: int | None = None,
    api_key: str | None = None,
    timeout_s: float = 90.0,
) -> LocalServer:
    """Configure, start and wait for one local OctoPrint with an Operational virtual printer."""
    return wait_ready(launch(basedir, octoprint=octoprint, port=port, api_key=api_key), timeout_s)


def start_servers(
    basedirs: list[Path], *, octoprint: str | os.PathLike[str] | None = None, timeout_s: float = 120.0
) -> list[LocalServer]:
    """Start several servers side by side (launched together, then awaited). Stops them all on failure."""
    servers: list[LocalServer] = []
    try:
        for basedir in basedirs:
            servers.append(launch(basedir, octoprint=octoprint))
        for server in servers:
            wait_ready(server, timeout_s)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
