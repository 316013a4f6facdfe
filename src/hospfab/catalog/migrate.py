"""``catalog resign``: re-validate revisions signed in the old format (1) under the current one (2).

Old format: ``validation.yaml`` signed by a key trusted from the catalog's own ``keys/``, name and role free
text, ``part.yaml`` and retirements unsigned. A key the site trusts re-validates each old revision: its files
must still match the old manifest (nothing changed since), it must pass today's validation gate, and then it
gets a format-2 manifest (with the part metadata), a signature record that keeps the old record in
``migrated_from``, a signed retirement when it was retired, and its entry in the signed index. Only the
signed records change: the locked files (model, G-code, revision.yaml...) are untouched.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from hospfab.catalog import gate
from hospfab.catalog import index as ix
from hospfab.catalog import manifest as mf
from hospfab.catalog.files import write_yaml
from hospfab.catalog.model import LegacyRetirement, RetirementRecord, SignatureRecord
from hospfab.catalog.paths import check_no_links
from hospfab.catalog.signoff import _record, _signature_path, load_signing_key
from hospfab.catalog.store import Catalog, Revision, parse_spec
from hospfab.catalog.verify import part_snapshot, trusted_index, verify_revision
from hospfab.errors import CheckFailed, HospfabError, IntegrityError, NotFoundError


def old_revisions(catalog: Catalog, specs: list[str] | None) -> list[Revision]:
    if specs:
        out = []
        for spec in specs:
            ref, rev = parse_spec(spec)
            revisions = [catalog.revision(ref, rev)] if rev is not None else catalog.get(ref).revisions
            out += [r for r in revisions if r.legacy is not None]
            if rev is not None and not out:
                raise NotFoundError(f"{spec}: not signed in the old format; nothing to re-sign")
        return out
    return [r for part in catalog.list() for r in part.revisions if r.legacy is not None]


def _check_old(revision: Revision) -> None:
    manifest, manifest_sha = mf.load_manifest(revision.path)
    if manifest.get("format") != 1 or revision.legacy is None or revision.legacy.manifest_sha256 != manifest_sha:
        raise IntegrityError(f"{revision.path / mf.MANIFEST_NAME}: does not match its old validation record; "
                             f"refused (validate a new revision instead)")
    diff = mf.compare(revision.path, manifest)
    if not diff.ok:
        raise IntegrityError(diff.describe(revision.path) + " (refused: re-validate a new revision instead)")


def resign(catalog: Catalog, specs: list[str] | None, *, key_file: Path, passphrase: Any = None,
           now: datetime | None = None) -> list[Revision]:
    """Re-sign old-format revisions (all of the catalog's, or ``specs``) with ``key_file``; one index update."""
    revisions = old_revisions(catalog, specs)
    if not revisions:
        return []
    private_key, signer = load_signing_key(catalog, key_file, passphrase)
    problems: list[str] = []
    for revision in revisions:
        try:
            check_no_links(revision.path)
            _check_old(revision)
            problems += gate.reasons(catalog, revision, catalog.get(revision.ref).meta, free_text_ok=True)
        except HospfabError as err:
            problems.append(err.message)
    if problems:
        raise CheckFailed("cannot re-sign: " + "; ".join(problems), code="resign_refused",
                          details={"reasons": problems})
    index = trusted_index(catalog)
    changes: dict[str, dict[str, Any]] = {}
    for revision in revisions:
        part = catalog.get(revision.ref).meta
        legacy = revision.legacy
        assert legacy is not None, "old_revisions() keeps only revisions with a legacy record"
        old = legacy.model_dump(mode="json")
        manifest_sha = mf.write_manifest(revision.path, revision.ref, revision.rev, part_snapshot(part))
        record = _record(SignatureRecord, revision, "validated", signer, manifest_sha, private_key, now,
                         test_print=legacy.test_print, inspection=legacy.inspection,
                         migrated_from=old)
        write_yaml(_signature_path(revision, signer.key_id), record)
        status = "validated"
        if isinstance(revision.retirement, LegacyRetirement):
            retirement = _record(RetirementRecord, revision, "retired", signer, manifest_sha, private_key, now,
                                 reason=revision.retirement.reason)
            write_yaml(revision.path / mf.RETIREMENT_NAME, retirement)
            status = "retired"
        (revision.path / mf.VALIDATION_NAME).unlink()
        changes[revision.spec] = ix.entry_for(status, manifest_sha, [signer.key_id])
    ix.write(catalog.root, index, changes, private_key, signer.key_id, now)
    done = [catalog.revision(r.ref, r.rev) for r in revisions]
    for revision in done:
        verify_revision(catalog, revision)
    return done
