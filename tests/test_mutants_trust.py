"""The site trust store and the catalog's signing primitives, pinned at their boundaries: each test fails when
one comparison, bound or branch of ``hospfab.trust.store`` or ``hospfab.catalog.signing`` is changed
(found by mutation testing, ``make mutation``). Fast: no slicing, no catalog, real Ed25519 keys."""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import signal
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hospfab.catalog import signing
from hospfab.errors import ConfigError, InputError, NotFoundError, SafetyError
from hospfab.trust import store as ts

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def keypair(folder: Path, name: str = "alice") -> tuple[Path, Path, str]:
    return signing.generate_key_pair(name, folder / "keys")


def signer(key_id: str, *roles: str) -> ts.Signer:
    return ts.Signer(key_id, key_id, tuple(roles), None)


# -- the approval policy --------------------------------------------------------------------------------

def test_policy_needs_the_larger_of_signatures_and_roles():
    assert ts.Policy(signatures=3, roles=["a"]).needed == 3
    assert ts.Policy(signatures=1, roles=["a", "b"]).needed == 2
    assert ts.Policy().needed == 1 and ts.Policy().roles == []


def test_policy_counts_distinct_signers_at_the_boundary():
    policy = ts.Policy(signatures=2)
    assert policy.missing([signer("k1")]) == ["1 of 2 signature(s)"]
    assert policy.missing([signer("k1"), signer("k1")]) == ["1 of 2 signature(s)"]  # the same key twice
    assert policy.missing([signer("k1"), signer("k2")]) == []
    assert policy.missing([]) == ["0 of 2 signature(s)"]


def test_policy_roles_each_by_a_different_signer():
    policy = ts.Policy(signatures=2, roles=["engineer", "quality"])
    both = signer("k1", "engineer", "quality")
    assert policy.missing([both, signer("k2")]) == [
        "roles engineer, quality each by a different signer (signed as: engineer, quality)"]
    assert policy.missing([signer("k2", "quality"), signer("k1", "engineer")]) == []
    assert policy.missing([signer("k1", "quality"), signer("k2", "quality")])[0].startswith("roles ")
    assert policy.missing([signer("k1"), signer("k2")]) == [
        "roles engineer, quality each by a different signer (signed as: nobody)"]
    assert ts.Policy(signatures=1, roles=["engineer"]).missing([signer("k1", "engineer")]) == []


def test_roles_covered_needs_as_many_signers_as_roles():
    assert not ts._roles_covered(["a", "b"], [signer("k1", "a", "b")])
    assert ts._roles_covered(["a", "b"], [signer("k1", "b"), signer("k2", "a")])
    assert ts._roles_covered(["a"], [signer("k1", "a")])
    assert not ts._roles_covered(["a"], [signer("k1", "b")])


def _covered_by_trying_every_assignment(roles: list[str], signers: list[ts.Signer]) -> bool:
    """The reference: some choice of distinct signers, one per role, where each holds its role."""
    return any(all(role in s.roles for role, s in zip(roles, chosen))
               for chosen in itertools.permutations(signers, len(roles)))


def test_roles_covered_agrees_with_trying_every_assignment():
    """Every list of up to three roles (repeats: two signers with that role) against every group of up to four
    signers, each holding any set of the roles, in two orders."""
    holdings = [r for n in range(4) for r in itertools.combinations("abc", n)]
    cases = 0
    for roles in (list(p) for n in range(4) for p in itertools.product("abc", repeat=n)):
        for n in range(5):
            for held in itertools.combinations_with_replacement(holdings, n):
                signers = [signer(f"k{i}", *h) for i, h in enumerate(held)]
                expected = _covered_by_trying_every_assignment(roles, signers)
                assert ts._roles_covered(roles, signers) is expected, (roles, held)
                assert ts._roles_covered(roles, signers[::-1]) is expected, (roles, held[::-1])
                cases += 1
    assert cases == 40 * 495


def test_roles_covered_gives_a_role_back_to_make_room():
    """The first engineer also holds quality: quality goes to them and engineer to the second, whatever the
    order (a first-come assignment would leave quality uncovered)."""
    both, engineer = signer("k1", "engineer", "quality"), signer("k2", "engineer")
    for signers in ([both, engineer], [engineer, both]):
        assert ts._roles_covered(["engineer", "quality"], signers)
        assert ts._roles_covered(["quality", "engineer"], signers)
    assert not ts._roles_covered(["engineer", "quality", "engineer"], [both, engineer])
    chain = [signer("k1", "a", "b"), signer("k2", "b", "c"), signer("k3", "c", "d"), signer("k4", "d")]
    assert ts._roles_covered(["a", "b", "c", "d"], chain)
    assert ts._roles_covered(["d", "c", "b", "a"], chain)
    assert not ts._roles_covered(["a", "b", "c", "d"], chain[1:] + [signer("k5", "b")])


@contextlib.contextmanager
def within(seconds: float):
    """Fail (instead of hanging) when the block takes longer than ``seconds`` of wall time."""
    def expired(_signum, _frame):
        raise AssertionError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_many_signers_and_roles_are_judged_without_trying_every_assignment():
    """A policy may ask for 20 signers and any number of roles; trying every assignment of 20 signers to 8
    roles is 5 billion tries. Here nobody holds the last role, or only the one signer who also holds the
    first."""
    roles = [f"role {i}" for i in range(8)]
    policy = ts.Policy(signatures=20, roles=roles)
    with within(5):
        nobody = [signer(f"k{i:02}", *roles[:-1]) for i in range(20)]
        assert policy.missing(nobody) == [
            f"roles {', '.join(roles)} each by a different signer (signed as: {', '.join(roles[:-1])})"]
        all_roles = f"roles {', '.join(roles)} each by a different signer (signed as: {', '.join(roles)})"
        one_for_two = [signer("k00", *roles)] + [signer(f"k{i:02}", *roles[1:-1]) for i in range(1, 20)]
        assert policy.missing(one_for_two) == [all_roles]
        everyone = [signer(f"k{i:02}", *roles) for i in range(20)]
        assert policy.missing(everyone) == []
        assert policy.missing(everyone[:7]) == ["7 of 20 signature(s)", all_roles]


def test_policy_describe():
    assert ts.Policy(signatures=2).describe() == "2 distinct signer(s)"
    assert ts.Policy(roles=["a", "b"]).describe() == "2 distinct signer(s) including a, b"


def test_policy_bounds():
    for bad in (0, 21):
        with pytest.raises(Exception):
            ts.Policy(signatures=bad)
    assert ts.Policy(signatures=20).signatures == 20


# -- one key's state -----------------------------------------------------------------------------------

def entry(**kw) -> ts.KeyEntry:
    base = dict(key_id="0" * 16, public_key="x", name="A", roles=["r"], added_at=T0)
    return ts.KeyEntry(**(base | kw))


def test_key_state_expires_at_the_instant():
    e = entry(expires=T0 + timedelta(days=1))
    assert e.state(T0 + timedelta(days=1) - timedelta(seconds=1)) == "trusted"
    assert e.state(T0 + timedelta(days=1)) == "expired"
    assert entry().state(T0 + timedelta(days=9999)) == "trusted"
    assert entry(revoked_at=T0, expires=T0 + timedelta(days=1)).state(T0) == "revoked"


def test_naive_times_are_utc_and_roles_are_stripped():
    e = entry(added_at=datetime(2026, 1, 1), expires=datetime(2027, 1, 1), roles=[" quality "])
    assert e.added_at.tzinfo == timezone.utc and e.expires.tzinfo == timezone.utc
    assert e.roles == ["quality"]
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert ts._aware(aware) is aware and ts._aware(None) is None
    with pytest.raises(ValueError, match="roles must not be empty"):
        entry(roles=["ok", "  "])


def test_trust_file_version_and_duplicate_keys():
    assert ts.TrustFile(version=1).version == 1
    with pytest.raises(ValueError, match="this hospfab reads version 1"):
        ts.TrustFile(version=2)
    with pytest.raises(ValueError, match=f"key {'0' * 16} appears twice"):
        ts.TrustFile(keys=[entry(), entry(name="B")])
    assert len(ts.TrustFile(keys=[entry(), entry(key_id="1" * 16)]).keys) == 2


# -- the store -----------------------------------------------------------------------------------------

def test_missing_store_trusts_nothing(tmp_path):
    store = ts.TrustStore.load(tmp_path / "trust.yaml")
    assert not store.exists and store.entries == [] and store.policy.needed == 1
    with pytest.raises(ts.UntrustedKey) as info:
        store.signer("0123456789abcdef", where="sig.yaml")
    assert info.value.message.startswith(f"sig.yaml: key 0123456789abcdef is not trusted at this site (trust store "
                                         f"{tmp_path / 'trust.yaml'}; ")
    assert info.value.code == "untrusted_key"
    with pytest.raises(ts.UntrustedKey) as info:
        store.signer("0123456789abcdef")
    assert info.value.message.startswith("key 0123456789abcdef is not trusted")


def test_trust_save_load_and_signer(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    store = ts.TrustStore.load(tmp_path / "etc" / "site" / "trust.yaml")
    added = store.trust(pub, name="  J. Martin ", roles=["engineer"], now=T0,
                        expires=datetime(2028, 1, 1))
    assert added.key_id == key_id and added.name == "J. Martin" and added.added_at == T0
    assert added.expires == datetime(2028, 1, 1, tzinfo=timezone.utc)
    path = store.save()
    assert store.exists and path == tmp_path / "etc" / "site" / "trust.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    text = path.read_text()
    assert text.startswith("# hospfab site trust store: the validator keys this site trusts (never inside the "
                           "catalog).\n# Edit it only through `hospfab keys trust|revoke|policy`; protect it like a "
                           "password file.\n")
    assert "password file.\nversion: 1\npolicy:\n" in text and "name: J. Martin\n" in text  # documented order
    assert "added_at: '2026-12-01T09:00:00Z'\n" in text and "expires: '2028-01-01T00:00:00Z'\n" in text
    again = ts.TrustStore.load(path)
    assert again.exists and [e.key_id for e in again.entries] == [key_id]
    assert again.entry(key_id).name == "J. Martin" and again.entry("f" * 16) is None
    who = again.signer(key_id, at=T0)
    assert (who.key_id, who.name, who.roles) == (key_id, "J. Martin", ("engineer",))
    assert signing.fingerprint(who.public_key) == key_id
    assert who.as_dict() == {"key_id": key_id, "name": "J. Martin", "roles": ["engineer"]}
    with pytest.raises(ts.UntrustedKey) as info:
        again.signer(key_id, at=datetime(2028, 1, 1, tzinfo=timezone.utc), where="w")
    assert info.value.code == "expired_key"
    assert info.value.message == f"w: key {key_id} (J. Martin) expired on 2028-01-01; a current key must sign " \
                                 f"again (`hospfab catalog sign`)"
    assert again.signer(key_id).key_id == key_id  # now (2026) is before the expiry


def test_trust_refusals(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    with pytest.raises(InputError, match="is not in the future"):
        store.trust(pub, name="A", roles=["r"], now=T0, expires=T0)
    with pytest.raises(InputError):
        store.trust(pub, name="A", roles=[], now=T0)
    assert store.entries == []
    store.trust(pub, name="A", roles=["r"], now=T0, expires=T0 + timedelta(seconds=1))
    with pytest.raises(InputError, match=f"key {key_id} is already trusted as A"):
        store.trust(pub, name="B", roles=["r"], now=T0)
    store.revoke(key_id, reason="  lost laptop ", now=T0)
    with pytest.raises(SafetyError, match="a revoked key is never trusted again") as info:
        store.trust(pub, name="B", roles=["r"], now=T0)
    assert info.value.code == "revoked_key"


def test_revoke(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    with pytest.raises(NotFoundError) as info:
        store.revoke(key_id, reason="x")
    assert info.value.message == f"key {key_id}: not in the trust store {tmp_path / 'trust.yaml'}"
    store.trust(pub, name="A", roles=["r"], now=T0)
    revoked = store.revoke(key_id, reason="  lost laptop ", now=T0 + timedelta(days=2))
    assert revoked.revoked_at == T0 + timedelta(days=2) and revoked.revoked_reason == "lost laptop"
    with pytest.raises(InputError, match="is already revoked"):
        store.revoke(key_id, reason="again")
    with pytest.raises(ts.UntrustedKey) as info:
        store.signer(key_id, at=T0, where="w")
    assert info.value.code == "revoked_key"
    assert info.value.message == f"w: key {key_id} (A) was revoked on 2026-12-03: lost laptop"
    store.entry(key_id).revoked_reason = ""
    with pytest.raises(ts.UntrustedKey) as info:
        store.signer(key_id, at=T0)
    assert info.value.message == f"key {key_id} (A) was revoked on 2026-12-03"


def test_revoke_without_a_time_uses_now(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    store.trust(pub, name="A", roles=["r"])
    assert abs(store.entry(key_id).added_at - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert store.entry(key_id).added_at.microsecond == 0 and ts.now_utc().microsecond == 0
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert store.revoke(key_id, reason="r").revoked_at >= before


def test_set_policy(tmp_path):
    store = ts.TrustStore(tmp_path / "trust.yaml")
    assert store.set_policy(signatures=2).signatures == 2 and store.policy.roles == []
    assert store.set_policy(roles=[" quality ", " ", "engineer"]).roles == ["quality", "engineer"]
    assert store.policy.signatures == 2
    assert store.set_policy().signatures == 2 and store.policy.roles == ["quality", "engineer"]
    with pytest.raises(InputError) as info:
        store.set_policy(signatures=0)
    assert info.value.message == (f"{tmp_path / 'trust.yaml'}: key 'signatures': Input should be greater than or "
                                  f"equal to 1, got 0 (allowed: 1 to 20)")
    assert store.policy.signatures == 2


def test_load_refuses_a_mismatched_or_broken_public_key(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    store.trust(pub, name="A", roles=["r"], now=T0)
    store.save()
    text = (tmp_path / "trust.yaml").read_text()
    where = tmp_path / "trust.yaml"  # every refusal names the trust store first
    where.write_text(text.replace(key_id, "f" * 16))
    with pytest.raises(ConfigError, match=f"key {'f' * 16}: the public key's fingerprint is {key_id}, not ") as info:
        ts.TrustStore.load(where)
    assert info.value.message.startswith(f"{where}: key {'f' * 16}: the public key's fingerprint")
    public = store.entry(key_id).public_key
    for broken in (base64.b64encode(b"short").decode(), "AAAA"):
        where.write_text(text.replace(public, broken))
        with pytest.raises(ConfigError, match=f"key {key_id}: public_key is not a base64 Ed25519 public key") as info:
            ts.TrustStore.load(where)
        assert info.value.message.startswith(f"{where}: key {key_id}: public_key is not a base64")
    (tmp_path / "trust.yaml").write_text(text.replace("version: 1", "version: 7"))
    with pytest.raises(ConfigError, match="this hospfab reads version 1"):
        ts.TrustStore.load(tmp_path / "trust.yaml")


# -- signing primitives --------------------------------------------------------------------------------

def test_key_pair_files_modes_and_names(tmp_path):
    private, public, key_id = signing.generate_key_pair("a.b_c-1", tmp_path / "k", passphrase="long enough")
    assert (private.name, public.name) == ("a.b_c-1.key", "a.b_c-1.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(public.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) & 0o077 == 0
    assert signing.private_key_mode_ok(private) and signing.is_encrypted(private)
    assert signing.fingerprint(signing.load_public_key(public)) == key_id and len(key_id) == 16
    key = signing.load_private_key(private, passphrase=lambda: "long enough")
    assert signing.fingerprint(key.public_key()) == key_id
    private.chmod(0o640)
    assert not signing.private_key_mode_ok(private)
    for bad in ("", "-x", "a/b", "a" * 65, ".hidden"):
        with pytest.raises(InputError, match="invalid key name"):
            signing.generate_key_pair(bad, tmp_path / "k")
    signing.generate_key_pair("a" * 64, tmp_path / "k")
    with pytest.raises(InputError, match="already exists"):
        signing.generate_key_pair("a.b_c-1", tmp_path / "k")
    with pytest.raises(InputError, match="at least 8 characters"):
        signing.generate_key_pair("short", tmp_path / "k", passphrase="1234567")
    assert signing.generate_key_pair("eight", tmp_path / "k", passphrase="12345678")[2]


def test_private_key_never_inside_the_catalog(tmp_path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    with pytest.raises(SafetyError, match="never be written inside the catalog"):
        signing.generate_key_pair("k", catalog / "keys", catalog_root=catalog)
    with pytest.raises(SafetyError):
        signing.generate_key_pair("k", catalog, catalog_root=catalog)
    assert not (catalog / "keys").exists() and not (catalog / "k.key").exists()
    assert signing.generate_key_pair("k", tmp_path / "outside", catalog_root=catalog)[0].exists()
    assert signing._inside(catalog, catalog) and not signing._inside(tmp_path, catalog)


def test_load_private_key_refusals(tmp_path):
    private, public, _ = signing.generate_key_pair("enc", tmp_path, passphrase="long enough")
    with pytest.raises(InputError, match="the private key is encrypted: give its passphrase"):
        signing.load_private_key(private)
    with pytest.raises(InputError, match="the private key is encrypted"):
        signing.load_private_key(private, passphrase=lambda: "")
    with pytest.raises(InputError, match="wrong passphrase"):
        signing.load_private_key(private, passphrase="wrong one!")
    assert signing.load_private_key(private, passphrase="long enough")
    plain, _pub, _ = signing.generate_key_pair("plain", tmp_path)
    big = tmp_path / "big.key"
    big.write_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----" + b"x" * (64 << 10))
    with pytest.raises(InputError) as info:
        signing.is_encrypted(big)
    assert info.value.message == f"{big}: the private key is larger than 65536 bytes; refused"
    assert not signing.is_encrypted(plain)
    assert signing.load_private_key(plain, passphrase=lambda: pytest.fail("asked for a passphrase"))
    with pytest.raises(InputError, match="not a PEM private key"):
        signing.load_private_key(public)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    ec = tmp_path / "ec.key"
    ec.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(InputError, match="not an Ed25519 private key"):
        signing.load_private_key(ec)
    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(generate_private_key(SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError, match="not an Ed25519 public key"):
        signing.load_public_key(ec_pub)
    with pytest.raises(ConfigError, match="not a PEM public key"):
        signing.load_public_key(plain)


def test_shipped_keys_by_id_and_links_refused(tmp_path):
    assert signing.shipped_keys(tmp_path / "none") == {}
    _priv, public, key_id = signing.generate_key_pair("bob", tmp_path / "priv")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "bob.pub").write_bytes(public.read_bytes())
    (keys / "notes.txt").write_text("not a key")
    shipped = signing.shipped_keys(keys)
    assert list(shipped) == [key_id]
    assert shipped[key_id].name == "bob" and shipped[key_id].path == keys / "bob.pub"
    assert shipped[key_id].key_id == key_id and signing.fingerprint(shipped[key_id].public_key) == key_id
    (keys / "link.pub").symlink_to(keys / "bob.pub")
    with pytest.raises(ConfigError, match="symbolic link refused"):
        signing.shipped_keys(keys)


def test_sign_and_verify_raw(tmp_path):
    private, _public, _ = signing.generate_key_pair("s", tmp_path)
    key = signing.load_private_key(private)
    sig = signing.sign(key, b"payload")
    assert signing.verify_raw(key.public_key(), b"payload", sig)
    assert not signing.verify_raw(key.public_key(), b"payloaD", sig)
    assert not signing.verify_raw(key.public_key(), b"payload", sig[:-4] + "AAA=")
    assert not signing.verify_raw(key.public_key(), b"payload", "not base64!")
    assert not signing.verify_raw(key.public_key(), b"payload", sig[:8] + "*" + sig[8:])  # junk is not skipped
    raw = signing.public_b64(key.public_key())
    assert signing.fingerprint(signing.public_from_b64(raw)) == signing.fingerprint(key.public_key())
    with pytest.raises(ValueError, match="not a base64 Ed25519 public key"):
        signing.public_from_b64(raw[:-2] + "!!")
    assert signing.public_pem(key.public_key()).startswith(b"-----BEGIN PUBLIC KEY-----")


def test_saved_names_stay_readable(tmp_path):
    _priv, pub, _ = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    store.trust(pub, name="É. Müller", roles=["ingénieure biomédicale"], now=T0)
    text = store.save().read_text(encoding="utf-8")
    assert "name: É. Müller\n" in text and "- ingénieure biomédicale\n" in text
    assert ts.TrustStore.load(tmp_path / "trust.yaml").entries[0].name == "É. Müller"


def test_messages_name_the_file(tmp_path):
    _priv, pub, key_id = keypair(tmp_path)
    path = tmp_path / "trust.yaml"
    store = ts.TrustStore(path)
    with pytest.raises(InputError) as info:
        store.trust(pub, name="A", roles=[])
    assert info.value.message == f"{path}: key 'roles': List should have at least 1 item after validation, not 0"
    store.trust(pub, name="A", roles=["r"])
    with pytest.raises(InputError) as info:
        store.trust(pub, name="B", roles=["r"])
    assert info.value.message == f"key {key_id} is already trusted as A in {path}"
    path.write_text("version: 1\nkeys: [{key_id: 'zz'}]\n")
    with pytest.raises(ConfigError) as info:
        ts.TrustStore.load(path)
    assert info.value.message.startswith(f"{path}: key 'keys[0].key_id': String should match pattern")
    assert "missing required key 'keys[0].public_key'" in info.value.message
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(InputError) as info:
        ts.TrustStore.load(path)
    assert info.value.message == f"{path}: the trust store is not a regular file (a FIFO)"


def test_written_modes_do_not_depend_on_the_umask(tmp_path):
    """Keys, trust store and index get their documented modes even under a permissive umask."""
    from hospfab.catalog import index as ix

    old = os.umask(0)
    try:
        private, public, _ = signing.generate_key_pair("u", tmp_path / "home" / "keys")
        store = ts.TrustStore(tmp_path / "etc" / "hospfab" / "trust.yaml")
        store.trust(public, name="U", roles=["r"])
        store.save()
        key = signing.load_private_key(private)
        ix.write(tmp_path, None, {}, key, "k")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert (mode(private), mode(public), mode(tmp_path / "home" / "keys")) == (0o600, 0o644, 0o700)
    assert mode(tmp_path / "etc" / "hospfab" / "trust.yaml") == 0o644 and mode(tmp_path / "etc" / "hospfab") == 0o700  # only its owner may add entries
    assert mode(tmp_path / ix.INDEX_NAME) == 0o644


def test_key_files_too_large_or_oddly_marked(tmp_path):
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * ((64 << 10) + 1))
    with pytest.raises(InputError) as info:
        signing.load_public_key(big)
    assert info.value.message == f"{big}: the public key is larger than 65536 bytes; refused"
    with pytest.raises(InputError) as info:
        signing.load_private_key(big)
    assert info.value.message == f"{big}: the private key is larger than 65536 bytes; refused"
    private, public, _ = signing.generate_key_pair("plain", tmp_path)
    odd = tmp_path / "odd.key"  # an unencrypted key that mentions the marker: a passphrase is given, refused
    odd.write_bytes(b"# ENCRYPTED PRIVATE KEY\n" + private.read_bytes())
    with pytest.raises(InputError) as info:
        signing.load_private_key(odd, passphrase="whatever1")
    assert info.value.message == f"{odd}: not a PEM private key"
    raw = signing.public_b64(signing.load_public_key(public))
    with pytest.raises(ValueError):
        signing.public_from_b64(raw[:4] + "*" + raw[4:])


@pytest.mark.parametrize("text, message", [
    ("version: 1\npolicy: {signatures: 0}\n",
     "key 'policy.signatures': Input should be greater than or equal to 1, got 0 (allowed: 1 to 20)"),
    ("version: 1\npolicy: {signatures: 1, role: [a]}\n", "unknown key 'policy.role' (known keys: signatures, roles)"),
    ("version: 1\nkeys: [{key_id: '0123456789abcdef', public_key: x, name: A, roles: [r], added_at: 2026-01-01, "
     "expire: 2027-01-01}]\n", "unknown key 'keys[0] (A).expire' (known keys: key_id, public_key, name, roles, "
                               "added_at, expires, revoked_at, revoked_reason)"),
])
def test_trust_file_errors_name_the_key_and_what_is_allowed(tmp_path, text, message):
    (tmp_path / "trust.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        ts.TrustStore.load(tmp_path / "trust.yaml")
    assert info.value.message == f"{tmp_path / 'trust.yaml'}: {message}"


def test_trusting_with_a_bad_field_names_it(tmp_path):
    _priv, pub, _ = keypair(tmp_path)
    store = ts.TrustStore(tmp_path / "trust.yaml")
    with pytest.raises(InputError) as info:
        store.trust(pub, name="A" * 201, roles=["r"])
    assert info.value.message == f"{tmp_path / 'trust.yaml'}: key 'name': String should have at most 200 characters"
    with pytest.raises(InputError) as info:
        signing.generate_key_pair("short", tmp_path / "k", passphrase="1234567")
    assert info.value.message == "the key passphrase must have at least 8 characters"
