"""Signing the catalog: validate (lock and sign a draft), co-sign (approve), retire (a signed event).

The signer's identity (name, roles) comes from the site's trust store entry of the key, never from free text;
a key that is unknown, expired or revoked is refused (exit 4) with its fingerprint. Every operation also
writes the catalog's signed index, version + 1 (see :mod:`hospfab.catalog.index`), after checking that the
index on disk is trusted and not rolled back.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hospfab.catalog import gate
from hospfab.catalog import index as ix
from hospfab.catalog import manifest as mf
from hospfab.catalog.files import write_yaml
from hospfab.catalog.model import STATEMENTS, RetirementRecord, SignatureRecord
from hospfab.catalog.paths import check_no_links
from hospfab.catalog.store import REVISION_FILE, Catalog, Revision, parse_spec
from hospfab.catalog.verify import part_snapshot, trusted_index, verify_revision
from hospfab.errors import InputError, SafetyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hospfab.trust.store import Signer

#: The signed records (their ``signature`` is over ``signed_payload()``).
SignedRecord = TypeVar("SignedRecord", SignatureRecord, RetirementRecord)


def now_utc(now: datetime | None = None) -> datetime:
    return (now or datetime.now(timezone.utc)).replace(microsecond=0)


def load_signing_key(catalog: Catalog, key_file: Path,
                     passphrase: Any = None) -> tuple[Ed25519PrivateKey, Signer]:
    """(private key, trusted signer) for ``key_file``; refused unless the site trusts the key now."""
    from hospfab.catalog.signing import fingerprint, load_private_key

    if catalog.root.resolve() in key_file.resolve().parents:
        raise SafetyError(f"{key_file}: a private key must never live inside the catalog; move it out")
    private_key = load_private_key(key_file, passphrase)
    signer = catalog.trust.signer(fingerprint(private_key.public_key()), where=str(key_file))
    return private_key, signer


def _record(model: type[SignedRecord], revision: Revision, meaning: str, signer: Signer, manifest_sha: str | None,
            private_key: Ed25519PrivateKey, now: datetime | None, **fields: Any) -> SignedRecord:
    from hospfab.catalog.signing import sign

    record = model(ref=revision.ref, rev=revision.rev, meaning=meaning, statement=STATEMENTS[meaning],
                   key_id=signer.key_id, signer=signer.name, roles=list(signer.roles), at=now_utc(now),
                   manifest_sha256=manifest_sha, **fields)
    return record.model_copy(update={"signature": sign(private_key, record.signed_payload())})


def _signature_path(revision: Revision, key_id: str) -> Path:
    return revision.path / mf.SIGNATURES_DIR / f"{key_id}.yaml"


def validate(catalog: Catalog, spec: str, *, key_file: Path, passphrase: Any = None, test_print: str = "",
             inspection: str = "", now: datetime | None = None) -> Revision:
    """Gate, lock (manifest with the part metadata) and sign a draft revision; update the signed index."""
    from hospfab.catalog.lifecycle import _draft
    from hospfab.catalog.preview import render_preview

    revision = _draft(catalog, spec)
    private_key, signer = load_signing_key(catalog, key_file, passphrase)
    check_no_links(revision.path)
    part = catalog.get(revision.ref)
    gate.require(catalog, revision, part.meta)
    index = trusted_index(catalog)
    if index is not None:
        ix.compare(index, revision.spec, None)  # the index must not already list this draft as signed
    if revision.preview is not None and not revision.preview.exists():
        render_preview(revision.model_file, revision.preview)
    write_yaml(revision.path / REVISION_FILE, revision.meta.model_copy(update={"status": "validated"}))
    manifest_sha = mf.write_manifest(revision.path, revision.ref, revision.rev, part_snapshot(part.meta))
    record = _record(SignatureRecord, revision, "validated", signer, manifest_sha, private_key, now,
                     test_print=test_print, inspection=inspection)
    write_yaml(_signature_path(revision, signer.key_id), record)
    ix.write(catalog.root, index, {revision.spec: ix.entry_for("validated", manifest_sha, [signer.key_id])},
             private_key, signer.key_id, now)
    validated = catalog.revision(revision.ref, revision.rev)
    verify_revision(catalog, validated)
    return validated


def cosign(catalog: Catalog, spec: str, *, key_file: Path, passphrase: Any = None, comment: str = "",
           now: datetime | None = None) -> Revision:
    """Add a co-signature (meaning: approved) to a validated or pending revision."""
    ref, rev = parse_spec(spec)
    if rev is None:
        raise InputError(f"{spec}: name the revision to sign explicitly (e.g. {ref}@1)")
    revision = catalog.revision(ref, rev)
    private_key, signer = load_signing_key(catalog, key_file, passphrase)
    if revision.status not in ("validated", "pending"):
        raise SafetyError(f"{revision.spec} is {revision.status}: only a validated or pending revision can be "
                          f"co-signed", code=f"revision_{revision.status}")
    if any(s.key_id == signer.key_id for s in revision.signatures):
        raise InputError(f"{revision.spec} is already signed by {signer.name} (key {signer.key_id}): a co-signature "
                         f"must come from another person")
    verify_revision(catalog, revision)
    index = trusted_index(catalog)
    manifest_sha = revision.signatures[0].manifest_sha256
    record = _record(SignatureRecord, revision, "approved", signer, manifest_sha, private_key, now,
                     inspection=comment)
    write_yaml(_signature_path(revision, signer.key_id), record)
    signers = [s.key_id for s in revision.signatures] + [signer.key_id]
    ix.write(catalog.root, index, {revision.spec: ix.entry_for("validated", manifest_sha, signers)},
             private_key, signer.key_id, now)
    return catalog.revision(ref, rev)


def retire(catalog: Catalog, spec: str, reason: str, *, key_file: Path, passphrase: Any = None,
           now: datetime | None = None) -> Revision:
    """Retire a signed revision (signed, recorded in the index): it can no longer be printed. Its locked files
    are untouched. Allowed even when its files were tampered with: retiring only makes it less printable."""
    ref, rev = parse_spec(spec)
    if rev is None:
        raise InputError(f"{spec}: name the revision to retire explicitly (e.g. {ref}@1)")
    revision = catalog.revision(ref, rev)
    if revision.status == "retired":
        raise InputError(f"{revision.spec} is already retired")
    if not reason.strip():
        raise InputError(f"{revision.spec}: retiring needs a reason (--reason)")
    if not revision.signatures:
        if revision.legacy is not None:
            from hospfab.catalog.verify import old_format_error

            raise old_format_error(revision)
        raise InputError(f"{revision.spec} is a draft: it is never printable, there is nothing to retire")
    private_key, signer = load_signing_key(catalog, key_file, passphrase)
    index = trusted_index(catalog)
    listed = index.revisions.get(revision.spec) if index is not None else None
    manifest_sha = (listed or {}).get("manifest_sha256") or revision.signatures[0].manifest_sha256
    signers = (listed or {}).get("signers") or [s.key_id for s in revision.signatures]
    record = _record(RetirementRecord, revision, "retired", signer, manifest_sha, private_key, now,
                     reason=reason.strip())
    write_yaml(revision.path / mf.RETIREMENT_NAME, record)
    ix.write(catalog.root, index, {revision.spec: ix.entry_for("retired", manifest_sha, signers)},
             private_key, signer.key_id, now)
    return catalog.revision(ref, rev)
