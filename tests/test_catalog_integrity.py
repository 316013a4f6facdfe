"""Tampering, untrusted keys, path traversal and broken YAML: every one must be caught and named."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from hospfab.catalog import Catalog
from hospfab.catalog.signing import generate_key_pair
from hospfab.errors import ConfigError, IntegrityError, SafetyError

from test_catalog_lifecycle import open_catalog, validated


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One validated revision, copied afresh for each test (validation itself is tested elsewhere)."""
    base = tmp_path_factory.mktemp("template")
    cat, key, *_ = validated(base)
    return base, key


@pytest.fixture
def env(template, tmp_path):
    """A copy of the validated catalog and of its site (trust store); a fresh journal (nothing seen yet)."""
    base, key = template
    shutil.copytree(base / "catalog", tmp_path / "catalog", symlinks=True)
    shutil.copy(base / "trust.yaml", tmp_path / "trust.yaml")
    cat = open_catalog(tmp_path)
    return cat, cat.resolve("TEST-BOX@1"), key


def assert_fails(cat: Catalog, needle: str) -> str:
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(cat.resolve("TEST-BOX@1"))
    assert needle in info.value.message
    outcomes = cat.verify()
    assert [o["ok"] for o in outcomes] == [False]
    return info.value.message


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_revision_verifies(env):
    cat, rev, _key = env
    outcome = cat.verify_revision(rev)
    assert outcome["ok"] and outcome["signed_by"] == "A. Tester (biomedical engineer)"
    assert [o["ok"] for o in cat.verify()] == [True]


@pytest.mark.parametrize("name", ["model.stl", "preview.png", "mesh-check.json",
                                  "build/prusa-mk4_petg_standard.gcode"])
def test_one_byte_changed_in_any_locked_file_is_named(env, name):
    cat, rev, _key = env
    flip_last_byte(rev.path / name)
    message = assert_fails(cat, name)
    assert "changed since validation" in message


def test_revision_yaml_edited(env):
    cat, rev, _key = env
    path = rev.path / "revision.yaml"
    path.write_text(path.read_text().replace("copies: 1", "copies: 9"))
    assert_fails(cat, "revision.yaml: changed since validation")


def test_file_added_and_file_removed(env):
    cat, rev, _key = env
    (rev.path / "build" / "extra.gcode").write_text("G28\n")
    assert_fails(cat, "build/extra.gcode: added after validation")
    (rev.path / "build" / "extra.gcode").unlink()
    (rev.path / "preview.png").unlink()
    assert_fails(cat, "preview.png: removed after validation")


def test_manifest_rewritten_to_match_tampered_files(env):
    """An attacker who edits a file and regenerates the manifest is caught by the signature chain."""
    from hospfab.catalog.manifest import write_manifest

    cat, rev, _key = env
    flip_last_byte(rev.path / "model.stl")
    write_manifest(rev.path, "TEST-BOX", 1)
    assert_fails(cat, "manifest.json: changed since it was signed")


def test_signature_record_edited(env):
    cat, rev, _key = env
    [path] = (rev.path / "signatures").iterdir()
    original = path.read_text()
    path.write_text(original.replace("inspection: ''", "inspection: all fine"))
    assert_fails(cat, "signature does not match")
    path.write_text(original.replace("signature: ", "signature: AAAA"))
    assert_fails(cat, "signature does not match")


def test_symlink_inside_a_revision_is_refused(env, tmp_path):
    cat, rev, _key = env
    outside = tmp_path / "elsewhere.gcode"
    outside.write_text("G28\n")
    os.symlink(outside, rev.path / "build" / "link.gcode")
    with pytest.raises(SafetyError, match="symbolic link refused") as info:  # refused as soon as it is read
        cat.resolve("TEST-BOX@1")
    assert info.value.exit_code == 4
    assert [(o["ok"], o["exit_code"]) for o in cat.verify()] == [(False, 4)]


@pytest.mark.parametrize("bad_path", ["../../../etc/passwd", "/etc/passwd", "build/../../other/model.stl"])
def test_revision_yaml_pointing_outside_is_refused(env, bad_path):
    cat, rev, _key = env
    path = rev.path / "revision.yaml"
    path.write_text(path.read_text().replace("file: model.stl", f"file: {bad_path}"))
    with pytest.raises(SafetyError) as info:
        cat.resolve("TEST-BOX@1")
    assert "revision.yaml" in info.value.message and info.value.exit_code == 4


def test_part_yaml_pointing_outside_or_through_a_link_is_refused(env, tmp_path):
    cat, _rev, _key = env
    part = cat.root / "TEST-BOX" / "part.yaml"
    part.write_text(part.read_text() + "model_script: ../../secret.py\n")
    with pytest.raises(SafetyError, match=r"part.yaml: path '../../secret.py' leaves"):
        cat.get("TEST-BOX")
    (tmp_path / "real.py").write_text("print(1)\n")
    os.symlink(tmp_path / "real.py", cat.root / "TEST-BOX" / "link.py")
    part.write_text(part.read_text().replace("../../secret.py", "link.py"))
    with pytest.raises(SafetyError, match="symbolic link"):
        cat.get("TEST-BOX")


def test_broken_yaml_gives_a_clear_message(env):
    cat, rev, _key = env
    part = cat.root / "TEST-BOX" / "part.yaml"
    part.write_text("ref: TEST-BOX\ntitle: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        cat.get("TEST-BOX")
    assert str(part) in info.value.message and "line" in info.value.message and "broken YAML" in info.value.message
    part.write_text("ref: TEST-BOX\ntitle: Box\ncolour: red\n")
    with pytest.raises(ConfigError, match=r"part.yaml: unknown key 'colour' \(known keys: .*title"):
        cat.get("TEST-BOX")
    part.write_text("ref: TEST-BOX\ntitle: Box\n")
    (rev.path / "revision.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="revision.yaml: expected a mapping"):
        cat.resolve("TEST-BOX@1")
    # one broken reference does not hide the others in `verify`: it is reported as unreadable
    outcomes = cat.verify()
    assert outcomes[0]["ok"] is False and outcomes[0]["status"] == "unreadable"


def test_the_verified_outcome_says_who_signed_what(env):
    import json

    cat, rev, _key = env
    outcome = cat.verify_revision(rev)
    [signature] = rev.signatures
    files = json.loads((rev.path / "manifest.json").read_text())["files"]
    assert outcome == {
        "ref": "TEST-BOX", "rev": 1, "status": "validated", "ok": True, "files": len(files),
        "signers": [{"key_id": signature.key_id, "name": "A. Tester", "roles": ["biomedical engineer"]}],
        "signed_by": "A. Tester (biomedical engineer)", "key_id": signature.key_id, "pending": [],
        "index_version": outcome["index_version"]}
    assert outcome["index_version"] >= 1 and len(files) >= 4


def test_a_changed_file_is_listed_in_the_details(env):
    cat, rev, _key = env
    flip_last_byte(rev.path / "model.stl")
    (rev.path / "notes.txt").write_text("added\n")
    (rev.path / "preview.png").unlink()
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.details == {"changed": ["model.stl"], "added": ["notes.txt"], "removed": ["preview.png"]}


def edit_manifest(revision, **fields):
    """Overwrite top-level fields of ``revision``'s manifest.json (its signature no longer matches); its path."""
    import json

    path = revision.path / "manifest.json"
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


def test_a_manifest_made_for_another_revision_is_refused(env):
    cat, rev, _key = env
    path = edit_manifest(rev, rev=2)
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.message == f"{path}: made for another revision"


def test_a_retirement_among_the_signatures_is_refused(env):
    cat, rev, _key = env
    [path] = (rev.path / "signatures").iterdir()
    path.write_text(path.read_text().replace("meaning: validated", "meaning: retired"))
    rev = cat.resolve("TEST-BOX@1")
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.message == f"{path}: a retirement belongs in retirement.yaml"


def test_part_metadata_changed_after_signing_names_the_fields(env):
    cat, rev, _key = env
    part = cat.root / "TEST-BOX" / "part.yaml"
    text = part.read_text()
    assert "title: Test box" in text and "licence: CC0-1.0" in text
    part.write_text(text.replace("title: Test box", "title: Better box").replace("CC0-1.0", "MIT"))
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(cat.resolve("TEST-BOX@1"))
    assert info.value.message == f"{part}: licence, title changed since TEST-BOX@1 was signed"
    assert info.value.details == {"fields": ["licence", "title"]}


def test_an_index_removed_after_it_was_seen_is_a_rollback(env):
    cat, rev, _key = env
    cat.verify_revision(rev)  # this site has now seen the signed index
    (cat.root / "index.json").unlink()
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.code == "rolled_back"
    assert re.fullmatch(rf"{re.escape(str(cat.root / 'index.json'))}: missing, but version \d+ was seen at this "
                        r"site on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00: rolled back or removed", info.value.message)


def test_exact_refusals_of_the_signed_path(env):
    cat, rev, _key = env
    [signature] = (rev.path / "signatures").iterdir()
    original = signature.read_text()
    signature.write_text(original.replace("inspection: ''", "inspection: all fine"))
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(cat.resolve("TEST-BOX@1"))
    assert info.value.message == f"{signature}: signature does not match (record altered or forged)"
    signature.write_text(original)
    edit_manifest(rev, format=1)
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.code == "old_format" and info.value.message.startswith("TEST-BOX@1 is signed in the old")


def test_a_signed_revision_without_any_signed_index_is_refused(env):
    cat, rev, _key = env
    (cat.root / "index.json").unlink()  # this site never saw one: not a rollback, but signed without an index
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(rev)
    assert info.value.message == (
        f"TEST-BOX@1: signed, but the catalog has no signed index ({cat.root / 'index.json'}): refused")
