"""Shared fixtures: an isolated HOSPFAB_HOME, a CLI runner, the shared corpus."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest_plugins = ["octoprint_fixtures", "postgres_fixtures"]

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HOSPFAB_CORPUS", REPO.parent / "shared" / "corpus"))


def _ray_threads_after_fork() -> None:
    """A forked child (mutmut forks one per mutant from a process that already ran mesh checks) inherits
    raycast's cached ray thread pool without its thread: a check there would wait for it forever."""
    import sys

    raycast = sys.modules.get("hospfab.mesh.raycast")
    if raycast is not None:
        raycast._helpers.cache_clear()


os.register_at_fork(after_in_child=_ray_threads_after_fork)


@pytest.fixture(autouse=True)
def hospfab_home(tmp_path_factory, monkeypatch):
    """Every test gets its own HOSPFAB_HOME so nothing touches the user's home."""
    home = tmp_path_factory.mktemp("hospfab-home")
    monkeypatch.setenv("HOSPFAB_HOME", str(home))
    for var in ("HOSPFAB_CATALOG", "HOSPFAB_FLEET", "HOSPFAB_PROFILES", "HOSPFAB_DEBUG", "HOSPFAB_DATABASE",
                "HOSPFAB_DATABASE_FILE"):
        monkeypatch.delenv(var, raising=False)
    return home


@dataclass
class CliOutcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


#: Test secrets registered by tests (key values, key-file contents): no output of any CLI call may contain one.
TEST_SECRETS: set[str] = set()


def assert_no_secret(text: str, what: str) -> None:
    """Every CLI output of the run is searched for the API keys of the test fleets (the values of the
    ``HOSPFAB_TEST_KEY_*`` variables the fleet files point to) and for the registered test secrets."""
    keys = {v.strip() for k, v in os.environ.items() if k.startswith("HOSPFAB_TEST_KEY_")} | TEST_SECRETS
    for key in keys:
        if len(key) >= 8:
            assert key not in text, f"{what}: a test API key or secret appeared in its output"


@pytest.fixture
def cli():
    """Run hospfab in-process: cli("check", "a.stl", "--json") -> CliOutcome."""
    from hospfab.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict | None = None) -> CliOutcome:
        result = runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)
        assert_no_secret(result.stdout + result.stderr, f"hospfab {' '.join(map(str, args))}")
        return CliOutcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real medical-part STLs; tests using it skip cleanly when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS
