"""``trust.yaml``: pinned validator keys (name, roles, expiry, revocation) and the approval policy.

Example::

    version: 1
    policy:
      signatures: 2                       # distinct trusted signers before a revision is printable
      roles: [biomedical engineer, quality manager]   # each held by a different signer
    keys:
      - key_id: 791c3eb6f2a1b041
        public_key: 0cV4...=              # raw Ed25519 public key, base64
        name: J. Martin
        roles: [biomedical engineer]
        added_at: '2026-12-01T09:00:00Z'
        expires: '2028-01-01T00:00:00Z'   # optional
        revoked_at: null                  # set by `hospfab keys revoke`
        revoked_reason: ''

The file is read with the hardened reader (regular file, size, depth, duplicate keys) and written atomically
(0644: it is not secret, but only the site's administrators may write it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hospfab.errors import ConfigError, InputError, IntegrityError, NotFoundError, SafetyError
from hospfab.fileio import atomic_write_bytes, describe_validation_error, read_yaml_mapping, shown
from hospfab.settings import make_private_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TRUST_FILE_VERSION = 1


class UntrustedKey(IntegrityError):
    """A signature by a key that this site does not trust (unknown, expired or revoked): exit 4."""

    code = "untrusted_key"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class KeyEntry(_Strict):
    """One pinned key: whose it is and what they may sign as."""

    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Fingerprint (16 hex digits).")
    public_key: str = Field(description="Raw Ed25519 public key, base64.")
    name: str = Field(min_length=1, max_length=200, description="The person's name, as shown on signatures.")
    roles: list[str] = Field(min_length=1, description="Roles, e.g. 'biomedical engineer', 'quality manager'.")
    added_at: datetime
    expires: datetime | None = Field(None, description="After this instant the key signs nothing valid.")
    revoked_at: datetime | None = None
    revoked_reason: str = ""

    @field_validator("added_at", "expires", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        roles = [r.strip() for r in value]
        if any(not r for r in roles):
            raise ValueError("roles must not be empty")
        return roles

    def state(self, at: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires is not None and at >= self.expires:
            return "expired"
        return "trusted"


class Policy(_Strict):
    """How many distinct trusted signers a revision needs, and which roles must be among them."""

    signatures: int = Field(1, ge=1, le=20, description="Distinct signers needed (four eyes: 2).")
    roles: list[str] = Field(default_factory=list, description="Roles that must each be held by a distinct signer.")

    @property
    def needed(self) -> int:
        return max(self.signatures, len(self.roles))

    def missing(self, signers: list[Signer]) -> list[str]:
        """What the ``signers`` (distinct, trusted) still lack; empty when the policy is met."""
        out = []
        distinct = {s.key_id: s for s in signers}
        if len(distinct) < self.needed:
            out.append(f"{len(distinct)} of {self.needed} signature(s)")
        if self.roles and not _roles_covered(self.roles, list(distinct.values())):
            held = sorted({r for s in distinct.values() for r in s.roles})
            out.append(f"roles {', '.join(self.roles)} each by a different signer (signed as: "
                       f"{', '.join(held) or 'nobody'})")
        return out

    def describe(self) -> str:
        roles = f" including {', '.join(self.roles)}" if self.roles else ""
        return f"{self.needed} distinct signer(s){roles}"


def _roles_covered(roles: list[str], signers: list[Signer]) -> bool:
    """Whether each role can go to a different signer who holds it. A matching grown one role at a time: a
    signer already given a role passes it on to another holder of that role when they can (augmenting paths),
    at most ``len(roles) * len(signers) ** 2`` steps. Trying every assignment instead grows as a factorial
    (20 signers and 8 roles: 5 billion tries)."""
    given: dict[int, int] = {}  # signer (index) -> the role (index) given to them

    def give(role: int, asked: set[int]) -> bool:
        for i, signer in enumerate(signers):
            if i not in asked and roles[role] in signer.roles:
                asked.add(i)
                if i not in given or give(given[i], asked):
                    given[i] = role
                    return True
        return False

    return all(give(role, set()) for role in range(len(roles)))


class TrustFile(_Strict):
    version: int = Field(TRUST_FILE_VERSION)
    policy: Policy = Field(default_factory=Policy)
    keys: list[KeyEntry] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != TRUST_FILE_VERSION:
            raise ValueError(f"is {value}; this hospfab reads version {TRUST_FILE_VERSION}")
        return value

    @field_validator("keys")
    @classmethod
    def _unique(cls, value: list[KeyEntry]) -> list[KeyEntry]:
        ids = [k.key_id for k in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"key {dupes[0]} appears twice")
        return value


@dataclass(frozen=True)
class Signer:
    """A trusted key as the trust store binds it: the identity shown and recorded for its signatures."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    public_key: Ed25519PublicKey

    def as_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "name": self.name, "roles": list(self.roles)}


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class TrustStore:
    """The site's trust store at ``path`` (a missing file is an empty store: nothing is trusted)."""

    def __init__(self, path: Path, data: TrustFile | None = None, *, exists: bool = False) -> None:
        self.path = Path(path)
        self.data = data or TrustFile()
        self.exists = exists

    @classmethod
    def load(cls, path: Path | str) -> TrustStore:
        path = Path(path)
        try:
            raw = read_yaml_mapping(path, what="trust store")
        except NotFoundError:
            return cls(path)
        try:
            data = TrustFile.model_validate(raw)
        except ValidationError as err:
            raise ConfigError(describe_validation_error(err, path, model=TrustFile, data=raw)) from None
        from hospfab.catalog.signing import fingerprint, public_from_b64

        for entry in data.keys:
            try:
                key = public_from_b64(entry.public_key)
            except ValueError as err:
                raise ConfigError(f"{shown(path)}: key {entry.key_id}: public_key is {err}") from None
            if fingerprint(key) != entry.key_id:
                raise ConfigError(f"{shown(path)}: key {entry.key_id}: the public key's fingerprint is "
                                  f"{fingerprint(key)}, not {entry.key_id}")
        return cls(path, data, exists=True)

    @property
    def policy(self) -> Policy:
        return self.data.policy

    @property
    def entries(self) -> list[KeyEntry]:
        return list(self.data.keys)

    def entry(self, key_id: str) -> KeyEntry | None:
        return next((k for k in self.data.keys if k.key_id == key_id), None)

    def signer(self, key_id: str, *, at: datetime | None = None, where: str = "") -> Signer:
        """The trusted signer of ``key_id`` now (or ``at``); UntrustedKey (exit 4) naming the fingerprint when
        the key is unknown, expired or revoked."""
        from hospfab.catalog.signing import public_from_b64

        prefix = f"{where}: " if where else ""
        entry = self.entry(key_id)
        if entry is None:
            raise UntrustedKey(f"{prefix}key {key_id} is not trusted at this site (trust store {shown(self.path)}; "
                               f"pin it with `hospfab keys trust PUBKEY --name NAME --role ROLE`)")
        when = at or now_utc()
        state = entry.state(when)
        if state == "revoked":
            why = f": {entry.revoked_reason}" if entry.revoked_reason else ""
            raise UntrustedKey(f"{prefix}key {key_id} ({entry.name}) was revoked on "
                               f"{entry.revoked_at:%Y-%m-%d}{why}", code="revoked_key")
        if state == "expired":
            raise UntrustedKey(f"{prefix}key {key_id} ({entry.name}) expired on {entry.expires:%Y-%m-%d}; "
                               f"a current key must sign again (`hospfab catalog sign`)", code="expired_key")
        return Signer(entry.key_id, entry.name, tuple(entry.roles), public_from_b64(entry.public_key))

    # -- editing ---------------------------------------------------------------------------------------

    def trust(self, public_key_file: Path, *, name: str, roles: list[str], expires: datetime | None = None,
              now: datetime | None = None) -> KeyEntry:
        from hospfab.catalog.signing import fingerprint, load_public_key, public_b64

        key = load_public_key(Path(public_key_file))
        key_id = fingerprint(key)
        existing = self.entry(key_id)
        if existing is not None:
            if existing.revoked_at is not None:
                raise SafetyError(f"key {key_id} was revoked on {existing.revoked_at:%Y-%m-%d}: a revoked key is "
                                  f"never trusted again; make a new key (`hospfab keys new`)", code="revoked_key")
            raise InputError(f"key {key_id} is already trusted as {existing.name} in {shown(self.path)}")
        when = now or now_utc()
        expires = _aware(expires)
        if expires is not None and expires <= when:
            raise InputError(f"--expires {expires:%Y-%m-%d} is not in the future")
        try:
            entry = KeyEntry(key_id=key_id, public_key=public_b64(key), name=name.strip(), roles=roles,
                             added_at=when, expires=expires)
        except ValidationError as err:
            raise InputError(describe_validation_error(err, self.path, model=KeyEntry)) from None
        self.data.keys.append(entry)
        return entry

    def revoke(self, key_id: str, *, reason: str, now: datetime | None = None) -> KeyEntry:
        entry = self.entry(key_id)
        if entry is None:
            raise NotFoundError(f"key {key_id}: not in the trust store {shown(self.path)}")
        if entry.revoked_at is not None:
            raise InputError(f"key {key_id} ({entry.name}) is already revoked")
        entry.revoked_at = now or now_utc()
        entry.revoked_reason = reason.strip()
        return entry

    def set_policy(self, *, signatures: int | None = None, roles: list[str] | None = None) -> Policy:
        data = self.policy.model_dump()
        if signatures is not None:
            data["signatures"] = signatures
        if roles is not None:
            data["roles"] = [r.strip() for r in roles if r.strip()]
        try:
            self.data.policy = Policy.model_validate(data)
        except ValidationError as err:
            raise InputError(describe_validation_error(err, self.path, model=Policy)) from None
        return self.data.policy

    def save(self) -> Path:
        import yaml

        doc = self.data.model_dump(mode="json")
        text = ("# hospfab site trust store: the validator keys this site trusts (never inside the catalog).\n"
                "# Edit it only through `hospfab keys trust|revoke|policy`; protect it like a password file.\n")
        text += yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        make_private_dir(self.path.parent)  # who can write this folder decides who may validate
        atomic_write_bytes(self.path, text.encode(), mode=0o644)
        self.exists = True
        return self.path
