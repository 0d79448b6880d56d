"""Audit keys: an HMAC key (hex file) and an Ed25519 key pair (PEM files).

``redactor audit keygen --dir D`` writes ``D/audit-hmac.key`` (32 random bytes, hex),
``D/audit-signing.pem`` (PKCS#8 private key) and ``D/audit-signing.pub.pem``
(SubjectPublicKeyInfo). Private files are mode 0600. The proxy needs the HMAC key and
the private key; a verifier needs the HMAC key and only the *public* key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat, load_pem_private_key,
                                                          load_pem_public_key)

from ..keyfiles import read_hex_key, write_secret_file
from .errors import AuditKeyError

__all__ = ["HMAC_KEY_BYTES", "generate_keys", "load_hmac_key", "load_private_key",
           "load_public_key"]

HMAC_KEY_BYTES = 32
HMAC_FILE, PRIVATE_FILE, PUBLIC_FILE = "audit-hmac.key", "audit-signing.pem", "audit-signing.pub.pem"


def load_hmac_key(path: str | os.PathLike[str]) -> bytes:
    """The HMAC key in hex file ``path`` (at least 32 bytes). Raises :class:`AuditKeyError`."""
    return read_hex_key(path, min_bytes=HMAC_KEY_BYTES, what="audit HMAC key", error=AuditKeyError)


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise AuditKeyError(f"{what} file not found: {os.fspath(path)}") from None
    except OSError as exc:
        raise AuditKeyError(f"cannot read {what} file {os.fspath(path)}: {exc.strerror}") from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path``. Raises :class:`AuditKeyError`."""
    try:
        key = load_pem_private_key(_read(path, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"signing key file {os.fspath(path)} is not an unencrypted PEM "
                            f"private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"signing key file {os.fspath(path)} is not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM file ``path``. Raises :class:`AuditKeyError`."""
    try:
        key = load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"public key file {os.fspath(path)} is not a PEM public key: "
                            f"{exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"public key file {os.fspath(path)} is not an Ed25519 key")
    return key


def generate_keys(directory: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Write a new HMAC key and Ed25519 key pair into ``directory``; return the paths.

    Raises:
        FileExistsError: a key file exists and ``force`` is false.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    paths = [d / HMAC_FILE, d / PRIVATE_FILE, d / PUBLIC_FILE]
    if not force:
        for p in paths:
            if p.exists():
                raise FileExistsError(f"{p} exists (use --force to replace it)")
    write_secret_file(paths[0], secrets.token_bytes(HMAC_KEY_BYTES).hex().encode() + b"\n",
                      force=force)
    write_secret_file(paths[1], private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                      NoEncryption()), force=force)
    paths[2].write_bytes(private.public_key().public_bytes(Encoding.PEM,
                                                           PublicFormat.SubjectPublicKeyInfo))
    return paths
