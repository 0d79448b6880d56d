"""The vault key: one 256-bit master key, from which two keys are derived (HKDF, RFC 5869):

* an AES-256-GCM key (NIST SP 800-38D) that encrypts each value with a fresh 96-bit
  random nonce; the associated data binds the ciphertext to its tenant, ticket, entity
  type and token id, so a ciphertext moved to another row fails to decrypt;
* an HMAC-SHA256 key for the *lookup hash* of (scope, entity type, value), which finds
  the token already issued for a value without storing the value.

With random nonces one key should encrypt at most 2^32 values (SP 800-38D, 8.3): rotate
(re-key and re-issue) well before that. The key comes from a hex file
(``redactor vault keygen``) or a hex environment variable; nothing falls back to a
default key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..keyfiles import decode_hex_key, read_hex_key, write_secret_file
from .errors import VaultError, VaultKeyError

__all__ = ["VaultKey", "generate_key_file"]

KEY_BYTES = 32
NONCE_BYTES = 12


def frame(*parts: str) -> bytes:
    """Length-prefixed UTF-8 parts: unambiguous, so ("a", "bc") never equals ("ab", "c")."""
    out = bytearray()
    for p in parts:
        b = p.encode("utf-8")
        out += len(b).to_bytes(4, "big") + b
    return bytes(out)


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class VaultKey:
    """The derived encryption and lookup keys. Build with :meth:`load`, :meth:`from_file`,
    :meth:`from_env` or from 32 raw bytes."""

    def __init__(self, master: bytes) -> None:
        if len(master) < KEY_BYTES:
            raise VaultKeyError(f"the vault key must be at least {KEY_BYTES} bytes")
        self._aead = AESGCM(_derive(master, b"redactor-vault/v1 aes-256-gcm"))
        self._index = _derive(master, b"redactor-vault/v1 lookup-hmac")

    def __repr__(self) -> str:
        return "VaultKey(<secret>)"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> VaultKey:
        return cls(read_hex_key(path, min_bytes=KEY_BYTES, what="vault key", error=VaultKeyError))

    @classmethod
    def from_env(cls, name: str) -> VaultKey:
        value = os.environ.get(name)
        if not value:
            raise VaultKeyError(f"vault key environment variable {name} is not set")
        return cls(decode_hex_key(value, min_bytes=KEY_BYTES, what=f"environment variable {name}",
                                  error=VaultKeyError))

    @classmethod
    def load(cls, *, file: str | os.PathLike[str] | None = None, env: str | None = None) -> VaultKey:
        """The key from ``file`` or else environment variable ``env``.

        Raises:
            VaultKeyError: neither is given, or the one given is missing or malformed.
        """
        if file is not None:
            return cls.from_file(file)
        if env is not None:
            return cls.from_env(env)
        raise VaultKeyError("no vault key configured: give a key file (redactor vault keygen "
                            "--out FILE) or the name of an environment variable holding it")

    def lookup(self, *parts: str) -> bytes:
        """HMAC-SHA256 of the framed parts under the lookup key (32 bytes)."""
        return hmac.new(self._index, frame(*parts), hashlib.sha256).digest()

    def encrypt(self, value: str, aad: bytes) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext||tag)`` of ``value`` under AES-256-GCM."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, value.encode("utf-8"), aad)

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> str:
        """The value, or :class:`VaultError` when the ciphertext or its binding was altered."""
        try:
            return self._aead.decrypt(nonce, ciphertext, aad).decode("utf-8")
        except InvalidTag:
            raise VaultError("a vault entry failed authentication (altered, or another key)") from None


def generate_key_file(path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Write a new random 256-bit key as hex to ``path`` (mode 0600)."""
    write_secret_file(path, secrets.token_bytes(KEY_BYTES).hex().encode() + b"\n", force=force)
