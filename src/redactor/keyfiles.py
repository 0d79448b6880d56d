"""Reading and writing key files (shared by the audit trail and the token vault).

A symmetric key file holds the key as hex text (``redactor audit keygen`` and
``redactor vault keygen`` write 32 random bytes as 64 hex digits and a newline) and is
created with mode 0600. Nothing here logs or prints key material.
"""

from __future__ import annotations

import binascii
import os
from pathlib import Path
from typing import Callable

__all__ = ["decode_hex_key", "read_hex_key", "write_secret_file"]


def read_hex_key(path: str | os.PathLike[str], *, min_bytes: int, what: str,
                 error: Callable[[str], Exception]) -> bytes:
    """The key in hex-text file ``path``: at least ``min_bytes`` bytes once decoded.

    Raises:
        ``error(message)``: the file is missing, unreadable, not hex, or too short.
    """
    try:
        text = Path(path).read_text("ascii").strip()
    except FileNotFoundError:
        raise error(f"{what} file not found: {os.fspath(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} file {os.fspath(path)}: {exc}") from None
    return decode_hex_key(text, min_bytes=min_bytes, what=f"{what} file {os.fspath(path)}",
                          error=error)


def decode_hex_key(text: str, *, min_bytes: int, what: str,
                   error: Callable[[str], Exception]) -> bytes:
    """Decode a hex key (as from an environment variable); see :func:`read_hex_key`."""
    try:
        key = binascii.unhexlify(text.strip())
    except (binascii.Error, ValueError):
        raise error(f"{what}: the key must be hex digits (as keygen writes)") from None
    if len(key) < min_bytes:
        raise error(f"{what}: the key must be at least {min_bytes} bytes ({2 * min_bytes} hex digits)")
    return key


def write_secret_file(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> None:
    """Create ``path`` with mode 0600 holding ``data``; refuse to overwrite unless ``force``.

    Raises:
        FileExistsError: ``path`` exists and ``force`` is false.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
