"""The Vault: issue reversible tokens, resolve one for a reveal, re-hydrate text and JSON.

>>> vault = Vault.open("sqlite:///var/lib/redactor/vault.db", key=VaultKey.load(file="vault.key"))
...                                                                        # doctest: +SKIP
>>> scope = TokenScope("acme", "4711")
>>> vault.issue("EMAIL_ADDRESS", "dana@example.com", scope)                # doctest: +SKIP
'<EMAIL_ADDRESS_7K3P9Q>'
>>> vault.rehydrate("Dear <EMAIL_ADDRESS_7K3P9Q>", scope).text             # doctest: +SKIP
'Dear dana@example.com'

Within one scope (tenant + ticket) and the TTL, the same (entity type, value) always gets
the same token; another scope gets another token and cannot re-hydrate this one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from .crypto import VaultKey, frame
from .errors import TokenNotFound, VaultError
from .store import VaultRow, VaultStore, open_vault_store
from .tokens import TOKEN_RE, TokenScope, format_token, new_token_id, parse_token

__all__ = ["JsonRehydration", "Rehydration", "Revealed", "Vault"]

DEFAULT_TTL_S = 30 * 24 * 3600.0
_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Revealed:
    """A resolved token: its entity type and the original value (handle as PII)."""

    token: str
    entity_type: str
    value: str

    def __repr__(self) -> str:
        return f"Revealed(token={self.token!r}, entity_type={self.entity_type!r}, value=<hidden>)"


@dataclass(frozen=True, slots=True)
class Rehydration:
    """Re-hydrated ``text``; ``counts`` of replaced tokens by entity type; ``unresolved``:
    tokens left as they were (another scope, expired, or never issued)."""

    text: str
    counts: dict[str, int]
    unresolved: int


@dataclass(frozen=True, slots=True)
class JsonRehydration:
    value: Any
    counts: dict[str, int]
    unresolved: int


def _aad(scope: TokenScope, entity_type: str, token_id: str) -> bytes:
    return b"redactor-vault/v1" + frame(scope.tenant, scope.ticket, entity_type, token_id)


class Vault:
    """Reversible tokens over a :class:`VaultStore`.

    Args:
        store: an open store (see :meth:`open` for a URL).
        key: the :class:`VaultKey`.
        ttl_s: seconds a token stays valid after it is issued (default 30 days).
        clock: seconds since the epoch; injectable for tests.
    """

    def __init__(self, store: VaultStore, key: VaultKey, *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive (seconds)")
        self.store, self._key, self._ttl_us, self._clock = store, key, int(ttl_s * 1e6), clock

    @classmethod
    def open(cls, url: str, *, key: VaultKey, ttl_s: float = DEFAULT_TTL_S,
             clock: Callable[[], float] = time.time) -> Vault:
        """Open (creating tables if needed) the vault at ``url``. Raises :class:`VaultStoreError`."""
        return cls(open_vault_store(url), key, ttl_s=ttl_s, clock=clock)

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def issue(self, entity_type: str, value: str, scope: TokenScope) -> str:
        """The token for ``value`` in ``scope``: the live one if any, else a new one.

        Raises:
            VaultStoreError: the database failed (callers redacting must fail closed).
            VaultError: no free token id after several attempts.
        """
        now = self._now_us()
        lookup = self._key.lookup(scope.tenant, scope.ticket, entity_type, value)
        for _ in range(_ATTEMPTS):
            found = self.store.find_by_lookup(scope.tenant, scope.ticket, lookup, now)
            if found is not None:
                return format_token(found.entity_type, found.token)
            token_id = new_token_id()
            nonce, ciphertext = self._key.encrypt(value, _aad(scope, entity_type, token_id))
            row = VaultRow(scope.tenant, scope.ticket, token_id, entity_type, lookup, nonce,
                           ciphertext, now, now + self._ttl_us)
            if self.store.insert(row, now):
                return format_token(entity_type, token_id)
        raise VaultError("could not allocate a token id in this scope")

    def resolve(self, token: str, scope: TokenScope) -> Revealed:
        """The value behind ``token`` if it was issued in ``scope`` and has not expired.

        Raises:
            TokenNotFound: malformed, another scope, expired or unknown (one error for all).
            VaultError: the stored ciphertext failed authentication.
        """
        parsed = parse_token(token)
        if parsed is None:
            raise TokenNotFound("not a vault token")
        entity_type, token_id = parsed
        row = self.store.get_many(scope.tenant, scope.ticket, [token_id], self._now_us()).get(token_id)
        if row is None or row.entity_type != entity_type:
            raise TokenNotFound(f"token {token_id} is not valid in this ticket")
        value = self._key.decrypt(row.nonce, row.ciphertext, _aad(scope, entity_type, token_id))
        return Revealed(format_token(entity_type, token_id), entity_type, value)

    def rehydrate(self, text: str, scope: TokenScope) -> Rehydration:
        """``text`` with every token issued in ``scope`` replaced by its value."""
        result = self._rehydrate_many([text], scope)
        return Rehydration(result[0][0], result[1], result[2])

    def rehydrate_json(self, value: Any, scope: TokenScope) -> JsonRehydration:
        """:meth:`rehydrate` on every string value (not keys) of parsed JSON, in one lookup."""
        slots: list[tuple[Any, Any]] = []
        stack: list[Any] = [value]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node) \
                if isinstance(node, list) else ()
            for k, v in items:
                if isinstance(v, str) and "<" in v:
                    slots.append((node, k))
                elif isinstance(v, (dict, list)):
                    stack.append(v)
        if isinstance(value, str):
            texts, counts, unresolved = self._rehydrate_many([value], scope)
            return JsonRehydration(texts[0], counts, unresolved)
        texts, counts, unresolved = self._rehydrate_many([n[k] for n, k in slots], scope)
        for (node, k), text in zip(slots, texts):
            node[k] = text
        return JsonRehydration(value, counts, unresolved)

    def _rehydrate_many(self, texts: list[str], scope: TokenScope) -> tuple[list[str], dict[str, int], int]:
        ids = {m.group(2) for t in texts for m in TOKEN_RE.finditer(t)}
        rows = self.store.get_many(scope.tenant, scope.ticket, ids, self._now_us()) if ids else {}
        values: dict[str, str] = {}
        counts: dict[str, int] = {}
        unresolved = 0

        def substitute(m: Any) -> str:
            nonlocal unresolved
            etype, token_id = m.group(1), m.group(2)
            row = rows.get(token_id)
            if row is None or row.entity_type != etype:
                unresolved += 1
                return str(m.group(0))
            if token_id not in values:
                values[token_id] = self._key.decrypt(row.nonce, row.ciphertext,
                                                     _aad(scope, etype, token_id))
            counts[etype] = counts.get(etype, 0) + 1
            return values[token_id]

        out = [TOKEN_RE.sub(substitute, t) for t in texts]
        return out, counts, unresolved

    def purge_expired(self) -> int:
        """Delete expired tokens; return how many."""
        return self.store.purge_expired(self._now_us())

    def close(self) -> None:
        self.store.close()
