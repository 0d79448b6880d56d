"""Reversible tokens for the ``pseudonymize`` operator (``vault: true``).

``<EMAIL_ADDRESS_7K3P9Q>`` stands for one value in one ticket: the value is stored
encrypted (AES-256-GCM, NIST SP 800-38D) in SQLite or PostgreSQL, found again by a keyed
hash, never stored in plain text, and expires after a TTL.
"""

from __future__ import annotations

from .crypto import VaultKey, generate_key_file
from .errors import TokenNotFound, VaultError, VaultKeyError, VaultStoreError
from .store import VaultStore, open_vault_store
from .tokens import TOKEN_RE, TokenScope, format_token, parse_token
from .vault import JsonRehydration, Rehydration, Revealed, Vault

__all__ = [
    "JsonRehydration",
    "Rehydration",
    "Revealed",
    "TOKEN_RE",
    "TokenNotFound",
    "TokenScope",
    "Vault",
    "VaultError",
    "VaultKey",
    "VaultKeyError",
    "VaultStore",
    "VaultStoreError",
    "format_token",
    "generate_key_file",
    "open_vault_store",
    "parse_token",
]
