"""``<catalog>/index.json``: the signed, versioned list of every signed revision and its status (as TUF's
snapshot).

::

    {"signed": {"format": 2, "catalog_id": "…", "version": 7, "at": "…",
                "revisions": {"EAR-SAVER@1": {"status": "retired", "manifest_sha256": "…",
                                              "signers": ["791c3eb6f2a1b041"]}, …}},
     "key_id": "791c3eb6f2a1b041", "signature": "…"}

Every signing operation (validate, sign, retire, resign) writes a new index, version + 1, signed by the key
that signed the operation. Verification checks the index's signature against the site's trust store, refuses
an index older than the one the site has already seen (:mod:`hospfab.catalog.seen`), and compares each
revision on disk with its entry: a removed retirement, a removed co-signature, a revision dropped in from
elsewhere or a replaced manifest is named and refused (exit 4).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.errors import HospfabError, IntegrityError, NotFoundError
from hospfab.fileio import atomic_write_bytes, loads_json, read_regular_bytes, shown

if TYPE_CHECKING:
    from hospfab.trust.store import Signer, TrustStore

INDEX_NAME = "index.json"
INDEX_FORMAT = 2
PAYLOAD_PREFIX = b"hospfab-index-v2\n"


def _payload(signed: dict[str, Any]) -> bytes:
    return PAYLOAD_PREFIX + json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Index:
    """A loaded (not yet verified) index."""

    path: Path
    signed: dict[str, Any]
    key_id: str
    signature: str
    sha256: str

    @property
    def version(self) -> int:
        return int(self.signed["version"])

    @property
    def catalog_id(self) -> str:
        return str(self.signed["catalog_id"])

    @property
    def revisions(self) -> dict[str, dict[str, Any]]:
        revisions: dict[str, dict[str, Any]] = self.signed["revisions"]
        return revisions

    def label(self) -> str:
        return f"{shown(self.path)} v{self.version}"


def load(root: Path) -> Index | None:
    """The index of the catalog at ``root`` (None when there is none). IntegrityError when unreadable."""
    path = root / INDEX_NAME
    try:
        raw = read_regular_bytes(path, what="catalog index")
    except NotFoundError:
        return None
    except HospfabError as err:
        raise IntegrityError(err.message) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{shown(path)}: corrupt catalog index (not UTF-8)") from None
    doc = loads_json(text, source=shown(path), error=IntegrityError)
    try:
        signed = doc["signed"]
        ok = (isinstance(signed, dict) and signed.get("format") == INDEX_FORMAT
              and isinstance(signed.get("version"), int) and signed["version"] >= 1
              and isinstance(signed.get("catalog_id"), str) and isinstance(signed.get("revisions"), dict)
              and all(isinstance(e, dict) for e in signed["revisions"].values())
              and isinstance(doc["key_id"], str) and isinstance(doc["signature"], str))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise IntegrityError(f"{shown(path)}: corrupt catalog index (not a format-{INDEX_FORMAT} signed index)")
    return Index(path, signed, doc["key_id"], doc["signature"], hashlib.sha256(raw).hexdigest())


def verify_signature(index: Index, trust: TrustStore) -> Signer:
    """The trusted signer of ``index``; UntrustedKey / IntegrityError naming the file."""
    from hospfab.catalog.signing import verify_raw

    signer = trust.signer(index.key_id, where=shown(index.path))
    if not verify_raw(signer.public_key, _payload(index.signed), index.signature):
        raise IntegrityError(f"{shown(index.path)}: signature does not match (index altered or forged)")
    return signer


def entry_for(status: str, manifest_sha256: str | None, signers: list[str]) -> dict[str, Any]:
    return {"status": status, "manifest_sha256": manifest_sha256, "signers": sorted(set(signers))}


def compare(index: Index, spec: str, on_disk: dict[str, Any] | None) -> None:
    """Refuse (IntegrityError) a revision whose signed state on disk differs from its index entry.
    ``on_disk`` is None for a revision that carries no signature (a draft) or is missing."""
    listed = index.revisions.get(spec)
    where = index.label()
    if listed is None:
        if on_disk is not None:
            raise IntegrityError(f"{spec}: signed but not listed in the catalog's signed index ({where}): "
                                 f"refused (copied in from elsewhere, or its signing was interrupted)")
        return
    if on_disk is None:
        raise IntegrityError(f"{spec}: the signed index ({where}) lists it as {listed.get('status')} but its "
                             f"signatures are gone: rolled back")
    if listed.get("status") == "retired" and on_disk["status"] != "retired":
        raise IntegrityError(f"{spec}: the signed index ({where}) says retired but retirement.yaml is missing: "
                             f"the retirement was removed (rolled back)")
    if listed.get("status") != on_disk["status"]:
        raise IntegrityError(f"{spec}: {on_disk['status']} on disk but {listed.get('status')} in the signed index "
                             f"({where})")
    if listed.get("manifest_sha256") != on_disk["manifest_sha256"]:
        raise IntegrityError(f"{spec}: manifest.json differs from the one in the signed index ({where})")
    before, now = set(listed.get("signers") or []), set(on_disk["signers"])
    if before - now:
        raise IntegrityError(f"{spec}: signature(s) by {', '.join(sorted(before - now))} removed since the signed "
                             f"index ({where}): rolled back")
    if now - before:
        raise IntegrityError(f"{spec}: signature(s) by {', '.join(sorted(now - before))} not in the signed index "
                             f"({where})")


def write(root: Path, previous: Index | None, changes: dict[str, dict[str, Any]], private_key: Any, key_id: str,
          now: datetime | None = None) -> Index:
    """Write index version ``previous.version + 1`` with ``changes`` applied, signed with ``private_key``.
    ``previous`` must already have been verified by the caller."""
    from hospfab.catalog.signing import sign

    revisions = dict(previous.revisions) if previous else {}
    revisions.update(changes)
    at = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    signed = {"format": INDEX_FORMAT, "catalog_id": previous.catalog_id if previous else uuid.uuid4().hex,
              "version": (previous.version if previous else 0) + 1,
              "at": at.isoformat().replace("+00:00", "Z"), "revisions": dict(sorted(revisions.items()))}
    doc: dict[str, Any] = {"signed": signed, "key_id": key_id, "signature": sign(private_key, _payload(signed))}
    data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    atomic_write_bytes(root / INDEX_NAME, data, mode=0o644)
    return Index(root / INDEX_NAME, signed, key_id, doc["signature"], hashlib.sha256(data).hexdigest())
