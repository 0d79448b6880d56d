"""Errors of the token vault. All derive from :class:`redactor.errors.RedactorError`::

    RedactorError
    └── VaultError
        ├── VaultKeyError      the key is not configured, unreadable or malformed (startup)
        ├── VaultStoreError    the vault database cannot be opened, read or written
        └── TokenNotFound      no such token in that scope, or it expired

Messages never contain a value; a token appears only as its opaque id.
"""

from __future__ import annotations

from ..errors import RedactorError

__all__ = ["TokenNotFound", "VaultError", "VaultKeyError", "VaultStoreError"]


class VaultError(RedactorError):
    """Base class of the vault's errors (also: a ciphertext failed authentication)."""


class VaultKeyError(VaultError):
    """The vault key is missing or malformed: the vault cannot start."""


class VaultStoreError(VaultError):
    """The vault database failed (URL, connection, query)."""


class TokenNotFound(VaultError):
    """The token was not issued in this scope, or its TTL has passed."""
