"""Data-driven: every reference shipped in catalog/ loads, verifies and meets the seed requirements."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from hospfab.catalog import Catalog

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "catalog"
REFS = sorted(p.name for p in SHIPPED.iterdir() if (p / "part.yaml").is_file()) if SHIPPED.is_dir() else []


@pytest.fixture(autouse=True)
def demo_key_pinned(hospfab_home, monkeypatch):
    """The tests pin the demo validator key (by its known fingerprint) in this test's site trust store."""
    from hospfab.cli.demo import DEMO_KEY_ID
    from hospfab.catalog.signing import fingerprint, load_public_key
    from hospfab.trust import TrustStore

    public = SHIPPED / "keys" / "demo-validator.pub"
    assert fingerprint(load_public_key(public)) == DEMO_KEY_ID
    store = TrustStore.load(hospfab_home / "trust.yaml")
    store.trust(public, name="Demo Validator", roles=["biomedical engineer (demo key)"])
    monkeypatch.setenv("HOSPFAB_TRUST_STORE", str(store.save()))


def test_seed_catalog_has_the_required_references():
    assert len(REFS) >= 6
    for ref in ("VISOR-HEADBAND", "EAR-SAVER", "DOOR-OPENER", "RESP-CONNECTOR-22M"):
        assert ref in REFS
    readme = (SHIPPED / "README.md").read_text()
    assert "not clinically validated" in readme
    assert list((SHIPPED / "keys").glob("*.pub")), "the demo validator's public key must be trusted"
    assert not list(SHIPPED.rglob("*.key")), "no private key may be shipped in the catalog"


@pytest.mark.parametrize("ref", REFS)
def test_shipped_reference_loads_and_verifies(ref):
    catalog = Catalog(SHIPPED)
    part = catalog.get(ref)
    latest = catalog.resolve(ref)
    assert latest.status == "validated"
    assert catalog.verify_revision(latest)["ok"]
    for revision in part.revisions:
        if revision.validation is not None:
            catalog.verify_revision(revision)
    printers = {(r.printer, r.material) for r in latest.recipes}
    assert ("prusa-mk4", "petg") in printers
    assert len({p for p, _m in printers}) >= 2, "PETG on prusa-mk4 and one more printer"
    from hospfab.profiles import ProfileStore

    profiles = ProfileStore(REPO / "profiles")
    assert not [r.printer for r in latest.recipes if profiles.printer(r.printer).test_only], "no test-only recipe"
    criteria = latest.acceptance_criteria
    assert criteria.surface_tolerance_mm and criteria.dimensions and not criteria.free_text
    assert latest.meta.sampling is not None
    assert [s.signer for s in latest.signatures] == ["Demo Validator"] and not latest.pending
    for recipe in latest.recipes:
        assert recipe.build_file.is_file() and recipe.estimates.get("print_time_s", 0) > 0
    assert latest.preview is not None and latest.preview.stat().st_size > 1000
    assert part.meta.intended_use and part.meta.licence and part.meta.intended_users


@pytest.mark.parametrize("ref", REFS)
def test_parametric_model_reproduces_the_shipped_stl(ref, tmp_path):
    """The model script beside each reference still builds the geometry that was validated."""
    from hospfab.mesh import check_file

    catalog = Catalog(SHIPPED)
    part = catalog.get(ref)
    assert part.meta.model_script, f"{ref} has no parametric model script"
    namespace = runpy.run_path(str(part.path / part.meta.model_script))
    out = tmp_path / "rebuilt.stl"
    namespace["write_stl"](namespace["build"](), out)
    rebuilt, shipped = check_file(out), check_file(catalog.resolve(ref).model_file)
    assert rebuilt.ok
    assert rebuilt.stats["volume_mm3"] == pytest.approx(shipped.stats["volume_mm3"], rel=1e-3)


def test_verify_command_passes_on_the_shipped_catalog(cli):
    out = cli("--catalog", SHIPPED, "catalog", "verify", "--json")
    doc = out.json()
    assert out.exit_code == 0, doc["errors"]
    assert doc["data"]["failed"] == 0 and doc["data"]["verified"] >= 6
