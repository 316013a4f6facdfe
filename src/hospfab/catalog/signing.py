"""Ed25519 keys and signatures for catalog records (``cryptography``).

Private keys are PEM (PKCS#8, mode 0600), passphrase-encrypted unless made with ``--no-passphrase``, and never
live inside the catalog. A key is identified by its fingerprint (first 16 hex digits of the sha256 of the raw
32-byte public key). Which keys are trusted is decided by the site's trust store (:mod:`hospfab.trust`), never
by the catalog: public keys shipped in ``<catalog>/keys/*.pub`` are a convenience for pinning them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hospfab.errors import ConfigError, InputError, SafetyError
from hospfab.fileio import atomic_write_bytes, read_regular_bytes
from hospfab.settings import make_private_dir

PASSPHRASE_ENV = "HOSPFAB_KEY_PASSPHRASE"
MAX_KEY_BYTES = 64 << 10

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


def public_b64(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_from_b64(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ValueError("not a base64 Ed25519 public key (32 bytes)") from None


def generate_key_pair(name: str, private_dir: Path, *, catalog_root: Path | None = None,
                      passphrase: str | None = None) -> tuple[Path, Path, str]:
    """Make a key pair: ``private_dir/NAME.key`` (0600, encrypted with ``passphrase`` when given) and
    ``private_dir/NAME.pub``. Refuses to write the private key inside the catalog or over an existing key.
    Returns (private path, public path, key id)."""
    if not KEY_NAME.match(name):
        raise InputError(f"invalid key name {name!r}: letters, digits, '.', '_' and '-' only")
    private_path = private_dir / f"{name}.key"
    public_path = private_dir / f"{name}.pub"
    if catalog_root is not None and _inside(private_path, catalog_root):
        raise SafetyError(f"{private_path}: private keys must never be written inside the catalog ({catalog_root})")
    if private_path.exists():
        raise InputError(f"{private_path}: a key with this name already exists; choose another name")
    make_private_dir(private_dir)
    key = Ed25519PrivateKey.generate()
    if passphrase is not None and len(passphrase) < 8:
        raise InputError("the key passphrase must have at least 8 characters")
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase is not None
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    atomic_write_bytes(private_path, pem, mode=0o600)
    atomic_write_bytes(public_path, public_pem(key.public_key()), mode=0o644)
    return private_path, public_path, fingerprint(key.public_key())


def is_encrypted(path: Path) -> bool:
    return b"ENCRYPTED PRIVATE KEY" in read_regular_bytes(path, what="private key", max_bytes=MAX_KEY_BYTES)


def load_private_key(path: Path, passphrase: Any = None) -> Ed25519PrivateKey:
    """The private key at ``path``. ``passphrase``: text, or a callable returning it, asked only when the key
    is encrypted (the CLI passes one that reads ``HOSPFAB_KEY_PASSPHRASE`` or prompts)."""
    data = read_regular_bytes(path, what="private key", max_bytes=MAX_KEY_BYTES)
    password = None
    if b"ENCRYPTED PRIVATE KEY" in data:
        secret = passphrase() if callable(passphrase) else passphrase
        if not secret:
            raise InputError(f"{path}: the private key is encrypted: give its passphrase (prompt or "
                             f"{PASSPHRASE_ENV})")
        password = secret.encode()
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except ValueError:
        if password is not None:
            raise InputError(f"{path}: wrong passphrase for the private key") from None
        raise InputError(f"{path}: not a PEM private key") from None
    except TypeError:
        raise InputError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = read_regular_bytes(path, what="public key", max_bytes=MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 public key")
    return key


def shipped_keys(keys_dir: Path) -> dict[str, TrustedKey]:
    """Public keys a catalog ships in ``keys_dir/*.pub``, by key id. NOT trusted until pinned in the site's
    trust store (``hospfab keys trust``)."""
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


def verify_raw(public_key: Ed25519PublicKey, payload: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def private_key_mode_ok(path: Path) -> bool:
    return (os.stat(path).st_mode & 0o077) == 0
