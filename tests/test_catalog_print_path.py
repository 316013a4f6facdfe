"""The print path verifies the catalog before any printer is contacted: `print`, `batch` and `queue run` refuse
a G-code edited together with its sha256 in revision.yaml (exit 4), and a listening socket standing for the
printer sees no connection. Removing `verify_revision` from `resolve_for_print` makes these tests fail (the
edited G-code matches the edited sha, so only the signed manifest catches it)."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
from pathlib import Path

import pytest
from test_print_support import print_catalog, write_fleet  # noqa: F401 - fixture

from hospfab.catalog import Catalog


class Listener:
    """A TCP port that counts connections (and closes them): the 'printer' must never be contacted."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def printer():
    listener = Listener()
    yield listener
    listener.sock.close()


@pytest.fixture
def tampered(print_catalog, tmp_path, monkeypatch):  # noqa: F811
    """A copy of the signed test catalog, and a function that edits TEST-BOX@1's G-code and its sha256 in
    revision.yaml consistently (what an attacker with write access to the catalog can do)."""
    root = tmp_path / "catalog"
    shutil.copytree(print_catalog, root)
    monkeypatch.setenv("HOSPFAB_CATALOG", str(root))

    def tamper() -> None:
        rev = root / "TEST-BOX" / "rev-1"
        gcode = next((rev / "build").iterdir())
        old = hashlib.sha256(gcode.read_bytes()).hexdigest()
        gcode.write_bytes(gcode.read_bytes() + b"G1 Z50 F100\n")
        new = hashlib.sha256(gcode.read_bytes()).hexdigest()
        text = (rev / "revision.yaml").read_text()
        assert old in text
        (rev / "revision.yaml").write_text(text.replace(old, new))

    return root, tamper


def test_print_refuses_before_contacting_the_printer(cli, tampered, printer, tmp_path, monkeypatch):
    root, tamper = tampered
    monkeypatch.setenv("HOSPFAB_FLEET", str(write_fleet(tmp_path / "fleet.yaml", [printer.url], monkeypatch)))
    tamper()
    out = cli("print", "TEST-BOX", "--json")
    assert out.exit_code == 4, out.stdout
    assert "revision.yaml: changed since validation" in out.json()["errors"][0]["message"]
    assert printer.accepted == 0


def test_batch_refuses_before_contacting_the_printer(cli, tampered, printer, tmp_path, monkeypatch):
    root, tamper = tampered
    monkeypatch.setenv("HOSPFAB_FLEET", str(write_fleet(tmp_path / "fleet.yaml", [printer.url], monkeypatch)))
    tamper()
    out = cli("batch", "TEST-BOX", "--quantity", "4")
    assert out.exit_code == 4 and "changed since validation" in out.stderr, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1
    assert printer.accepted == 0


def test_queue_run_refuses_before_contacting_the_printer(cli, tampered, printer, tmp_path, monkeypatch,
                                                          hospfab_home):
    from hospfab.fleet import Fleet
    from hospfab.queue.lots import create_lot, plan_for_revision
    from hospfab.queue.store import QueueStore
    from hospfab.settings import Settings

    root, tamper = tampered
    fleet = write_fleet(tmp_path / "fleet.yaml", [printer.url], monkeypatch)
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    printers = Fleet.load(fleet).printers
    revision = Catalog(root).resolve("TEST-BOX")
    proposal = plan_for_revision(revision, printers, 2, busy_s={p.name: 0.0 for p in printers})
    with QueueStore(Settings.resolve().journal_path) as store:
        create_lot(store, proposal, revision.meta.sampling, operator="test")
    tamper()
    from datetime import datetime, timedelta

    until = (datetime.now() + timedelta(minutes=2)).strftime("%H:%M")  # never hangs, even unprotected
    out = cli("queue", "run", "--until-empty", "--until", until, "--poll", "0.1")
    assert out.exit_code == 4 and "changed since validation" in out.stderr, out.stdout + out.stderr
    assert printer.accepted == 0


def test_draft_override_still_checks_the_signed_index(cli, tampered, printer, tmp_path, monkeypatch):
    """Deleting a revision's signatures does not make it a printable 'draft' with --allow-draft: the signed
    index still lists it as validated."""
    root, _tamper = tampered
    monkeypatch.setenv("HOSPFAB_FLEET", str(write_fleet(tmp_path / "fleet.yaml", [printer.url], monkeypatch)))
    shutil.rmtree(root / "TEST-BOX" / "rev-1" / "signatures")
    out = cli("print", "TEST-BOX@1", "--allow-draft")
    assert out.exit_code == 4 and "signatures are gone" in out.stderr, out.stderr
    assert printer.accepted == 0


def test_test_only_recipe_needs_a_test_printer(print_catalog, tmp_path, monkeypatch):  # noqa: F811
    """A recipe made for a test-only profile is never chosen for a fleet printer not marked test_printer."""
    from hospfab.catalog.store import Recipe
    from hospfab.fleet import Fleet
    from hospfab.printing.choose import _static_reason

    fleet = Fleet.load(write_fleet(tmp_path / "fleet.yaml", ["http://127.0.0.1:9"], monkeypatch))
    [printer] = fleet.printers
    revision = Catalog(print_catalog).resolve("TEST-BOX")
    real = revision.recipes[0]
    revision.recipes = [Recipe(**{**real.__dict__, "test_only": True})]
    recipe, reason = _static_reason(printer, revision)
    assert recipe is None and "only a fleet printer marked test_printer" in reason
    printer.test_printer = True
    recipe, reason = _static_reason(printer, revision)
    assert reason is None and recipe.test_only
