"""Vault tokens in the proxy: which policies need a vault, and how every process opens it.

A policy whose ``pseudonymize`` operator has ``vault: true`` (for any entity type, in the
base policy or a role) issues ``<EMAIL_ADDRESS_7K3P9Q>`` tokens. Each process that redacts
(the proxy itself for inline jobs, every worker) opens the *same* vault store from a
:class:`VaultSpec`: the store's unique (tenant, ticket, lookup hash) row makes the token of
one value in one ticket the same whichever process issued it first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..keyfiles import decode_hex_key, read_hex_key
from ..policy import OperatorSpec, Policy

if TYPE_CHECKING:
    from ..vault import Vault

__all__ = ["NO_TICKET", "VaultSpec", "load_vault_spec", "policy_uses_vault"]

NO_TICKET = "-"  # the scope of tokens issued outside any ticket: never re-hydrated or revealed
KEY_BYTES = 32


def _operators(policy: Policy) -> Iterator[OperatorSpec]:
    yield policy.default_operator
    for entity in policy.entities.values():
        if entity.operator is not None:
            yield entity.operator
    for role in policy.roles.values():
        for entity in role.entities.values():
            if entity.operator is not None:
                yield entity.operator


def policy_uses_vault(policy: Policy) -> bool:
    """Whether any operator of ``policy`` (roles included) is ``pseudonymize`` with ``vault: true``."""
    return any(op.type == "pseudonymize" and bool(op.params.get("vault")) for op in _operators(policy))


@dataclass(frozen=True)
class VaultSpec:
    """What a process needs to open the vault: store URL, tenant, TTL (seconds), the key.

    Picklable, so it travels to worker processes; its ``repr`` hides the key.
    """

    url: str
    tenant: str
    ttl_s: float
    key: bytes = field(repr=False)

    def open(self, clock: Callable[[], float] | None = None) -> Vault:
        """A :class:`~redactor.vault.Vault` on the store. Raises :class:`VaultStoreError`."""
        from ..vault import Vault, VaultKey

        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        return Vault.open(self.url, key=VaultKey(self.key), ttl_s=self.ttl_s, **kwargs)


def load_vault_spec(*, url: str, tenant: str, ttl_s: float, key_file: str | None,
                    key_env: str | None, env: dict[str, str] | None = None) -> VaultSpec:
    """Read the vault key from ``key_file`` or else environment variable ``key_env``.

    Raises:
        VaultKeyError: neither holds a key, or the key is malformed or shorter than 32 bytes;
            the message says how to make one (``redactor vault keygen --out FILE``).
    """
    from ..vault import VaultKeyError

    env = dict(os.environ) if env is None else env
    if key_file:
        key = read_hex_key(key_file, min_bytes=KEY_BYTES, what="vault key", error=VaultKeyError)
    elif key_env and env.get(key_env):
        key = decode_hex_key(env[key_env], min_bytes=KEY_BYTES,
                             what=f"environment variable {key_env}", error=VaultKeyError)
    else:
        raise VaultKeyError(
            "the policy issues vault tokens (pseudonymize with vault: true) but no vault key is "
            f"configured: pass --vault-key-file FILE or set {key_env or 'REDACTOR_VAULT_KEY'} "
            "(make a key with: redactor vault keygen --out FILE)")
    return VaultSpec(url=url, tenant=tenant, ttl_s=ttl_s, key=key)
