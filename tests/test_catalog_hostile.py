"""Hostile catalog inputs (exit 2 or 4 with one line, never 70, never a hang) and the old-format migration."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_catalog_lifecycle import HAND_GCODE, META, make_env, open_catalog, validated


def run(args, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """hospfab in a subprocess (a FIFO bug would hang: the timeout turns it into a failure)."""
    env = dict(os.environ, HOSPFAB_HOME=str(tmp_path / "home"), HOSPFAB_TRUST_STORE=str(tmp_path / "trust.yaml"),
               HOSPFAB_CATALOG=str(tmp_path / "catalog"))
    return subprocess.run([sys.executable, "-m", "hospfab", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def one_line(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture
def site(tmp_path):
    validated(tmp_path)
    return tmp_path


@pytest.mark.parametrize("spec", ["TEST-BOX@" + "9" * 5000, "TEST-BOX@\u0661", "TEST-BOX@1234567",
                                  "TEST-BOX" + "@" * 3000])
def test_absurd_revision_numbers(cli, site, spec):
    out = cli("--catalog", site / "catalog", "catalog", "show", spec)
    assert out.exit_code == 2 and out.stderr.count("\n") == 1 and len(out.stderr) < 300, out.stderr
    out = cli("print", spec)
    assert out.exit_code == 2 and out.stderr.count("\n") == 1, out.stderr


@pytest.mark.parametrize("content,needle", [
    ("[" * 5000 + "]" * 5000, "nested deeper than"),
    ('{"files": ', "broken JSON"),
    ('{"files": {"a": 1}}', "corrupt manifest"),
    ('{"format": 2, "files": {}, "n": 1' + "0" * 400 + "}", "digits"),
])
def test_corrupt_or_deeply_nested_manifest_exits_4(site, content, needle):
    (site / "catalog" / "TEST-BOX" / "rev-1" / "manifest.json").write_text(content)
    one_line(run(["catalog", "verify"], site), 4, needle)


def test_fifo_inside_a_revision_is_refused_without_hanging(site):
    os.mkfifo(site / "catalog" / "TEST-BOX" / "rev-1" / "build" / "extra.gcode")
    one_line(run(["catalog", "verify"], site), 4, "not a regular file")
    os.unlink(site / "catalog" / "TEST-BOX" / "rev-1" / "build" / "extra.gcode")
    manifest = site / "catalog" / "TEST-BOX" / "rev-1" / "manifest.json"
    manifest.unlink()
    os.mkfifo(manifest)
    one_line(run(["catalog", "verify"], site), 4, "not a regular file")


def test_fifo_in_a_keys_folder_is_refused_without_hanging(site):
    keys = site / "catalog" / "keys"
    keys.mkdir()
    os.mkfifo(keys / "evil.pub")
    one_line(run(["keys", "list"], site), 2, "not a regular file")
    one_line(run(["keys", "trust", keys / "evil.pub", "--name", "X", "--role", "Y"], site), 2, "not a regular file")
    os.mkfifo(site / "fifo.key")
    one_line(run(["catalog", "retire", "TEST-BOX@1", "--reason", "x", "--key", site / "fifo.key"], site), 2,
             "not a regular file")


def test_malformed_revision_yaml_under_verify_exits_4(site):
    (site / "catalog" / "TEST-BOX" / "rev-1" / "revision.yaml").write_text("ref: [unclosed\n")
    one_line(run(["catalog", "verify"], site), 4, "broken YAML")


def test_trust_store_fifo_or_broken(site):
    (site / "trust.yaml").unlink()
    os.mkfifo(site / "trust.yaml")
    one_line(run(["catalog", "verify"], site), 4, "trust store is not a regular file")
    one_line(run(["keys", "list"], site), 2, "trust store is not a regular file")


def _old_format(cat, key: Path, spec: str, retired: str | None = None) -> None:
    """Turn a draft into a revision signed in the OLD format (1): a files-only manifest, a validation.yaml
    naming its signer in free text, an unsigned retirement."""
    from hospfab.catalog.files import write_yaml
    from hospfab.catalog.manifest import manifest_bytes, scan
    from hospfab.catalog.model import LegacyRetirement, ValidationRecord
    from hospfab.catalog.signing import fingerprint, load_private_key, sign

    revision = cat.resolve(spec)
    path = revision.path / "revision.yaml"
    path.write_text(path.read_text().replace("status: draft", "status: validated"))
    manifest = {"format": 1, "ref": revision.ref, "rev": revision.rev, "algorithm": "sha256",
                "files": scan(revision.path)}
    (revision.path / "manifest.json").write_bytes(manifest_bytes(manifest))
    private = load_private_key(key)
    record = ValidationRecord(ref=revision.ref, rev=revision.rev, by="Old Validator", role="engineer",
                              at="2024-01-02T03:04:05Z", manifest_sha256=hashlib.sha256(
                                  manifest_bytes(manifest)).hexdigest(), key_id=fingerprint(private.public_key()))
    record = record.model_copy(update={"signature": sign(private, record.signed_payload())})
    write_yaml(revision.path / "validation.yaml", record)
    if retired:
        write_yaml(revision.path / "retirement.yaml",
                   LegacyRetirement(ref=revision.ref, rev=revision.rev, reason=retired, at="2024-02-01T00:00:00Z"))


def test_old_format_is_named_and_migrated_by_resign(tmp_path, cli):
    cat, key, stl, gcode = make_env(tmp_path)
    cat.new("OLD-BOX", "Old box", stl, meta=META)
    cat.add_recipe("OLD-BOX@1", gcode, printer="prusa-mk4", material="petg", process="standard")
    cat.revise("OLD-BOX", "second")
    cat.add_recipe("OLD-BOX@2", gcode, printer="prusa-mk4", material="petg", process="standard")
    _old_format(cat, key, "OLD-BOX@1", retired="superseded")
    _old_format(cat, key, "OLD-BOX@2")
    cat = open_catalog(tmp_path)
    verify = run(["catalog", "verify"], tmp_path)
    assert verify.returncode == 4 and "old catalog format" in verify.stderr and "catalog resign" in verify.stderr
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "fleet.yaml").write_text(yaml.safe_dump({"printers": [{
        "name": "p1", "url": "http://127.0.0.1:9", "api_key_env": "NO_SUCH_KEY", "profile": "prusa-mk4",
        "material": "petg"}]}))
    printed = run(["print", "OLD-BOX"], tmp_path)
    one_line(printed, 4, "OLD-BOX@2 is signed in the old catalog format")
    # a tampered old revision is not laundered by re-signing
    model = cat.resolve("OLD-BOX@2").model_file
    original = model.read_bytes()
    model.write_bytes(original + b"\0")
    with pytest.raises(Exception, match="changed since validation"):
        cat.resign(None, key_file=key)
    model.write_bytes(original)
    done = cat.resign(None, key_file=key)
    assert [(r.spec, r.status) for r in done] == [("OLD-BOX@1", "retired"), ("OLD-BOX@2", "validated")]
    migrated = open_catalog(tmp_path).resolve("OLD-BOX@2")
    assert migrated.signatures[0].migrated_from["by"] == "Old Validator"
    assert migrated.signatures[0].signer == "A. Tester"
    assert not (migrated.path / "validation.yaml").exists()
    assert open_catalog(tmp_path).resolve("OLD-BOX@1").retirement.signer == "A. Tester"
    assert run(["catalog", "verify"], tmp_path).returncode == 0


def test_resign_applies_the_gate(tmp_path):
    cat, key, stl, gcode = make_env(tmp_path)
    cat.new("OLD-VT", "Old with a test recipe", stl, meta={**META, "licence": ""})
    cat.add_recipe("OLD-VT@1", gcode, printer="virtual-test", material="pla", process="standard")
    _old_format(cat, key, "OLD-VT@1")
    from hospfab.errors import CheckFailed

    with pytest.raises(CheckFailed) as info:
        open_catalog(tmp_path).resign(["OLD-VT@1"], key_file=key)
    assert "virtual-test is test-only" in info.value.message and "licence is empty" in info.value.message


def test_validation_gate_lists_every_reason(tmp_path):
    from hospfab.errors import CheckFailed

    cat, key, stl, gcode = make_env(tmp_path)
    cat.new("BARE", "Bare", stl)
    cat.add_recipe("BARE@1", gcode, printer="virtual-test", material="pla", process="standard")
    cat.add_recipe("BARE@1", gcode, printer="prusa-mk4", material="petg", process="standard")
    (cat.resolve("BARE@1").path / "build" / "prusa-mk4_petg_standard.gcode").unlink()
    with pytest.raises(CheckFailed) as info:
        cat.validate("BARE@1", key_file=key)
    reasons = info.value.details["reasons"]
    for needle in ("intended_use is empty", "intended_users is empty", "licence is empty",
                   "acceptance criteria are empty", "no sampling plan", "virtual-test is test-only",
                   "build file missing"):
        assert any(needle in r for r in reasons), (needle, reasons)
    assert cat.resolve("BARE@1").status == "draft"
    assert cat.resolve("BARE@1").recipes[0].test_only is True


def test_meta_keys_are_documented(cli):
    from hospfab.catalog.lifecycle import PART_FIELDS, REVISION_FIELDS

    help_text = cli("catalog", "new", "--help").stdout
    readme = (Path(__file__).resolve().parents[1] / "catalog" / "README.md").read_text()
    for key in sorted(PART_FIELDS | REVISION_FIELDS) + ["surface_tolerance_mm", "nominal_mm", "tolerance_mm"]:
        assert key in help_text, key
        assert key in readme, key


def test_keys_new_encrypts_by_default_and_asks_the_passphrase(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HOSPFAB_KEY_PASSPHRASE", raising=False)
    out = cli("keys", "new", "alice", "--dir", tmp_path / "k", input="long enough pass\nlong enough pass\n")
    assert out.exit_code == 0, out.stderr
    pem = (tmp_path / "k" / "alice.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem and b"long enough" not in out.stdout.encode()
    cli("keys", "trust", tmp_path / "k" / "alice.pub", "--name", "Alice", "--role", "biomedical engineer")
    cat_dir = tmp_path / "catalog"
    cat, _key, stl, gcode = make_env(tmp_path / "env")
    cat.new("TEST-BOX", "Test box", stl, meta=META)
    cat.add_recipe("TEST-BOX@1", gcode, printer="prusa-mk4", material="petg", process="standard")
    cat_dir = cat.root
    bad = cli("--catalog", cat_dir, "catalog", "validate", "TEST-BOX@1", "--key", tmp_path / "k" / "alice.key",
              input="wrong passphrase\n")
    assert bad.exit_code == 2 and "wrong passphrase" in bad.stderr
    good = cli("--catalog", cat_dir, "catalog", "validate", "TEST-BOX@1", "--key", tmp_path / "k" / "alice.key",
               "--json", env={"HOSPFAB_KEY_PASSPHRASE": "long enough pass"})
    assert good.exit_code == 0, good.stderr
    assert good.json()["data"]["signatures"][0]["signer"] == "Alice"
    listed = cli("keys", "list", "--json").json()["data"]
    assert listed["keys"][0]["name"] == "Alice" and "public_key" not in listed["keys"][0]
    revoked = cli("keys", "revoke", listed["keys"][0]["key_id"], "--reason", "left")
    assert revoked.exit_code == 0
    assert cli("--catalog", cat_dir, "catalog", "verify").exit_code == 4
    unencrypted = cli("keys", "new", "bot", "--dir", tmp_path / "k", "--no-passphrase", "--json")
    assert unencrypted.json()["data"]["encrypted"] is False
    assert b"ENCRYPTED" not in (tmp_path / "k" / "bot.key").read_bytes()
    policy = cli("keys", "policy", "--signatures", "2", "--role", "quality manager", "--json").json()["data"]
    assert policy["policy"] == {"signatures": 2, "roles": ["quality manager"]}
    assert yaml.safe_load((Path(listed["trust_store"])).read_text())["policy"]["signatures"] == 2
    assert json.dumps(listed).count("BEGIN") == 0


@pytest.mark.parametrize("name", ["part.yaml", "rev-1/revision.yaml", "rev-1/manifest.json"])
def test_a_catalog_file_replaced_by_a_link_is_refused(site, name):
    """A link to an identical copy elsewhere is still refused: on another machine (or tomorrow) it points
    wherever its target's folder says, and a reviewer reading git sees only the link."""
    target = site / "catalog" / "TEST-BOX" / name
    outside = site / "outside" / target.name
    outside.parent.mkdir(exist_ok=True)
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    one_line(run(["catalog", "verify"], site), 4, "symbolic link refused")
    one_line(run(["catalog", "show", "TEST-BOX@1"], site), 4, "symbolic link refused")


def test_the_trust_store_option_is_the_one_every_command_reads(site):
    """`--trust-store` (before or after the command) beats HOSPFAB_TRUST_STORE for verify, show and print's
    resolution alike: the catalog is never read against a second, default trust store."""
    real = site / "trust.yaml"
    moved = site / "elsewhere" / "trust.yaml"
    moved.parent.mkdir()
    real.rename(moved)  # HOSPFAB_TRUST_STORE (set by run) now names a missing file: nothing is trusted there
    refused = run(["catalog", "verify"], site)
    assert refused.returncode == 4 and "not trusted" in refused.stderr
    assert run(["--trust-store", moved, "catalog", "verify"], site).returncode == 0
    shown = run(["catalog", "show", "TEST-BOX@1", "--json", "--trust-store", moved], site)
    assert shown.returncode == 0 and json.loads(shown.stdout)["data"]["revision"]["status"] == "validated"
    shown = run(["catalog", "show", "TEST-BOX@1", "--json"], site)
    assert json.loads(shown.stdout)["data"]["revision"]["status"] == "pending"  # no trusted signer there
