"""Token syntax: ``<EMAIL_ADDRESS_7K3P9Q>`` is an entity type, ``_`` and a 6-character id.

The id is 30 random bits in Crockford base32 (digits and upper-case letters without
I, L, O, U), so tokens are short, unambiguous to read aloud and never spell a value.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

__all__ = ["TOKEN_RE", "TokenScope", "format_token", "new_token_id", "parse_token"]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 6
TOKEN_RE = re.compile(r"<([A-Z][A-Z0-9_]{0,63})_([0-9A-HJKMNP-TV-Z]{6})>")


@dataclass(frozen=True, slots=True)
class TokenScope:
    """Where a token is valid: one ``ticket`` of one ``tenant`` (non-empty, at most 200 chars).

    Raises:
        ValueError: an empty, over-long or NUL-containing field.
    """

    tenant: str
    ticket: str

    def __post_init__(self) -> None:
        for name in ("tenant", "ticket"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v or len(v) > 200 or "\x00" in v:
                raise ValueError(f"TokenScope.{name} must be a non-empty string of at most 200 "
                                 "characters without NUL")


def new_token_id() -> str:
    """A fresh random id: 6 Crockford base32 characters (30 bits)."""
    n = secrets.randbits(5 * ID_LENGTH)
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(ID_LENGTH)))


def format_token(entity_type: str, token_id: str) -> str:
    return f"<{entity_type}_{token_id}>"


def parse_token(token: str) -> tuple[str, str] | None:
    """``(entity_type, id)`` of a whole token string, or ``None`` if it is not one."""
    m = TOKEN_RE.fullmatch(token.strip())
    return None if m is None else (m.group(1), m.group(2))
