"""Every tamper vector of the catalog's trust model, with real files and real Ed25519 signatures.

Each test fails if its check is removed: the site trust store (rogue key, forged name, revocation, expiry),
the signed part metadata, signed retirements and the signed index (removed retirement, replayed index), the
approval policy (pending), and `catalog verify` exits 4 on each.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from hospfab.catalog.signing import generate_key_pair
from hospfab.errors import InputError, IntegrityError, SafetyError
from hospfab.trust import TrustStore

from test_catalog_lifecycle import open_catalog, pin, validated


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("trust-template")
    _cat, key, *_ = validated(base)
    return base, key


@pytest.fixture
def site(template, tmp_path):
    """A copy of the validated catalog and of its site's trust store; a fresh journal."""
    base, key = template
    shutil.copytree(base / "catalog", tmp_path / "catalog")
    shutil.copy(base / "trust.yaml", tmp_path / "trust.yaml")
    return tmp_path, key


def refused(tmp_path: Path, cli, needle: str, spec: str = "TEST-BOX@1") -> str:
    """verify_revision raises IntegrityError with ``needle``; `catalog verify` exits 4 naming it too."""
    cat = open_catalog(tmp_path)
    with pytest.raises(IntegrityError) as info:
        cat.verify_revision(cat.resolve(spec))
    assert needle in info.value.message, info.value.message
    out = cli("--catalog", tmp_path / "catalog", "catalog", "verify", "--json",
              env={"HOSPFAB_TRUST_STORE": str(tmp_path / "trust.yaml"), "HOSPFAB_HOME": str(tmp_path / "home")})
    assert out.exit_code == 4, out.stdout
    assert any(needle in e["message"] for e in out.json()["errors"]), out.json()["errors"]
    return info.value.message


def test_untouched_catalog_verifies_through_the_cli(site, cli):
    tmp_path, _key = site
    out = cli("--catalog", tmp_path / "catalog", "catalog", "verify", "--json",
              env={"HOSPFAB_TRUST_STORE": str(tmp_path / "trust.yaml"), "HOSPFAB_HOME": str(tmp_path / "home")})
    assert out.exit_code == 0, out.stdout
    [outcome] = out.json()["data"]["revisions"]
    assert outcome["signers"][0]["name"] == "A. Tester" and outcome["index_version"] == 1


def forge(tmp_path: Path, private: Path, *, signer: str = "A. Tester") -> None:
    """What an attacker with write access to the catalog does: edit the G-code and its sha, rebuild the
    manifest, re-sign the record and the index with their own key, claiming the real validator's name."""
    from hospfab.catalog import index as ix
    from hospfab.catalog import manifest as mf
    from hospfab.catalog.files import load_model, sha256_file, write_yaml
    from hospfab.catalog.model import SignatureRecord
    from hospfab.catalog.signing import fingerprint, load_private_key, sign

    key = load_private_key(private)
    key_id = fingerprint(key.public_key())
    rev = tmp_path / "catalog" / "TEST-BOX" / "rev-1"
    gcode = rev / "build" / "prusa-mk4_petg_standard.gcode"
    old_sha = sha256_file(gcode)
    gcode.write_text(gcode.read_text().replace("M104 S240", "M104 S290"))
    text = (rev / "revision.yaml").read_text()
    (rev / "revision.yaml").write_text(text.replace(old_sha, sha256_file(gcode)))
    manifest = json.loads((rev / "manifest.json").read_text())
    manifest_sha = mf.write_manifest(rev, "TEST-BOX", 1, manifest["part"])
    [old] = (rev / "signatures").iterdir()
    record = load_model(old, SignatureRecord)
    record = record.model_copy(update={"key_id": key_id, "signer": signer, "manifest_sha256": manifest_sha})
    record = record.model_copy(update={"signature": sign(key, record.signed_payload())})
    old.unlink()
    write_yaml(rev / "signatures" / f"{key_id}.yaml", record)
    previous = ix.load(tmp_path / "catalog")
    ix.write(tmp_path / "catalog", previous,
             {"TEST-BOX@1": ix.entry_for("validated", manifest_sha, [key_id])}, key, key_id)


def test_rogue_key_dropped_into_the_catalog_is_not_trusted(site, cli):
    tmp_path, _key = site
    rogue, public, rogue_id = generate_key_pair("demo-validator", tmp_path / "rogue")
    (tmp_path / "catalog" / "keys").mkdir()
    shutil.copy(public, tmp_path / "catalog" / "keys" / "demo-validator.pub")  # trusted by the OLD format
    forge(tmp_path, rogue)
    message = refused(tmp_path, cli, f"key {rogue_id} is not trusted at this site")
    assert "index.json" in message  # the forged index is the first thing refused


def test_signer_name_forged_by_another_trusted_key(site, cli):
    """A trusted colleague cannot sign in someone else's name: the name comes from the trust store."""
    tmp_path, _key = site
    other, public, _ = generate_key_pair("colleague", tmp_path / "colleague")
    pin(tmp_path, public, name="B. Colleague", roles=["technician"])
    forge(tmp_path, other, signer="A. Tester")
    refused(tmp_path, cli, "signed as 'A. Tester' but key")


def test_renaming_a_signer_in_the_trust_store_is_refused_and_says_why(site, cli):
    """The name is part of what was signed: a renamed trust-store entry no longer matches it. Refused (the site
    cannot tell a rename from a key signing in another name), with a message that names both causes."""
    tmp_path, _key = site
    store = tmp_path / "trust.yaml"
    assert "name: A. Tester" in store.read_text()
    store.write_text(store.read_text().replace("name: A. Tester", "name: Dr A. Tester"))
    message = refused(tmp_path, cli, "signed as 'A. Tester' but key")
    assert "'Dr A. Tester'" in message and "name was changed" in message


def test_signer_name_edited_in_the_record(site, cli):
    tmp_path, _key = site
    [path] = (tmp_path / "catalog" / "TEST-BOX" / "rev-1" / "signatures").iterdir()
    path.write_text(path.read_text().replace("signer: A. Tester", "signer: Chief Engineer"))
    refused(tmp_path, cli, "signature does not match")


@pytest.mark.parametrize("field,edit", [
    ("contraindications", lambda d: d.update(contraindications=[])),
    ("intended_use", lambda d: d.update(intended_use="Anything at all.")),
    ("title", lambda d: d.update(title="Sterile box")),
])
def test_part_yaml_safety_field_edited(site, cli, field, edit):
    tmp_path, _key = site
    part = tmp_path / "catalog" / "TEST-BOX" / "part.yaml"
    data = yaml.safe_load(part.read_text())
    edit(data)
    part.write_text(yaml.safe_dump(data))
    message = refused(tmp_path, cli, f"{field} changed since TEST-BOX@1 was signed")
    assert "part.yaml" in message


def test_retirement_is_signed_and_cannot_be_removed(site, cli):
    tmp_path, key = site
    cat = open_catalog(tmp_path)
    retired = cat.retire("TEST-BOX@1", "cracks at the hinge", key_file=key)
    assert retired.retirement.signer == "A. Tester"
    outcome = cat.verify_revision(retired)
    assert outcome["ok"] and outcome["retired_by"] == {
        "key_id": retired.retirement.key_id, "name": "A. Tester", "roles": ["biomedical engineer"]}
    (retired.path / "retirement.yaml").unlink()
    refused(tmp_path, cli, "the retirement was removed (rolled back)")


def test_retirement_record_forged(site, cli):
    tmp_path, key = site
    cat = open_catalog(tmp_path)
    retired = cat.retire("TEST-BOX@1", "cracks", key_file=key)
    path = retired.path / "retirement.yaml"
    path.write_text(path.read_text().replace("reason: cracks", "reason: typo"))
    refused(tmp_path, cli, "retirement.yaml: signature does not match")
    path.write_text(path.read_text().replace("reason: typo", "reason: cracks").replace("meaning: retired",
                                                                                       "meaning: validated"))
    with pytest.raises(IntegrityError) as info:
        open_catalog(tmp_path).verify_revision(open_catalog(tmp_path).resolve("TEST-BOX@1"))
    assert info.value.message == f"{path}: not a retirement record"


def test_older_signed_index_replayed(site, cli):
    tmp_path, key = site
    catalog = tmp_path / "catalog"
    old_index = (catalog / "index.json").read_bytes()
    cat = open_catalog(tmp_path)
    cat.retire("TEST-BOX@1", "recalled", key_file=key)  # index version 2, seen by this site
    assert open_catalog(tmp_path).verify()[0]["ok"]
    # the attacker restores the whole catalog as it was before the retirement: files and index agree
    (catalog / "TEST-BOX" / "rev-1" / "retirement.yaml").unlink()
    (catalog / "index.json").write_bytes(old_index)
    cat = open_catalog(tmp_path)
    with pytest.raises(IntegrityError, match="index version 1 is older than version 2 already seen"):
        cat.verify_revision(cat.resolve("TEST-BOX@1"))
    outcomes = cat.verify()
    assert [o["code"] for o in outcomes] == ["rolled_back"] and outcomes[0]["exit_code"] == 4


def test_index_removed_after_it_was_seen(site):
    tmp_path, _key = site
    assert open_catalog(tmp_path).verify()[0]["ok"]
    (tmp_path / "catalog" / "index.json").unlink()
    cat = open_catalog(tmp_path)
    with pytest.raises(IntegrityError, match="index.json: missing, but version 1 was seen"):
        cat.verify_revision(cat.resolve("TEST-BOX@1"))


def test_index_edited(site, cli):
    tmp_path, _key = site
    path = tmp_path / "catalog" / "index.json"
    doc = json.loads(path.read_text())
    doc["signed"]["version"] = 99
    path.write_text(json.dumps(doc))
    refused(tmp_path, cli, "signature does not match (index altered or forged)")


def test_revoked_key(site, cli):
    tmp_path, key = site
    store = TrustStore.load(tmp_path / "trust.yaml")
    [entry] = store.entries
    store.revoke(entry.key_id, reason="laptop stolen")
    store.save()
    refused(tmp_path, cli, f"key {entry.key_id} (A. Tester) was revoked")
    with pytest.raises(SafetyError, match="never trusted again"):
        TrustStore.load(tmp_path / "trust.yaml").trust(key.with_suffix(".pub"), name="A. Tester", roles=["x"])


def test_expired_key(site, cli):
    tmp_path, key = site
    store = TrustStore.load(tmp_path / "trust.yaml")
    store.data.keys[0].expires = datetime.now(timezone.utc) - timedelta(days=1)
    store.save()
    refused(tmp_path, cli, "expired on")
    # and a key that is expired at signing time cannot sign (exit 4, fingerprint named)
    cat = open_catalog(tmp_path)
    with pytest.raises(SafetyError, match=f"key {store.entries[0].key_id} .*expired"):
        cat.retire("TEST-BOX@1", "x", key_file=key)


def test_two_signer_policy_pending_then_cosigned(site, cli):
    tmp_path, key = site
    store = TrustStore.load(tmp_path / "trust.yaml")
    store.set_policy(signatures=2, roles=["biomedical engineer", "quality manager"])
    store.save()
    cat = open_catalog(tmp_path)
    revision = cat.resolve("TEST-BOX@1")
    assert revision.status == "pending" and "1 of 2 signature(s)" in revision.pending[0]
    with pytest.raises(SafetyError, match="has no validated revision"):
        cat.resolve("TEST-BOX")
    from hospfab.printing.send import resolve_for_print

    with pytest.raises(SafetyError, match="pending approval") as info:
        resolve_for_print(cat, "TEST-BOX@1", allow_draft=False)
    assert info.value.exit_code == 4
    # the same person cannot co-sign; a colleague without the missing role does not complete the policy
    with pytest.raises(InputError, match="already signed by A. Tester"):
        cat.sign("TEST-BOX@1", key_file=key)
    tech, tech_pub, _ = generate_key_pair("tech", tmp_path / "tech")
    pin(tmp_path, tech_pub, name="T. Tech", roles=["technician", "printer operator"])
    open_catalog(tmp_path).sign("TEST-BOX@1", key_file=tech)
    assert open_catalog(tmp_path).resolve("TEST-BOX@1").status == "pending"
    qa, qa_pub, _ = generate_key_pair("qa", tmp_path / "qa")
    pin(tmp_path, qa_pub, name="Q. Manager", roles=["quality manager"])
    signed = open_catalog(tmp_path).sign("TEST-BOX@1", key_file=qa, comment="four eyes")
    assert signed.status == "validated"
    assert signed.signatures[0].signer == "A. Tester" and signed.signatures[0].meaning == "validated"
    assert sorted(s.signer for s in signed.signatures[1:]) == ["Q. Manager", "T. Tech"]
    outcome = open_catalog(tmp_path).verify_revision(signed)
    entries = [e if e.endswith(")") else e + ")" for e in outcome["signed_by"].split("), ")]
    assert entries[0] == "A. Tester (biomedical engineer)" and outcome["pending"] == []
    assert sorted(entries[1:]) == ["Q. Manager (quality manager)", "T. Tech (technician, printer operator)"]
    # the validation signature removed, the co-signatures kept: refused before the index is even read
    validation = signed.path / "signatures" / f"{signed.signatures[0].key_id}.yaml"
    kept = validation.read_bytes()
    validation.unlink()
    with pytest.raises(IntegrityError) as info:
        open_catalog(tmp_path).verify_revision(open_catalog(tmp_path).resolve("TEST-BOX@1"))
    assert info.value.message == f"{signed.path / 'signatures'}: co-signatures without a validation"
    validation.write_bytes(kept)
    env = {"HOSPFAB_TRUST_STORE": str(tmp_path / "trust.yaml"), "HOSPFAB_HOME": str(tmp_path / "home")}
    shown = cli("--catalog", tmp_path / "catalog", "catalog", "show", "TEST-BOX", env=env)
    assert "approved by Q. Manager (quality manager)" in shown.stdout
    assert cli("--catalog", tmp_path / "catalog", "catalog", "verify", env=env).exit_code == 0
    # removing a co-signature is caught by the index
    (signed.path / "signatures" / f"{open_catalog(tmp_path).trust.entries[-1].key_id}.yaml").unlink()
    refused(tmp_path, cli, "removed since the signed index")


def test_retired_refusal_names_the_current_revision_first(site):
    tmp_path, key = site
    cat = open_catalog(tmp_path)
    revised = cat.revise("TEST-BOX", "Second revision")
    gcode = cat.resolve("TEST-BOX@1").recipes[0].build_file
    cat.add_recipe(revised.spec, gcode, printer="prusa-mk4", material="petg", process="standard")
    cat.validate(revised.spec, key_file=key)
    cat.retire("TEST-BOX@1", "hooks too narrow", key_file=key)
    from hospfab.printing.send import resolve_for_print

    with pytest.raises(SafetyError) as info:
        resolve_for_print(open_catalog(tmp_path), "TEST-BOX@1", allow_draft=False)
    message = info.value.message
    assert message.index("print TEST-BOX@2 instead") < message.index("--allow-draft")
    assert "hooks too narrow" in message


def test_untrusted_key_cannot_sign_and_is_named(site):
    tmp_path, _key = site
    stranger, _pub, stranger_id = generate_key_pair("stranger", tmp_path / "stranger")
    cat = open_catalog(tmp_path)
    with pytest.raises(SafetyError, match=f"key {stranger_id} is not trusted") as info:
        cat.retire("TEST-BOX@1", "x", key_file=stranger)
    assert info.value.exit_code == 4
