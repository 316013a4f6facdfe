"""One signed record checked against the site's trust store (``hospfab.catalog.verify.check_record``) and the
revision's signed state as the index sees it, pinned at their boundaries: each refusal names the file and what
is wrong (found by mutation testing, ``make mutation``). Fast: real Ed25519 keys and a real trust store, no
catalog, no slicing. Whole catalogs: tests/test_catalog_integrity.py and tests/test_catalog_trust.py."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from hospfab.catalog import signing
from hospfab.catalog import verify as vf
from hospfab.catalog.model import STATEMENTS, RetirementRecord, SignatureRecord
from hospfab.errors import IntegrityError
from hospfab.trust import store as ts

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SHA = "ab" * 32


@pytest.fixture
def site(tmp_path):
    private, public, key_id = signing.generate_key_pair("tester", tmp_path / "keys")
    store = ts.TrustStore(tmp_path / "trust.yaml")
    store.trust(public, name="A. Tester", roles=["engineer"])
    revision = SimpleNamespace(ref="KNOB", rev=1, path=tmp_path / "KNOB" / "rev-1", signatures=[],
                               retirement=None)
    return SimpleNamespace(catalog=SimpleNamespace(trust=store), revision=revision, key_id=key_id,
                           private=signing.load_private_key(private),
                           where=revision.path / "signatures" / f"{key_id}.yaml")


def record(site, cls=SignatureRecord, **changes):
    fields = dict(ref="KNOB", rev=1, meaning="validated", statement=STATEMENTS["validated"], key_id=site.key_id,
                  signer="A. Tester", roles=["engineer"], at=T0, manifest_sha256=SHA)
    fields.update(changes)
    unsigned = cls(**fields)
    return unsigned.model_copy(update={"signature": signing.sign(site.private, unsigned.signed_payload())})


def check(site, rec, sha=SHA):
    return vf.check_record(site.catalog, site.revision, rec, site.where, sha)


def refusal(site, rec, sha=SHA) -> str:
    with pytest.raises(IntegrityError) as caught:
        check(site, rec, sha)
    return caught.value.message


def test_a_good_record_gives_its_trusted_signer(site):
    signer = check(site, record(site))
    assert (signer.key_id, signer.name, signer.roles) == (site.key_id, "A. Tester", ("engineer",))


@pytest.mark.parametrize("ref, rev", [("KNOB", 2), ("EAR-SAVER", 1)])
def test_a_record_for_another_revision_is_refused(site, ref, rev):
    assert refusal(site, record(site, ref=ref, rev=rev)) == (
        f"{site.where}: signed for another revision ({ref}@{rev})")


def test_a_key_the_site_does_not_trust_is_named_with_the_file(site, tmp_path):
    site.catalog.trust = ts.TrustStore(tmp_path / "empty.yaml")
    with pytest.raises(ts.UntrustedKey) as caught:
        check(site, record(site))
    assert caught.value.message.startswith(f"{site.where}: key {site.key_id} is not trusted at this site")


def test_an_altered_record_is_refused(site):
    altered = record(site).model_copy(update={"roles": ["engineer", "director"]})
    assert refusal(site, altered) == f"{site.where}: signature does not match (record altered or forged)"


def test_a_forged_signer_name_is_refused(site):
    assert refusal(site, record(site, signer="Mallory")) == (
        f"{site.where}: signed as 'Mallory' but key {site.key_id} belongs to 'A. Tester' in this site's trust "
        "store: either the key's holder signed in another name or the trust store's name was changed since; "
        "refused either way (restore the name, or have the record signed again)")


def test_a_statement_that_is_not_its_meanings_is_refused(site):
    assert refusal(site, record(site, statement=STATEMENTS["approved"])) == (
        f"{site.where}: the statement does not match the meaning 'validated'")
    assert check(site, record(site, meaning="approved", statement=STATEMENTS["approved"])).name == "A. Tester"


def test_a_record_over_another_manifest_is_refused(site):
    assert refusal(site, record(site), sha="cd" * 32) == (
        f"{site.revision.path / 'manifest.json'}: changed since it was signed in {site.where}")
    assert refusal(site, record(site), sha=None).endswith(f"changed since it was signed in {site.where}")


def test_the_signed_state_of_a_revision(site):
    rev = site.revision
    assert vf._disk_state(rev, SHA) is None  # nothing signed: a draft
    rev.signatures = [record(site), record(site, key_id="0" * 16)]
    assert vf._disk_state(rev, SHA) == {"status": "validated", "manifest_sha256": SHA,
                                        "signers": sorted(["0" * 16, site.key_id])}
    rev.retirement = record(site, RetirementRecord, meaning="retired", statement=STATEMENTS["retired"],
                            reason="recall")
    assert vf._disk_state(rev, SHA)["status"] == "retired"
    rev.signatures = []
    assert vf._disk_state(rev, SHA) == {"status": "retired", "manifest_sha256": SHA, "signers": []}
    rev.retirement = {"old": "format"}  # an old-format retirement without signatures is not signed state
    assert vf._disk_state(rev, SHA) is None


def test_a_signed_revision_needs_a_signed_index(site, tmp_path):
    site.catalog.root = tmp_path / "catalog"
    site.revision.spec = "KNOB@1"
    vf._check_index(site.catalog, site.revision, None, SHA)  # unsigned and no index: nothing to compare
    site.revision.signatures = [record(site)]
    with pytest.raises(IntegrityError) as caught:
        vf._check_index(site.catalog, site.revision, None, SHA)
    assert caught.value.message == (
        f"KNOB@1: signed, but the catalog has no signed index ({tmp_path / 'catalog' / 'index.json'}): refused")


def test_the_old_format_refusal_says_how_to_resign():
    err = vf.old_format_error(SimpleNamespace(spec="KNOB@3"))
    assert err.code == "old_format" and err.message == (
        "KNOB@3 is signed in the old catalog format (keys trusted from the catalog folder, part metadata "
        "unsigned): re-sign it with a key this site trusts: `hospfab catalog resign KNOB@3 --key KEY`")


def test_a_failure_is_an_integrity_refusal_in_the_report():
    assert vf._failure("KNOB", 2, "validated", IntegrityError("x", code="old_format")) == {
        "ref": "KNOB", "rev": 2, "status": "validated", "ok": False, "error": "x", "code": "old_format",
        "exit_code": 4}
    from hospfab.errors import ConfigError

    assert vf._failure("KNOB", None, "unreadable", ConfigError("bad yaml"))["code"] == "integrity_failed"


def test_the_part_snapshot_is_all_of_part_yaml_but_its_format():
    from hospfab.catalog.model import PartMeta, Replaces

    part = PartMeta(ref="KNOB", title="Knob", intended_users=["nurses"],
                    replaces=Replaces(equipment="Pump X200", oem_part_number="K-1"))
    assert vf.part_snapshot(part) == {
        "ref": "KNOB", "title": "Knob", "category": "general", "intended_use": "", "intended_users": ["nurses"],
        "limitations": [], "contraindications": [], "source": "", "licence": "", "model_script": None,
        "replaces": {"equipment": "Pump X200", "oem_part_number": "K-1", "manufacturer": None}}


# -- verify_catalog: one outcome per revision, and the index's revisions missing from disk -------------------

class Index:
    def __init__(self, revisions):
        self.revisions = revisions

    def label(self):
        return "catalog/index.json v7"


def a_catalog(parts):
    """``parts``: {ref: [revisions] or an error}; the catalog's refs() and get()."""
    def get(name):
        found = parts[name]
        if isinstance(found, Exception):
            raise found
        return SimpleNamespace(revisions=found)

    return SimpleNamespace(refs=lambda: sorted(parts), get=get)


def rev(ref, n, status="validated"):
    return SimpleNamespace(ref=ref, rev=n, status=status, spec=f"{ref}@{n}")


@pytest.fixture
def stubbed(monkeypatch):
    """verify_revision and trusted_index replaced: only verify_catalog's own bookkeeping is under test."""
    calls = []
    index = Index({"KNOB@1": {"status": "validated"}, "KNOB@2": {"status": "retired"},
                   "GONE@1": {"status": "validated"}, "MASK@4": {"status": "validated"}})

    def verify_revision(catalog, revision, *, unsigned_ok=False, index=None):
        calls.append((revision.spec, unsigned_ok, index))
        if revision.status == "tampered":
            raise IntegrityError(f"{revision.spec}: model.stl changed", code="file_changed")
        return {"ref": revision.ref, "rev": revision.rev, "ok": True}

    monkeypatch.setattr(vf, "verify_revision", verify_revision)
    monkeypatch.setattr(vf, "trusted_index", lambda catalog: index)
    return SimpleNamespace(calls=calls, index=index)


def test_every_revision_is_verified_and_every_missing_one_reported(stubbed):
    from hospfab.errors import ConfigError

    catalog = a_catalog({"KNOB": [rev("KNOB", 1), rev("KNOB", 2, "tampered")],
                         "MASK": ConfigError("MASK/part.yaml: bad YAML"), "ZED": [rev("ZED", 1)]})
    outcomes = vf.verify_catalog(catalog)
    assert outcomes == [
        {"ref": "KNOB", "rev": 1, "ok": True},
        {"ref": "KNOB", "rev": 2, "status": "tampered", "ok": False, "error": "KNOB@2: model.stl changed",
         "code": "file_changed", "exit_code": 4},
        {"ref": "MASK", "rev": None, "status": "unreadable", "ok": False, "error": "MASK/part.yaml: bad YAML",
         "code": "integrity_failed", "exit_code": 4},
        {"ref": "ZED", "rev": 1, "ok": True},  # the parts after an unreadable one are still verified
        # an unreadable part's listed revisions are not "missing": its error says why
        {"ref": "GONE", "rev": "1", "status": "missing", "ok": False, "code": "integrity_failed", "exit_code": 4,
         "error": "GONE@1: listed as validated in the signed index (catalog/index.json v7) but missing from the "
                  "catalog: removed"},
    ]
    assert stubbed.calls == [("KNOB@1", True, stubbed.index), ("KNOB@2", True, stubbed.index),
                             ("ZED@1", True, stubbed.index)]


def test_one_reference_only(stubbed):
    catalog = a_catalog({"KNOB": [rev("KNOB", 1)], "GONE": [rev("GONE", 1)]})
    outcomes = vf.verify_catalog(catalog, "KNOB")
    assert outcomes == [
        {"ref": "KNOB", "rev": 1, "ok": True},
        {"ref": "KNOB", "rev": "2", "status": "missing", "ok": False, "code": "integrity_failed", "exit_code": 4,
         "error": "KNOB@2: listed as retired in the signed index (catalog/index.json v7) but missing from the "
                  "catalog: removed"}]


def test_without_an_index_nothing_is_missing(stubbed, monkeypatch):
    monkeypatch.setattr(vf, "trusted_index", lambda catalog: None)
    from hospfab.errors import ConfigError

    catalog = a_catalog({"KNOB": [rev("KNOB", 1)], "MASK": ConfigError("bad YAML")})
    assert [o["ok"] for o in vf.verify_catalog(catalog)] == [True, False]
    assert stubbed.calls == [("KNOB@1", True, None)]


def test_an_untrusted_index_is_one_refusal(monkeypatch):
    def refused(catalog):
        raise IntegrityError("catalog/index.json: signature does not match", code="index_forged")

    monkeypatch.setattr(vf, "trusted_index", refused)
    expected = {"rev": None, "status": "refused", "ok": False, "error": "catalog/index.json: signature does not "
                "match", "code": "index_forged", "exit_code": 4}
    assert vf.verify_catalog(a_catalog({})) == [{"ref": "index.json", **expected}]
    assert vf.verify_catalog(a_catalog({}), "KNOB") == [{"ref": "KNOB", **expected}]


# -- verify_revision: what is refused before any file is read ------------------------------------------------

def unsigned(status="draft", **changes):
    fields = dict(ref="KNOB", rev=1, status=status, spec="KNOB@1", legacy=None, retirement=None, signatures=[])
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_an_unsigned_draft_verifies_only_for_an_override(tmp_path):
    catalog = SimpleNamespace(root=tmp_path / "catalog")
    assert vf.verify_revision(catalog, unsigned(), unsigned_ok=True, index=None) == {
        "ref": "KNOB", "rev": 1, "status": "draft", "ok": True, "skipped": "not signed"}
    for status in ("draft", "validated"):  # revision.yaml saying "validated" is not a signature
        with pytest.raises(IntegrityError) as caught:
            vf.verify_revision(catalog, unsigned(status), index=None)
        assert caught.value.code == "not_validated" and caught.value.message == (
            f"KNOB@1 is {status}, not validated: nothing signed to verify")


def test_a_retirement_without_signatures_is_never_skipped(site, tmp_path):
    retirement = record(site, RetirementRecord, meaning="retired", statement=STATEMENTS["retired"],
                        manifest_sha256=None, reason="recall")
    index = Index({"KNOB@1": {"status": "retired", "manifest_sha256": None, "signers": []}})
    with pytest.raises(IntegrityError, match="KNOB@1 is retired, not validated: nothing signed to verify"):
        vf.verify_revision(SimpleNamespace(root=tmp_path), unsigned("retired", retirement=retirement),
                           unsigned_ok=True, index=index)


def test_an_unsigned_revision_the_index_lists_as_signed_is_rolled_back(tmp_path):
    index = Index({"KNOB@1": {"status": "validated", "manifest_sha256": SHA, "signers": ["k"]}})
    with pytest.raises(IntegrityError, match="KNOB@1: the signed index .* lists it as validated but its "
                                             "signatures are gone: rolled back"):
        vf.verify_revision(SimpleNamespace(root=tmp_path), unsigned(), unsigned_ok=True, index=index)


@pytest.mark.parametrize("changes", [{"legacy": {"signed_by": "catalog key"}}, {"retirement": {"old": 1}},
                                     {"legacy": {"x": 1}, "retirement": {"old": 1}}])
def test_an_old_format_revision_is_refused_first(tmp_path, changes):
    with pytest.raises(IntegrityError) as caught:
        vf.verify_revision(SimpleNamespace(root=tmp_path), unsigned(**changes), unsigned_ok=True, index=None)
    assert caught.value.code == "old_format" and caught.value.message.startswith(
        "KNOB@1 is signed in the old catalog format")


def test_the_index_is_loaded_and_trusted_unless_given(tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(vf, "trusted_index", lambda catalog: loaded.append(catalog) or None)
    catalog = SimpleNamespace(root=tmp_path)
    vf.verify_revision(catalog, unsigned(), unsigned_ok=True)
    assert loaded == [catalog]
    vf.verify_revision(catalog, unsigned(), unsigned_ok=True, index=None)
    assert loaded == [catalog]


def test_a_retirement_without_any_signed_index_is_refused(site, tmp_path):
    retirement = record(site, RetirementRecord, meaning="retired", statement=STATEMENTS["retired"],
                        manifest_sha256=None, reason="recall")
    with pytest.raises(IntegrityError) as caught:
        vf.verify_revision(SimpleNamespace(root=tmp_path / "catalog"), unsigned("retired", retirement=retirement),
                           unsigned_ok=True, index=None)
    assert caught.value.message == (
        f"KNOB@1: signed, but the catalog has no signed index ({tmp_path / 'catalog' / 'index.json'}): refused")


# -- trusted_index: the "seen" record is kept per catalog folder ---------------------------------------------

def a_folder_catalog(site, root, seen):
    """The parts of a Catalog that trusted_index reads: its folder, the site's trust store and journal."""
    root.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(root=root, trust=site.catalog.trust, seen_path=seen)


def sign_index(site, root, previous=None, revisions=None):
    from hospfab.catalog import index as ix

    return ix.write(root, previous, revisions or {}, site.private, site.key_id)


def test_two_catalogs_at_one_site_each_keep_their_own_index_version(site, tmp_path):
    import shutil

    seen = tmp_path / "journal.db"
    wards, lab = (a_folder_catalog(site, tmp_path / name, seen) for name in ("wards", "lab"))
    # two catalogs (two catalog ids) signed by the same trusted key, in two folders of one site
    first = sign_index(site, wards.root)
    shutil.copyfile(wards.root / "index.json", tmp_path / "wards-v1.json")
    second = sign_index(site, wards.root, first, {"KNOB@1": {"status": "validated"}})
    sign_index(site, lab.root)
    assert vf.trusted_index(wards).version == 2
    assert (vf.trusted_index(lab).version, vf.trusted_index(lab).catalog_id) == (1, ix_id(lab))
    assert vf.trusted_index(wards).sha256 == second.sha256  # the lab's index did not take the wards' place
    # a third folder with no index at all: nothing was ever seen there
    assert vf.trusted_index(a_folder_catalog(site, tmp_path / "new", seen)) is None
    # each refuses a replay of its own older index, and the removal of its own index
    shutil.copyfile(tmp_path / "wards-v1.json", wards.root / "index.json")
    with pytest.raises(IntegrityError) as caught:
        vf.trusted_index(wards)
    assert caught.value.code == "rolled_back" and "catalog index version 1 is older than version 2" in (
        caught.value.message)
    (lab.root / "index.json").unlink()
    with pytest.raises(IntegrityError) as caught:
        vf.trusted_index(lab)
    assert caught.value.code == "rolled_back" and caught.value.message.startswith(
        f"{lab.root / 'index.json'}: missing, but version 1 was seen at this site on ")


def ix_id(catalog):
    from hospfab.catalog import index as ix

    return ix.load(catalog.root).catalog_id


def test_a_folder_is_known_by_its_real_path(site, tmp_path):
    seen = tmp_path / "journal.db"
    catalog = a_folder_catalog(site, tmp_path / "catalog", seen)
    sign_index(site, catalog.root)
    assert vf.trusted_index(catalog).version == 1
    # the same folder reached through another spelling of its path is the same folder: removing its index is seen
    (catalog.root / "index.json").unlink()
    (tmp_path / "sub").mkdir()
    again = SimpleNamespace(root=tmp_path / "sub" / ".." / "catalog", trust=catalog.trust, seen_path=seen)
    with pytest.raises(IntegrityError, match="missing, but version 1 was seen at this site"):
        vf.trusted_index(again)


# -- verify_revision on a crafted signed revision: the checks behind the signed manifest (defence in depth) -----

@pytest.fixture
def signed(site, tmp_path):
    """One revision folder with a real manifest signed by the site's trusted key, outside any catalog: the
    revision's parsed metadata can then disagree with its (signed) files, which a real catalog cannot show."""
    from hospfab.catalog import manifest as mf
    from hospfab.catalog.model import PartMeta

    part_dir = tmp_path / "catalog" / "KNOB"
    folder = part_dir / "rev-1"
    (folder / "build").mkdir(parents=True)
    (folder / "model.stl").write_bytes(b"solid knob\nendsolid knob\n")
    (folder / "build" / "knob.gcode").write_bytes(b"G28\n")
    (part_dir / "part.yaml").write_text("ref: KNOB\ntitle: Knob\nintended_use: pump knob\n")
    snapshot = vf.part_snapshot(PartMeta(ref="KNOB", title="Knob", intended_use="pump knob"))
    gcode_sha = mf.scan(folder)["build/knob.gcode"]

    def sign_manifest(part=snapshot):
        sha = mf.write_manifest(folder, "KNOB", 1, part)
        site.revision.signatures = [record(site, manifest_sha256=sha)]
        site.index.revisions = {"KNOB@1": {"status": "validated", "manifest_sha256": sha,
                                           "signers": [site.key_id]}}
        return sha

    site.catalog.root = tmp_path / "catalog"
    site.catalog.part_dir = lambda ref: tmp_path / "catalog" / ref
    site.index = SimpleNamespace(version=3, revisions={}, label=lambda: "catalog/index.json v3")
    rev = site.revision
    rev.spec, rev.status, rev.legacy, rev.path = "KNOB@1", "validated", None, folder
    rev.meta = SimpleNamespace(status="validated")
    rev.recipes = [SimpleNamespace(build_file=folder / "build" / "knob.gcode", sha256=gcode_sha)]
    site.sign_manifest, site.folder, site.snapshot = sign_manifest, folder, snapshot
    return site


def verified(site):
    return vf.verify_revision(site.catalog, site.revision, index=site.index)


def refused(site) -> str:
    with pytest.raises(IntegrityError) as caught:
        verified(site)
    return caught.value.message


def test_a_crafted_signed_revision_verifies(signed):
    signed.sign_manifest()
    outcome = verified(signed)
    assert outcome == {"ref": "KNOB", "rev": 1, "status": "validated", "ok": True, "files": 2,
                       "signers": [outcome["signers"][0]], "signed_by": "A. Tester (engineer)",
                       "key_id": signed.key_id, "pending": [], "index_version": 3}
    assert outcome["signers"][0]["key_id"] == signed.key_id


@pytest.mark.parametrize("status", ["draft", "approved", "retired"])
def test_a_signed_revision_whose_status_is_not_validated_is_refused(signed, status):
    signed.sign_manifest()
    signed.revision.meta.status = status
    assert refused(signed) == f"{signed.folder / 'revision.yaml'}: status is {status!r} in a signed revision"


def test_a_build_file_whose_recipe_hash_differs_from_the_manifest_is_refused(signed):
    signed.sign_manifest()
    good = signed.revision.recipes[0]
    signed.revision.recipes = [good, SimpleNamespace(build_file=good.build_file, sha256="00" * 32)]
    assert refused(signed) == f"{good.build_file}: sha256 differs from its recipe in revision.yaml"
    # a recipe naming a build file the manifest does not list
    signed.revision.recipes = [SimpleNamespace(build_file=signed.folder / "build" / "other.gcode",
                                               sha256=good.sha256)]
    assert refused(signed) == (
        f"{signed.folder / 'build' / 'other.gcode'}: sha256 differs from its recipe in revision.yaml")


def test_a_part_field_only_in_the_signed_snapshot_is_a_change(signed):
    signed.sign_manifest({**signed.snapshot, "sterile": True})  # signed when part.yaml still had the field
    assert refused(signed) == (
        f"{signed.folder.parent / 'part.yaml'}: sterile changed since KNOB@1 was signed")


def test_a_part_field_missing_from_the_signed_snapshot_is_a_change(signed):
    snapshot = dict(signed.snapshot)
    del snapshot["licence"], snapshot["intended_use"]  # signed before part.yaml had these fields
    signed.sign_manifest(snapshot)
    with pytest.raises(IntegrityError) as caught:
        verified(signed)
    assert caught.value.message == (
        f"{signed.folder.parent / 'part.yaml'}: intended_use, licence changed since KNOB@1 was signed")
    assert caught.value.details == {"fields": ["intended_use", "licence"]}
