"""The revision manifest and the signed catalog index, pinned at their boundaries: each test fails when one
comparison, field or branch of ``hospfab.catalog.manifest`` or ``hospfab.catalog.index`` is changed (found by
mutation testing, ``make mutation``). Fast: real files and real Ed25519 keys, no catalog, no slicing."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hospfab.catalog import index as ix
from hospfab.catalog import manifest as mf
from hospfab.catalog import signing
from hospfab.errors import IntegrityError
from hospfab.trust import TrustStore


def revision(folder: Path) -> Path:
    (folder / "build").mkdir(parents=True)
    (folder / "model.stl").write_bytes(b"solid x\nendsolid x\n")
    (folder / "build" / "a.gcode").write_text("G28\n")
    for name in mf.UNLISTED:
        (folder / name).write_text("unlisted\n")
    (folder / "signatures").mkdir()
    (folder / "signatures" / "k.yaml").write_text("sig\n")
    return folder


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_scan_lists_files_not_records(tmp_path):
    folder = revision(tmp_path / "rev-1")
    assert mf.scan(folder) == {"build/a.gcode": sha(b"G28\n"), "model.stl": sha(b"solid x\nendsolid x\n")}
    (folder / "build" / "signatures").mkdir()
    (folder / "build" / "signatures" / "x").write_text("listed: only the top-level signatures/ is unlisted")
    assert "build/signatures/x" in mf.scan(folder)


def test_scan_refuses_links_and_fifos(tmp_path):
    folder = revision(tmp_path / "rev-1")
    (folder / "link.stl").symlink_to(folder / "model.stl")
    with pytest.raises(IntegrityError, match="link.stl: symbolic link refused in a catalog revision"):
        mf.scan(folder)
    (folder / "link.stl").unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(IntegrityError, match="pipe: not a regular file"):
        mf.scan(folder)


def test_write_and_load_manifest(tmp_path):
    folder = revision(tmp_path / "rev-1")
    digest = mf.write_manifest(folder, "PART", 3, {"title": "T"})
    raw = (folder / mf.MANIFEST_NAME).read_bytes()
    assert digest == sha(raw) and raw == mf.manifest_bytes(json.loads(raw))
    assert stat.S_IMODE((folder / mf.MANIFEST_NAME).stat().st_mode) == 0o644
    manifest, loaded_sha = mf.load_manifest(folder)
    assert loaded_sha == digest
    assert manifest == {"format": 2, "ref": "PART", "rev": 3, "algorithm": "sha256", "files": mf.scan(folder),
                        "part": {"title": "T"}}
    assert mf.build_manifest(folder, "P", 1)["part"] == {}
    assert mf.manifest_bytes({"b": "é", "a": 1}) == b'{\n  "a": 1,\n  "b": "\xc3\xa9"\n}\n'


@pytest.mark.parametrize("content, needle", [
    (None, "missing; a validated revision must carry its manifest"),
    (b"\xff\xfe", "corrupt manifest (not UTF-8)"),
    (b"[]", "corrupt manifest ('files' is not a mapping"),
    (b'{"files": []}', "corrupt manifest ('files' is not a mapping"),
    (b'{"files": {"a": 1}}', "corrupt manifest ('files' is not a mapping"),
    (b'{"files": {"a": "x", "b": 2}}', "corrupt manifest ('files' is not a mapping"),
])
def test_load_manifest_refusals(tmp_path, content, needle):
    if content is not None:
        (tmp_path / mf.MANIFEST_NAME).write_bytes(content)
    with pytest.raises(IntegrityError) as info:
        mf.load_manifest(tmp_path)
    assert needle in info.value.message and mf.MANIFEST_NAME in info.value.message


def test_load_manifest_unreadable_or_broken_is_an_integrity_error_naming_it(tmp_path):
    os.mkfifo(tmp_path / mf.MANIFEST_NAME)
    with pytest.raises(IntegrityError) as info:
        mf.load_manifest(tmp_path)
    assert info.value.message == f"{tmp_path / mf.MANIFEST_NAME}: the manifest is not a regular file (a FIFO)"
    (tmp_path / mf.MANIFEST_NAME).unlink()
    (tmp_path / mf.MANIFEST_NAME).write_text("{nope")
    with pytest.raises(IntegrityError) as info:
        mf.load_manifest(tmp_path)
    assert info.value.message.startswith(f"{tmp_path / mf.MANIFEST_NAME}: broken JSON")


def test_load_manifest_accepts_an_empty_mapping(tmp_path):
    (tmp_path / mf.MANIFEST_NAME).write_bytes(b'{"files": {}}')
    assert mf.load_manifest(tmp_path)[0] == {"files": {}}


def test_compare_names_each_change(tmp_path):
    folder = revision(tmp_path / "rev-1")
    mf.write_manifest(folder, "P", 1)
    manifest, _ = mf.load_manifest(folder)
    assert mf.compare(folder, manifest).ok
    (folder / "model.stl").write_bytes(b"changed")
    (folder / "build" / "a.gcode").unlink()
    (folder / "new.txt").write_text("x")
    (folder / "another.txt").write_text("x")
    diff = mf.compare(folder, manifest)
    assert (diff.changed, diff.added, diff.removed) == (["model.stl"], ["another.txt", "new.txt"], ["build/a.gcode"])
    assert not diff.ok
    assert diff.describe(Path("F")) == ("F/model.stl: changed since validation (sha256 mismatch); "
                                        "F/another.txt: added after validation; F/new.txt: added after validation; "
                                        "F/build/a.gcode: removed after validation")
    for only in (mf.ManifestDiff(changed=["a"]), mf.ManifestDiff(added=["a"]), mf.ManifestDiff(removed=["a"])):
        assert not only.ok
    assert mf.ManifestDiff().ok and mf.ManifestDiff().describe(Path("F")) == ""


# -- the signed index ----------------------------------------------------------------------------------

@pytest.fixture
def signer(tmp_path):
    private, public, key_id = signing.generate_key_pair("idx", tmp_path / "keys")
    store = TrustStore(tmp_path / "trust.yaml")
    store.trust(public, name="I. Ndex", roles=["engineer"])
    return signing.load_private_key(private), key_id, store


AT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)
ENTRY = ix.entry_for("validated", "m" * 64, ["k2", "k1", "k1"])


def test_entry_for_sorts_and_dedupes_signers():
    assert ix.entry_for("validated", "m" * 64, ["k2", "k1", "k1"]) == {"status": "validated", "manifest_sha256": "m" * 64, "signers": ["k1", "k2"]}


def test_write_then_load_then_verify(tmp_path, signer):
    key, key_id, store = signer
    root = tmp_path / "catalog"
    root.mkdir()
    assert ix.load(root) is None
    first = ix.write(root, None, {"B@1": ENTRY, "A@1": ENTRY, "ÉCRAN@1": ENTRY}, key, key_id, now=AT)
    assert first.version == 1 and len(first.catalog_id) == 32 and first.key_id == key_id
    assert first.signed["at"] == "2026-12-01T09:30:15Z" and first.signed["format"] == 2
    assert list(first.revisions) == ["A@1", "B@1", "ÉCRAN@1"]
    raw = (root / ix.INDEX_NAME).read_bytes()
    # written for review: indented, keys sorted, UTF-8 (not \u escapes), one final newline
    assert raw == (json.dumps(json.loads(raw), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    assert raw.startswith(b'{\n  "key_id": ') and "ÉCRAN@1".encode() in raw
    assert first.path == root / ix.INDEX_NAME
    assert first.sha256 == sha(raw) and stat.S_IMODE((root / ix.INDEX_NAME).stat().st_mode) == 0o644
    loaded = ix.load(root)
    assert (loaded.signed, loaded.key_id, loaded.signature, loaded.sha256) == (
        first.signed, key_id, first.signature, first.sha256)
    assert loaded.label() == f"{root / ix.INDEX_NAME} v1" and loaded.path == root / ix.INDEX_NAME
    assert ix.verify_signature(loaded, store).key_id == key_id
    (root / ix.INDEX_NAME).chmod(0o600)  # a catalog is shared read-only: the index is always 0644 again
    second = ix.write(root, loaded, {"A@1": ix.entry_for("retired", "m" * 64, ["k1"])}, key, key_id)
    assert stat.S_IMODE((root / ix.INDEX_NAME).stat().st_mode) == 0o644
    assert second.version == 2 and second.catalog_id == first.catalog_id
    assert second.revisions["A@1"]["status"] == "retired" and second.revisions["B@1"] == ENTRY
    assert abs(datetime.fromisoformat(second.signed["at"].replace("Z", "+00:00"))
               - datetime.now(timezone.utc)).total_seconds() < 300
    assert ix.verify_signature(ix.load(root), store).name == "I. Ndex"
    assert first.revisions["A@1"]["status"] == "validated"  # the previous index object is not changed


def test_verify_signature_refuses_an_edited_index(tmp_path, signer):
    key, key_id, store = signer
    ix.write(tmp_path, None, {"A@1": ENTRY}, key, key_id, now=AT)
    doc = json.loads((tmp_path / ix.INDEX_NAME).read_text())
    doc["signed"]["version"] = 5
    (tmp_path / ix.INDEX_NAME).write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        ix.verify_signature(ix.load(tmp_path), store)
    assert info.value.message == f"{tmp_path / ix.INDEX_NAME}: signature does not match (index altered or forged)"
    doc["key_id"] = "0" * 16
    (tmp_path / ix.INDEX_NAME).write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        ix.verify_signature(ix.load(tmp_path), store)
    assert info.value.message.startswith(f"{tmp_path / ix.INDEX_NAME}: key {'0' * 16} is not trusted")


def test_payload_is_prefixed_canonical_json():
    assert ix._payload({"b": 1, "a": "é"}) == b'hospfab-index-v2\n{"a":"\xc3\xa9","b":1}'


GOOD = {"format": 2, "catalog_id": "c", "version": 1, "at": "x", "revisions": {"A@1": {}}}


@pytest.mark.parametrize("doc", [
    [], {"signed": GOOD}, {"signed": GOOD, "key_id": 1, "signature": "s"},
    {"signed": GOOD, "key_id": "k", "signature": None}, {"signed": [], "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"format": 1}, "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"version": 0}, "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"version": "1"}, "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"catalog_id": 3}, "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"revisions": []}, "key_id": "k", "signature": "s"},
    {"signed": GOOD | {"revisions": {"A@1": "validated"}}, "key_id": "k", "signature": "s"},
])
def test_load_refuses_a_malformed_index(tmp_path, doc):
    (tmp_path / ix.INDEX_NAME).write_text(json.dumps(doc))
    with pytest.raises(IntegrityError) as info:
        ix.load(tmp_path)
    assert info.value.message == f"{tmp_path / ix.INDEX_NAME}: corrupt catalog index (not a format-2 signed index)"


def test_load_accepts_the_minimal_index_and_refuses_unreadable_ones(tmp_path):
    (tmp_path / ix.INDEX_NAME).write_text(json.dumps({"signed": GOOD, "key_id": "k", "signature": "s"}))
    assert ix.load(tmp_path).version == 1 and ix.load(tmp_path).catalog_id == "c"
    path = tmp_path / ix.INDEX_NAME
    path.write_bytes(b"\xff")
    with pytest.raises(IntegrityError) as info:
        ix.load(tmp_path)
    assert info.value.message == f"{path}: corrupt catalog index (not UTF-8)"
    path.write_text("{nope")
    with pytest.raises(IntegrityError) as info:
        ix.load(tmp_path)
    assert info.value.message.startswith(f"{path}: broken JSON")
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(IntegrityError) as info:
        ix.load(tmp_path)
    assert info.value.message == f"{path}: the catalog index is not a regular file (a FIFO)"


def an_index(revisions: dict) -> ix.Index:
    return ix.Index(Path("cat/index.json"), {"version": 4, "catalog_id": "c", "revisions": revisions}, "k", "s", "h")


@pytest.mark.parametrize("listed, on_disk, message", [
    (None, ENTRY, "A@1: signed but not listed in the catalog's signed index (cat/index.json v4): refused"),
    (ENTRY, None, "A@1: the signed index (cat/index.json v4) lists it as validated but its signatures are gone"),
    (ix.entry_for("retired", "m" * 64, ["k1"]), ix.entry_for("validated", "m" * 64, ["k1"]),
     "A@1: the signed index (cat/index.json v4) says retired but retirement.yaml is missing"),
    (ix.entry_for("validated", "m" * 64, ["k1"]), ix.entry_for("retired", "m" * 64, ["k1"]),
     "A@1: retired on disk but validated in the signed index (cat/index.json v4)"),
    (ENTRY, ix.entry_for("validated", "n" * 64, ["k1", "k2"]),
     "A@1: manifest.json differs from the one in the signed index (cat/index.json v4)"),
    (ENTRY, ix.entry_for("validated", "m" * 64, ["k1"]),
     "A@1: signature(s) by k2 removed since the signed index (cat/index.json v4): rolled back"),
    (ix.entry_for("validated", "m" * 64, ["k1", "k2", "k3"]), ix.entry_for("validated", "m" * 64, ["k2"]),
     "A@1: signature(s) by k1, k3 removed since the signed index"),
    (ENTRY, ix.entry_for("validated", "m" * 64, ["k1", "k2", "k3", "k0"]),
     "A@1: signature(s) by k0, k3 not in the signed index (cat/index.json v4)"),
])
def test_compare_refuses_each_difference(listed, on_disk, message):
    index = an_index({"A@1": listed} if listed else {})
    with pytest.raises(IntegrityError) as info:
        ix.compare(index, "A@1", on_disk)
    assert info.value.message.startswith(message), info.value.message


def test_compare_accepts_the_same_state():
    ix.compare(an_index({"A@1": ENTRY}), "A@1", dict(ENTRY))
    ix.compare(an_index({}), "A@1", None)
    retired = ix.entry_for("retired", "m" * 64, ["k1"])
    ix.compare(an_index({"A@1": retired}), "A@1", dict(retired))
    ix.compare(an_index({"A@1": {"status": "validated", "manifest_sha256": None}}), "A@1",
               {"status": "validated", "manifest_sha256": None, "signers": []})
