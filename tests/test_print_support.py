"""Shared helpers for the print/jobs tests (no tests here): a tiny signed catalog and a fleet file.

The catalog is real (manifest, Ed25519 signature with a fresh key, real build files); its G-code jobs are
hand-written motion-only files for the Virtual Printer (``make_gcode``), recorded as recipes for the
``virtual-test`` printer profile. The mesh and G-code checks of the catalog lifecycle are not what these tests
are about (they have their own tests), so the catalog is built with checks that accept these files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from meshes import box, write_binary
from octoprint_fixtures import make_gcode

API_KEY_ENV = "HOSPFAB_TEST_KEY_{}"


class AcceptingChecks:
    """Mesh and G-code checks that accept the hand-written test jobs (the signature and manifest are real)."""

    def mesh(self, stl):
        return True, {}

    def gcode(self, gcode, printer, material):
        return True, {}

    def profile_test_only(self, printer):
        return False  # these test catalogs' virtual-test recipes stand for real ones


# what validation requires of a part and a revision (see hospfab.catalog.gate)
TEST_META = {"intended_use": "test part", "intended_users": ["testers"], "licence": "CC0-1.0",
             "acceptance": {"surface_tolerance_mm": 0.5}, "sampling": {"method": "random draw"}}


def trusted_test_key(root: Path, work: Path, name: str = "test-validator"):
    """A validator key pinned in a trust store beside the catalog (``<root>/../trust.yaml``); returns the
    private key and a Catalog on that trust store (tests point HOSPFAB_TRUST_STORE at it)."""
    from hospfab.catalog import Catalog
    from hospfab.catalog.signing import generate_key_pair
    from hospfab.trust import TrustStore

    private, public, _ = generate_key_pair(name, work / "keys")
    store = TrustStore.load(root.parent / "trust.yaml")
    store.trust(public, name="Test Validator", roles=["biomedical engineer"])
    store.save()
    root.mkdir(parents=True, exist_ok=True)
    return private, Catalog(root, checks=AcceptingChecks(), trust=store.path, seen=root.parent / "seen.sqlite3")


def build_catalog(root: Path, work: Path) -> Path:
    """TEST-BOX@1 (a ~1 s job), TEST-SLOW@1 (a ~40 s job), TEST-PETG@1 (petg only), validated and signed;
    TEST-DRAFT@1 a draft with a recipe."""
    work.mkdir(parents=True, exist_ok=True)
    private, catalog = trusted_test_key(root, work)
    stl = write_binary(work / "box.stl", box((10.0, 10.0, 2.0)))
    jobs = {
        "TEST-BOX": ("pla", make_gcode(work / "box.gcode", moves=200)),
        "TEST-SLOW": ("pla", make_gcode(work / "slow.gcode", moves=50, dwell_s=40)),
        "TEST-PETG": ("petg", make_gcode(work / "petg.gcode", moves=50)),
        "TEST-DRAFT": ("pla", make_gcode(work / "draft.gcode", moves=50)),
    }
    for ref, (material, gcode) in jobs.items():
        catalog.new(ref, f"test part {ref}", stl, meta=TEST_META)
        catalog.add_recipe(f"{ref}@1", gcode, printer="virtual-test", material=material, process="standard",
                           estimates={"print_time_s": 1})  # fmt: skip
        if ref != "TEST-DRAFT":
            catalog.validate(f"{ref}@1", key_file=private)
    return root


_BUILT: dict[str, Path] = {}  # the catalog is built once per test session (fixtures are imported by name)


@pytest.fixture
def print_catalog(tmp_path_factory, monkeypatch) -> Path:
    """The signed test catalog, its validator pinned in this test's trust store (HOSPFAB_TRUST_STORE)."""
    if "root" not in _BUILT:
        base = tmp_path_factory.mktemp("print-catalog")
        _BUILT["root"] = build_catalog(base / "catalog", base / "work")
    monkeypatch.setenv("HOSPFAB_TRUST_STORE", str(_BUILT["root"].parent / "trust.yaml"))
    return _BUILT["root"]


def write_fleet(path: Path, servers, monkeypatch, *, bed_clearing: str = "automatic", **overrides) -> Path:
    """A fleet file with one printer per server (``vt-0``, ``vt-1``...), keys passed through env vars.

    ``overrides``: ``{"vt-0": {"material": "petg"}}``-style per-printer changes (``api_key`` sets the value
    of that printer's key variable)."""
    printers = []
    for index, server in enumerate(servers):
        name = f"vt-{index}"
        entry = {
            "name": name,
            "url": server if isinstance(server, str) else server.url,
            "api_key_env": API_KEY_ENV.format(index),
            "profile": "virtual-test",
            "material": "pla",
            "material_lot": f"LOT-{index}",
            "site": "test-lab",
            "bed_clearing": bed_clearing,
        }
        extra = dict(overrides.get(name, {}))
        key = extra.pop("api_key", None) or ("unused" if isinstance(server, str) else server.api_key)
        monkeypatch.setenv(API_KEY_ENV.format(index), key)
        entry.update(extra)
        printers.append(entry)
    path.write_text(yaml.safe_dump({"printers": printers}, sort_keys=False))
    return path


@pytest.fixture
def print_env(print_catalog, monkeypatch, tmp_path):
    """Catalog and fleet locations for in-process CLI calls (operator ana); returns the fleet path."""
    monkeypatch.setenv("HOSPFAB_CATALOG", str(print_catalog))
    fleet = tmp_path / "fleet.yaml"
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    monkeypatch.setenv("HOSPFAB_OPERATOR", "ana")
    return fleet
