"""Pytest plugin: real local OctoPrint servers (Virtual Printer) for integration tests.

- ``octoprint_server_factory(n)``: session-scoped; returns ``n`` running servers (``LocalServer``: ``url``,
  ``api_key``, ``client()``, ``basedir``), started on free 127.0.0.1 ports with known API keys and reused
  across the whole session. Each server handed out is first reset: Operational, idle, no stored files.
- ``octoprint_server``: one such server.

The ``octoprint`` executable is found via ``$HOSPFAB_OCTOPRINT`` (the Makefile sets it) or this checkout's
``.octoprint-venv/bin/octoprint``; when absent, tests using these fixtures are skipped with the reason, or
fail when the environment variable ``CI`` is set (:func:`skip_or_fail`, the one way a test gives up on a
missing OctoPrint, prusa-slicer or PostgreSQL: a green CI must mean the integration tests ran).
Start-up costs ~3 s a server, so they are shared: a test that breaks a server (firmware error, cancel) needs no
clean-up, the next checkout resets it; a server that died is replaced.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the running test because a dependency is missing; with ``CI`` set (to anything but empty), fail it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing dependency fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL server binaries (the version differs between images), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


# marker -> (is the dependency there?, what to do when it is not)
DEPENDENCY_MARKERS = {
    "slicer": (lambda: shutil.which("prusa-slicer") is not None,
               "prusa-slicer not installed: run `make system-deps`"),
    "postgres": (lambda: postgres_bin_dir() is not None,
                 "PostgreSQL server not installed: run `make system-deps`"),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``slicer`` or ``postgres`` need that program: skipped without it, failed with ``CI`` set."""
    for marker, (present, reason) in DEPENDENCY_MARKERS.items():
        if item.get_closest_marker(marker) is not None and not present():
            skip_or_fail(reason)


def octoprint_executable() -> Path | None:
    candidates = [os.environ.get("HOSPFAB_OCTOPRINT"), REPO / ".octoprint-venv" / "bin" / "octoprint"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


class ServerPool:
    def __init__(self, executable: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.executable = executable
        self.tmp_path_factory = tmp_path_factory
        self.servers: list = []

    def get(self, count: int) -> list:
        from hospfab.octoprint.localserver import start_servers

        # replace servers that died, then start the missing ones together
        dead = [i for i, server in enumerate(self.servers) if not server.running()]
        wanted = max(0, count - len(self.servers)) + len([i for i in dead if i < count])
        if wanted:
            dirs = [self.tmp_path_factory.mktemp("octoprint") for _ in range(wanted)]
            fresh = start_servers(dirs, octoprint=self.executable)
            for i in dead:
                if i < count:
                    self.servers[i] = fresh.pop()
            self.servers.extend(fresh)
        for index in range(count):
            try:
                self.servers[index].reset()
            except Exception:  # noqa: BLE001 - a wrecked server is replaced by a fresh one
                self.servers[index].stop()
                basedir = self.tmp_path_factory.mktemp("octoprint")
                self.servers[index] = start_servers([basedir], octoprint=self.executable)[0]
        return self.servers[:count]

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def octoprint_server_factory(tmp_path_factory):
    """Call with a count: ``servers = octoprint_server_factory(3)``."""
    executable = octoprint_executable()
    if executable is None:
        skip_or_fail(
            "OctoPrint not installed: run `make octoprint` or set HOSPFAB_OCTOPRINT to the octoprint executable"
        )
    pool = ServerPool(executable, tmp_path_factory)
    try:
        yield pool.get
    finally:
        pool.stop_all()


@pytest.fixture
def octoprint_server(octoprint_server_factory):
    """One real OctoPrint server, Operational and idle, no files stored."""
    return octoprint_server_factory(1)[0]


def make_gcode(path: Path, *, moves: int = 200, dwell_s: int = 0) -> Path:
    """Write a small real G-code job: homing, ``moves`` travel moves, then ``dwell_s`` one-second dwells
    (``G4 S1``: real time on the Virtual Printer, so the job stays busy that long). No heating."""
    lines = ["; hospfab test job", "G21", "G90", "G28"]
    lines += [f"G1 X{10 + i % 100} Y{10 + (i * 7) % 100} Z0.3 F6000" for i in range(moves)]
    lines += ["G4 S1"] * dwell_s
    lines.append("M84")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def gcode_file(tmp_path):
    """Factory: ``gcode_file("job.gcode", moves=200, dwell_s=0) -> Path`` in the test's tmp dir."""

    def make(name: str = "job.gcode", **kwargs) -> Path:
        return make_gcode(tmp_path / name, **kwargs)

    return make


def wait_until(predicate, timeout_s: float = 60.0, poll_s: float = 0.2):
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError("condition not met in time")
