"""Catalog lifecycle with the real engines: new -> recipe -> validate -> revise -> retire, and the refusals.

G-code here is either hand-made (fast, checked by the real G-code checker) or sliced by the real
PrusaSlicer (tests marked ``slicer``). Keys are generated fresh in each test's temp folder.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from hospfab.catalog import Catalog
from hospfab.catalog.checks import RealChecks
from hospfab.catalog.signing import generate_key_pair
from hospfab.errors import CheckFailed, ConfigError, InputError, IntegrityError, NotFoundError, SafetyError

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"

HAND_GCODE = """; hand-made test G-code
M140 S80
M104 S240
M190 S80
M109 S240
G28
G90
M83
G1 Z0.2 F600
G1 X10 Y10 F3000
G1 X60 Y10 E2.5 F1200
G1 X60 Y40 E1.5
G1 X10 Y40 E2.5
G1 X10 Y10 E1.5
M104 S0
M140 S0
M84
; estimated printing time (normal mode) = 1m 5s
"""


def write_box(path: Path, size=(30.0, 20.0, 4.0)) -> Path:
    import trimesh

    trimesh.creation.box(size).export(path)
    return path


META = {
    "category": "test", "cleaning": "wipe", "intended_use": "Holds things in tests.", "intended_users": ["nurses"],
    "licence": "CC0-1.0", "contraindications": ["Do not autoclave"],
    "acceptance": {"surface_tolerance_mm": 0.3, "dimensions": [{"name": "length", "nominal_mm": 30,
                                                                  "tolerance_mm": 0.5}]},
    "sampling": {"lot_size": 50, "sample_size": 2, "method": "random draw"},
}


def pin(tmp_path: Path, public: Path, name: str = "A. Tester", roles=("biomedical engineer",), **kwargs) -> Path:
    """Pin ``public`` in the test site's trust store (``tmp_path/trust.yaml``)."""
    from hospfab.trust import TrustStore

    store = TrustStore.load(tmp_path / "trust.yaml")
    store.trust(public, name=name, roles=list(roles), **kwargs)
    return store.save()


def open_catalog(tmp_path: Path, root: Path | None = None) -> Catalog:
    """A fresh Catalog object on the test site's trust store and journal."""
    return Catalog(root or tmp_path / "catalog", checks=RealChecks(PROFILES), trust=tmp_path / "trust.yaml",
                   seen=tmp_path / "journal.sqlite3")


def make_env(tmp_path: Path):
    """A catalog, a site trust store pinning one key (private key outside the catalog), a box STL and a
    hand-made G-code."""
    root = tmp_path / "catalog"
    private, public, _ = generate_key_pair("tester", tmp_path / "private")
    pin(tmp_path, public)
    root.mkdir(parents=True)
    cat = open_catalog(tmp_path)
    stl = write_box(tmp_path / "box.stl")
    gcode = tmp_path / "hand.gcode"
    gcode.write_text(HAND_GCODE)
    return cat, private, stl, gcode


def validated(tmp_path: Path):
    cat, key, stl, gcode = make_env(tmp_path)
    cat.new("TEST-BOX", "Test box", stl, meta=META)
    cat.add_recipe("TEST-BOX@1", gcode, printer="prusa-mk4", material="petg", process="standard")
    rev = cat.validate("TEST-BOX@1", key_file=key)
    return cat, key, stl, gcode, rev


def test_new_creates_a_draft_with_mesh_report_and_preview(tmp_path):
    cat, _key, stl, _g = make_env(tmp_path)
    rev = cat.new("TEST-BOX", "Test box", stl, meta={"intended_users": ["nurses"], "cleaning": "wipe"})
    assert (rev.ref, rev.rev, rev.status) == ("TEST-BOX", 1, "draft")
    assert rev.meta.model.mesh_ok is True
    assert (rev.path / "mesh-check.json").is_file()
    assert rev.preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cat.get("TEST-BOX").meta.intended_users == ["nurses"]
    assert rev.meta.cleaning == "wipe"
    with pytest.raises(InputError, match="already exists"):
        cat.new("TEST-BOX", "again", stl)
    with pytest.raises(SafetyError, match="no validated revision"):
        cat.resolve("TEST-BOX")  # a draft is never what `print REF` gets


def test_new_refuses_bad_refs_and_missing_models(tmp_path):
    cat, _key, stl, _g = make_env(tmp_path)
    with pytest.raises(InputError, match="invalid reference"):
        cat.new("lower-case", "x", stl)
    with pytest.raises(InputError, match="not found"):
        cat.new("NOPE", "x", tmp_path / "missing.stl")
    with pytest.raises(ConfigError, match="unknown metadata keys: colour"):
        cat.new("NOPE", "x", stl, meta={"colour": "red"})
    assert not (cat.root / "NOPE").exists()
    assert not [p for p in cat.root.iterdir() if p.name.startswith(".")], "staging folder left behind"


def test_full_lifecycle_validate_revise_retire(tmp_path):
    cat, key, stl, gcode, rev = validated(tmp_path)
    assert rev.status == "validated" and rev.validation.signer == "A. Tester"
    assert rev.acceptance_criteria.surface_tolerance_mm == 0.3
    assert [(d.name, d.nominal_mm, d.tolerance_mm) for d in rev.acceptance_criteria.dimensions] == [("length", 30, 0.5)]
    assert cat.resolve("TEST-BOX").rev == 1
    recipe = rev.recipes[0]
    assert recipe.build_file.is_file() and recipe.build_file.is_absolute()
    assert recipe.estimates == {} and recipe.copies == 1
    assert cat.verify_revision(rev)["ok"] is True

    # a validated revision cannot be edited
    with pytest.raises(SafetyError, match="immutable"):
        cat.add_recipe("TEST-BOX@1", gcode, printer="prusa-mk3s", material="petg", process="standard")
    with pytest.raises(SafetyError, match="immutable"):
        cat.validate("TEST-BOX@1", key_file=key)

    bigger = write_box(tmp_path / "bigger.stl", (40.0, 20.0, 4.0))
    rev2 = cat.revise("TEST-BOX", "Longer box", bigger)
    assert (rev2.rev, rev2.status, rev2.meta.supersedes, rev2.recipes) == (2, "draft", 1, [])
    assert rev2.meta.cleaning == "wipe", "instructions carry over to the new revision"
    assert cat.resolve("TEST-BOX").rev == 1, "the draft does not replace the validated revision"
    cat.add_recipe("TEST-BOX@2", gcode, printer="prusa-mk4", material="petg", process="standard")
    cat.validate("TEST-BOX@2", key_file=key)
    assert cat.resolve("TEST-BOX").rev == 2

    diff = cat.diff("TEST-BOX@1", "TEST-BOX@2")
    assert diff["same_model"] is False
    assert {"field": "changelog", "a": "First revision.", "b": "Longer box"} in diff["fields"]
    assert {"file": "model.stl", "change": "changed"} in diff["files"]

    retired = cat.retire("TEST-BOX@2", "recalled", key_file=key)
    assert retired.status == "retired" and retired.retirement.reason == "recalled"
    assert retired.retirement.signer == "A. Tester" and retired.retirement.meaning == "retired"
    assert cat.resolve("TEST-BOX").rev == 1, "a retired revision is never resolved by default"
    assert cat.verify_revision(cat.resolve("TEST-BOX@2"))["ok"], "retiring does not break the lock"
    with pytest.raises(InputError, match="already retired"):
        cat.retire("TEST-BOX@2", "again", key_file=key)
    assert [p.summary()["latest_validated"] for p in cat.list()] == [1]


def test_validate_refusals(tmp_path):
    cat, key, stl, gcode = make_env(tmp_path)
    cat.new("TEST-BOX", "Test box", stl, meta=META)
    with pytest.raises(CheckFailed, match="no recipe"):
        cat.validate("TEST-BOX@1", key_file=key)

    # G-code that leaves the bed of the printer fails the real G-code check
    outside = tmp_path / "outside.gcode"
    outside.write_text(HAND_GCODE.replace("G1 X60 Y40 E1.5", "G1 X400 Y40 E1.5"))
    cat.add_recipe("TEST-BOX@1", outside, printer="prusa-mini", material="petg", process="standard")
    with pytest.raises(CheckFailed, match="G-code check fails"):
        cat.validate("TEST-BOX@1", key_file=key)
    cat.add_recipe("TEST-BOX@1", gcode, printer="prusa-mini", material="petg", process="standard")

    # a key that the site does not trust (exit 4, fingerprint named)
    stranger, _pub, stranger_id = generate_key_pair("stranger", tmp_path / "other")
    with pytest.raises(SafetyError, match=f"key {stranger_id} is not trusted"):
        cat.validate("TEST-BOX@1", key_file=stranger)
    # a private key kept inside the catalog
    inside = cat.root / "oops.key"
    shutil.copyfile(key, inside)
    with pytest.raises(SafetyError, match="inside the catalog"):
        cat.validate("TEST-BOX@1", key_file=inside)
    inside.unlink()
    # a build file edited after it was recorded
    build = cat.revision("TEST-BOX", 1).recipes[0].build_file
    build.write_text(build.read_text() + "G1 X20\n")
    with pytest.raises(CheckFailed, match="sha256 differs"):
        cat.validate("TEST-BOX@1", key_file=key)
    assert cat.revision("TEST-BOX", 1).status == "draft"


def test_validate_refuses_a_failing_mesh(tmp_path):
    import numpy as np
    import trimesh

    cat, key, _stl, gcode = make_env(tmp_path)
    box = trimesh.creation.box((20, 20, 5))
    open_box = trimesh.Trimesh(box.vertices, np.asarray(box.faces)[:-1], process=False)  # one facet missing
    broken = tmp_path / "open.stl"
    open_box.export(broken)
    rev = cat.new("OPEN-BOX", "Open box", broken, meta=META)
    assert rev.meta.model.mesh_ok is False
    cat.add_recipe("OPEN-BOX@1", gcode, printer="prusa-mk4", material="petg", process="standard")
    with pytest.raises(CheckFailed, match="mesh check fails"):
        cat.validate("OPEN-BOX@1", key_file=key)
    with pytest.raises(CheckFailed, match="mesh check failed"):
        cat.build("OPEN-BOX@1", "prusa-mk4", "petg", "standard")


def test_resolve_specs(tmp_path):
    cat, *_ = validated(tmp_path)
    assert cat.resolve("TEST-BOX@1").spec == "TEST-BOX@1"
    for bad in ("TEST-BOX@0", "TEST-BOX@x", "test-box", "A@1@2", "", "TEST-BOX@" + "9" * 5000, "TEST-BOX@١",
                "TEST-BOX@1234567"):
        with pytest.raises(InputError):
            cat.resolve(bad)
    with pytest.raises(NotFoundError, match="no such revision"):
        cat.resolve("TEST-BOX@7")
    with pytest.raises(NotFoundError, match="not found"):
        cat.resolve("OTHER")


def test_key_pair_files_and_refusals(tmp_path):
    private, public, key_id = generate_key_pair("alice", tmp_path / "keys")
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE" in private.read_bytes() and b"PUBLIC" in public.read_bytes()
    assert len(key_id) == 16
    with pytest.raises(InputError, match="already exists"):
        generate_key_pair("alice", tmp_path / "keys")
    with pytest.raises(SafetyError, match="never be written inside the catalog"):
        generate_key_pair("bob", tmp_path / "cat" / "keys", catalog_root=tmp_path / "cat")


@pytest.mark.slicer
def test_build_slices_into_the_draft_with_the_real_slicer(tmp_path):
    cat, key, stl, _g = make_env(tmp_path)
    cat.new("TEST-BOX", "Test box", stl, meta=META)
    rev = cat.build("TEST-BOX@1", "prusa-mk4", "petg", "draft", copies=2)
    recipe = rev.recipe_for("prusa-mk4", "petg")
    assert recipe.copies == 2 and recipe.layers and recipe.layers > 5
    assert recipe.estimates["print_time_s"] > 0
    assert recipe.slicer.startswith("PrusaSlicer")
    assert rev.meta.recipes[0].gcode_check_ok is True
    assert stat.S_IMODE(os.stat(recipe.build_file).st_mode) == 0o644
    done = cat.validate("TEST-BOX@1", key_file=key, inspection="fits")
    assert cat.verify_revision(done)["files"] == 5
