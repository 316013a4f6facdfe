"""Verifying signed revisions and the catalog's signed index against the site's trust store.

What a signed revision must satisfy (each failure is an IntegrityError, exit 4, naming the file or field):

- every file of the revision folder matches ``manifest.json`` (nothing changed, added or removed);
- the part's identity and safety metadata in ``part.yaml`` equal the snapshot signed in the manifest;
- every record in ``signatures/`` (and a ``retirement.yaml``) is signed over that manifest by a key the
  site's trust store trusts now (not unknown, expired or revoked), with the name the trust store gives it;
- the catalog's signed index is trusted, not older than the one this site has seen, and lists the revision
  with the same status, manifest and signers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hospfab.catalog import index as ix
from hospfab.catalog import manifest as mf
from hospfab.catalog.model import STATEMENTS, PartMeta, RetirementRecord, SignedRecord
from hospfab.errors import HospfabError, IntegrityError
from hospfab.fileio import shown

if TYPE_CHECKING:
    from hospfab.catalog.store import Catalog, Revision
    from hospfab.trust.store import Signer

SAFETY_FIELDS = ("title", "intended_use", "intended_users", "limitations", "contraindications", "replaces",
                 "licence")


def part_snapshot(part_meta: PartMeta) -> dict[str, Any]:
    """The part metadata signed into every revision's manifest (all of ``part.yaml`` but its format)."""
    return part_meta.model_dump(mode="json", exclude={"format"})


def old_format_error(revision: Revision) -> IntegrityError:
    return IntegrityError(
        f"{revision.spec} is signed in the old catalog format (keys trusted from the catalog folder, part "
        f"metadata unsigned): re-sign it with a key this site trusts: `hospfab catalog resign {revision.spec} "
        f"--key KEY`", code="old_format")


def check_record(catalog: Catalog, revision: Revision, record: SignedRecord, where: object,
                 manifest_sha: str | None) -> Signer:
    """Verify one signed record; return its trusted signer."""
    from hospfab.catalog.signing import verify_raw

    where = shown(where)
    if (record.ref, record.rev) != (revision.ref, revision.rev):
        raise IntegrityError(f"{where}: signed for another revision ({record.ref}@{record.rev})")
    signer = catalog.trust.signer(record.key_id, where=where)
    if not verify_raw(signer.public_key, record.signed_payload(), record.signature):
        raise IntegrityError(f"{where}: signature does not match (record altered or forged)")
    if record.signer != signer.name:
        raise IntegrityError(f"{where}: signed as {record.signer!r} but key {record.key_id} belongs to "
                             f"{signer.name!r} in this site's trust store: either the key's holder signed in another "
                             f"name or the trust store's name was changed since; refused either way (restore the "
                             f"name, or have the record signed again)")
    if record.statement != STATEMENTS[record.meaning]:
        raise IntegrityError(f"{where}: the statement does not match the meaning {record.meaning!r}")
    if record.manifest_sha256 != manifest_sha:
        raise IntegrityError(f"{shown(revision.path / mf.MANIFEST_NAME)}: changed since it was signed in {where}")
    return signer


def _disk_state(revision: Revision, manifest_sha: str | None) -> dict[str, Any] | None:
    if not revision.signatures and not isinstance(revision.retirement, RetirementRecord):
        return None
    status = "retired" if revision.retirement is not None else "validated"
    return ix.entry_for(status, manifest_sha, [s.key_id for s in revision.signatures])


def trusted_index(catalog: Catalog) -> ix.Index | None:
    """The catalog's index, its signature checked and its version checked against (and recorded in) this
    site's journal: IntegrityError on tampering or rollback. None when the catalog has no index and the site
    never saw one for this folder."""
    from hospfab.catalog.seen import SeenIndex

    index = ix.load(catalog.root)
    root = str(catalog.root.resolve())
    with SeenIndex(catalog.seen_path) as seen:
        if index is None:
            before = seen.for_root(root)
            if before is not None:
                raise IntegrityError(f"{shown(catalog.root / ix.INDEX_NAME)}: missing, but version {before.version} "
                                     f"was seen at this site on {before.seen_at}: rolled back or removed",
                                     code="rolled_back")
            return None
        ix.verify_signature(index, catalog.trust)
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        seen.check_and_record(index.catalog_id, index.version, index.sha256, root, now)
    return index


def _check_index(catalog: Catalog, revision: Revision, index: ix.Index | None, manifest_sha: str | None) -> None:
    state = _disk_state(revision, manifest_sha)
    if index is None:
        if state is not None:
            raise IntegrityError(f"{revision.spec}: signed, but the catalog has no signed index "
                                 f"({shown(catalog.root / ix.INDEX_NAME)}): refused")
        return
    ix.compare(index, revision.spec, state)


def verify_revision(catalog: Catalog, revision: Revision, *, unsigned_ok: bool = False,
                    index: Any = "load") -> dict[str, Any]:
    if revision.legacy is not None or (revision.retirement is not None
                                       and not isinstance(revision.retirement, RetirementRecord)):
        raise old_format_error(revision)
    if index == "load":
        index = trusted_index(catalog)
    if not revision.signatures:
        _check_index(catalog, revision, index, None)
        if unsigned_ok and revision.retirement is None:
            return {"ref": revision.ref, "rev": revision.rev, "status": revision.status, "ok": True,
                    "skipped": "not signed"}
        raise IntegrityError(f"{revision.spec} is {revision.status}, not validated: nothing signed to verify",
                             code="not_validated")
    folder = revision.path
    manifest, manifest_sha = mf.load_manifest(folder)
    if manifest.get("format") != mf.MANIFEST_VERSION:
        raise old_format_error(revision)
    if (manifest.get("ref"), manifest.get("rev")) != (revision.ref, revision.rev):
        raise IntegrityError(f"{shown(folder / mf.MANIFEST_NAME)}: made for another revision")
    diff = mf.compare(folder, manifest)
    if not diff.ok:
        raise IntegrityError(diff.describe(folder), details={
            "changed": diff.changed, "added": diff.added, "removed": diff.removed})
    signers = []
    for record in revision.signatures:
        where = folder / mf.SIGNATURES_DIR / f"{record.key_id}.yaml"
        if record.meaning == "retired":
            raise IntegrityError(f"{shown(where)}: a retirement belongs in {mf.RETIREMENT_NAME}")
        signers.append(check_record(catalog, revision, record, where, manifest_sha))
    if revision.signatures and not any(r.meaning == "validated" for r in revision.signatures):
        raise IntegrityError(f"{shown(folder / mf.SIGNATURES_DIR)}: co-signatures without a validation")
    from hospfab.catalog.files import load_model
    from hospfab.catalog.model import PartMeta

    part = load_model(catalog.part_dir(revision.ref) / "part.yaml", PartMeta)  # this file only, not every revision
    signed_part, now_part = manifest.get("part") or {}, part_snapshot(part)
    changed = sorted(k for k in set(signed_part) | set(now_part) if signed_part.get(k) != now_part.get(k))
    if changed:
        raise IntegrityError(f"{shown(catalog.part_dir(revision.ref) / 'part.yaml')}: {', '.join(changed)} changed "
                             f"since {revision.spec} was signed", details={"fields": changed})
    retired_by = None
    if revision.retirement is not None:
        if revision.retirement.meaning != "retired":
            raise IntegrityError(f"{shown(folder / mf.RETIREMENT_NAME)}: not a retirement record")
        retired_by = check_record(catalog, revision, revision.retirement, folder / mf.RETIREMENT_NAME,
                                  manifest_sha)
    if revision.signatures and revision.meta.status != "validated":
        raise IntegrityError(f"{shown(folder / 'revision.yaml')}: status is {revision.meta.status!r} in a signed "
                             f"revision")
    for recipe in revision.recipes:
        rel = recipe.build_file.relative_to(folder).as_posix()
        if manifest["files"].get(rel) != recipe.sha256:
            raise IntegrityError(f"{shown(recipe.build_file)}: sha256 differs from its recipe in revision.yaml")
    _check_index(catalog, revision, index, manifest_sha)
    missing = catalog.trust.policy.missing(signers)
    outcome = {"ref": revision.ref, "rev": revision.rev, "status": revision.status, "ok": True,
               "files": len(manifest["files"]), "signers": [s.as_dict() for s in signers],
               "signed_by": ", ".join(f"{s.name} ({', '.join(s.roles)})" for s in signers),
               "key_id": signers[0].key_id if signers else None, "pending": missing,
               "index_version": index.version if index is not None else None}
    if retired_by is not None:
        outcome["retired_by"] = retired_by.as_dict()
    return outcome


def _failure(ref: str, rev: Any, status: str, err: HospfabError) -> dict[str, Any]:
    # in a catalog under verification, anything unreadable or inconsistent is refused (exit 4)
    return {"ref": ref, "rev": rev, "status": status, "ok": False, "error": err.message,
            "code": err.code if isinstance(err, IntegrityError) else "integrity_failed", "exit_code": 4}


def verify_catalog(catalog: Catalog, ref: str | None = None) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []
    try:
        index = trusted_index(catalog)
    except HospfabError as err:
        return [_failure(ref or ix.INDEX_NAME, None, "refused", err)]
    refs = [ref] if ref else catalog.refs()
    on_disk: set[str] = set()
    for name in refs:
        try:
            part = catalog.get(name)
        except HospfabError as err:
            outcomes.append(_failure(name, None, "unreadable", err))
            on_disk.update(s for s in (index.revisions if index else {}) if s.startswith(f"{name}@"))
            continue
        for revision in part.revisions:
            on_disk.add(revision.spec)
            try:
                outcomes.append(verify_revision(catalog, revision, unsigned_ok=True, index=index))
            except HospfabError as err:
                outcomes.append(_failure(name, revision.rev, revision.status, err))
    if index is not None:
        for spec in sorted(index.revisions):
            if spec not in on_disk and (ref is None or spec.split("@")[0] == ref):
                gone = IntegrityError(f"{spec}: listed as {index.revisions[spec].get('status')} in the signed index "
                                     f"({index.label()}) but missing from the catalog: removed")
                outcomes.append(_failure(spec.split("@")[0], spec.split("@")[-1], "missing", gone))
    return outcomes
