"""Ed25519 keys and signatures for validation records (``cryptography``).

Private keys are PEM (PKCS#8, unencrypted, mode 0600) and never live inside the catalog. Trusted public keys
are PEM files in ``<catalog>/keys/*.pub``; a key is identified by its fingerprint (first 16 hex digits of the
sha256 of the raw 32-byte public key).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hospfab.fileio import atomic_write_bytes
from hospfab.errors import ConfigError, InputError, IntegrityError, NotFoundError, SafetyError

KEY_NAME = __import__("re").compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class TrustedKey:
    name: str
    key_id: str
    path: Path
    public_key: Ed25519PublicKey


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def generate_key_pair(name: str, private_dir: Path, *, catalog_root: Path | None = None) -> tuple[Path, Path, str]:
    """Make a key pair: ``private_dir/NAME.key`` (0600) and ``private_dir/NAME.pub``. Refuses to write the
    private key inside the catalog or over an existing key. Returns (private path, public path, key id)."""
    if not KEY_NAME.match(name):
        raise InputError(f"invalid key name {name!r}: letters, digits, '.', '_' and '-' only")
    private_path = private_dir / f"{name}.key"
    public_path = private_dir / f"{name}.pub"
    if catalog_root is not None and _inside(private_path, catalog_root):
        raise SafetyError(f"{private_path}: private keys must never be written inside the catalog ({catalog_root})")
    if private_path.exists():
        raise InputError(f"{private_path}: a key with this name already exists; choose another name")
    private_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write_bytes(private_path, pem, mode=0o600)
    atomic_write_bytes(public_path, public_pem(key.public_key()), mode=0o644)
    return private_path, public_path, fingerprint(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path}: private key not found") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read private key ({err.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InputError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError, OSError):
        raise ConfigError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 public key")
    return key


def trusted_keys(keys_dir: Path) -> dict[str, TrustedKey]:
    """Trusted keys by key id, from ``keys_dir/*.pub``."""
    out: dict[str, TrustedKey] = {}
    if not keys_dir.is_dir():
        return out
    for path in sorted(keys_dir.glob("*.pub")):
        if path.is_symlink():
            raise ConfigError(f"{path}: symbolic link refused for a trusted key")
        key = load_public_key(path)
        key_id = fingerprint(key)
        out[key_id] = TrustedKey(path.stem, key_id, path, key)
    return out


def sign(private_key: Ed25519PrivateKey, payload: bytes) -> str:
    return base64.b64encode(private_key.sign(payload)).decode()


def verify_signature(trusted: dict[str, TrustedKey], key_id: str, payload: bytes, signature: str, where: Path) -> TrustedKey:
    """Check ``signature`` of ``payload`` by the trusted key ``key_id``; IntegrityError naming ``where``."""
    key = trusted.get(key_id)
    if key is None:
        raise IntegrityError(f"{where}: signed by key {key_id}, which is not trusted in this catalog's keys/")
    try:
        key.public_key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, ValueError):
        raise IntegrityError(f"{where}: signature does not match (record altered or forged)") from None
    return key


def private_key_mode_ok(path: Path) -> bool:
    return (os.stat(path).st_mode & 0o077) == 0
