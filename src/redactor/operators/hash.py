"""``hash``: keyed HMAC-SHA256 (RFC 2104, FIPS 180-4) of the value, as hex.

A key is required: from ``key_env`` (an environment variable holding the key, at least 16
bytes), ``key_file`` (a file whose bytes, stripped, are the key) or ``Redactor(hash_key=...)``.
An unkeyed hash of a name or card number is reversible by brute force, so a missing key
is an :class:`~redactor.errors.OperatorError`, never a silent unkeyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import OperatorError
from .base import OPERATORS, OperationContext, OperatorFactory

MIN_KEY_BYTES = 16


class HashParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key_env: str | None = None
    key_file: str | None = None
    length: int = Field(64, ge=16, le=64, description="hex characters kept from the digest")


def _read_key(params: HashParams, given: bytes | None) -> bytes:
    if given is not None:
        key = given
    elif params.key_env is not None:
        value = os.environ.get(params.key_env)
        if not value:
            raise OperatorError(f"hash operator: environment variable {params.key_env} is not set")
        key = value.encode()
    elif params.key_file is not None:
        try:
            key = Path(params.key_file).read_bytes().strip()
        except OSError as exc:
            raise OperatorError(f"hash operator: cannot read key_file {params.key_file}: "
                                f"{exc.strerror}") from None
    else:
        raise OperatorError("hash operator needs a key: set key_env or key_file in the policy, "
                            "or pass Redactor(hash_key=...)")
    if len(key) < MIN_KEY_BYTES:
        raise OperatorError(f"hash operator: the key must be at least {MIN_KEY_BYTES} bytes")
    return key


class Hash:
    name = "hash"
    keeps_value = False

    def __init__(self, args: tuple[HashParams, bytes | None]) -> None:
        params, given = args
        self._key = _read_key(params, given)
        self._length = params.length

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[: self._length]


def _build(args: Any) -> Hash:
    return Hash(args)


OPERATORS.register("hash")(OperatorFactory(HashParams, _build))
