"""Database URLs shared by the audit store and the token vault.

* ``sqlite:///abs/path.db`` (absolute), ``sqlite:rel/path.db`` (relative to the working
  directory); ``sqlite:////abs/path.db`` (SQLAlchemy style) is accepted too. Anything else
  is malformed: ``sqlite:/x.db`` (one slash: absolute or a typo?) and ``sqlite://x.db``
  (``x.db`` would be a host) are refused rather than guessed.
* ``postgresql://user@host:5432/db?schema=NAME``: ``schema`` (default ``public``) is ours
  and removed; every other query parameter goes to libpq.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["FORMS", "DbUrl", "mask_url", "missing_sqlite_dir", "parse_db_url"]

FORMS = "sqlite:///ABS/PATH.db, sqlite:REL/PATH.db or postgresql://USER@HOST:PORT/DB[?schema=S]"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class DbUrl:
    """``kind`` is ``"sqlite"`` (``target`` a path) or ``"postgresql"`` (``target`` a libpq URL)."""

    kind: str
    target: str
    display: str
    params: dict[str, str] = field(default_factory=dict)
    schema: str = "public"


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_db_url(url: str, *, sqlite_params: frozenset[str],
                 error: Callable[[str], Exception]) -> DbUrl:
    """Split ``url``; ``error(message)`` is raised for an unknown scheme or parameter."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.scheme == "sqlite":
        path = parts.path
        rest = url.partition(":")[2]
        if parts.netloc or not path or (rest.startswith("/") and not rest.startswith("///")):
            raise error(f"malformed sqlite URL {mask_url(url)!r}; use {FORMS}")
        if path.startswith("//"):
            path = path[1:]
        unknown = set(query) - sqlite_params
        if unknown:
            raise error(f"unknown sqlite URL parameter(s): {', '.join(sorted(unknown))}")
        return DbUrl("sqlite", path, url, query)
    if parts.scheme in ("postgresql", "postgres"):
        schema = query.pop("schema", "public")
        if not _IDENT.match(schema):
            raise error(f"schema must match {_IDENT.pattern}")
        conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        return DbUrl("postgresql", conninfo, mask_url(url), {}, schema)
    if not parts.scheme:
        raise error(f"{mask_url(url)!r} is not a database URL; use {FORMS}")
    raise error(f"unknown URL scheme {parts.scheme!r}; use {FORMS}")


def missing_sqlite_dir(db: DbUrl) -> Path | None:
    """The directory a SQLite ``db`` would live in when it does not exist, else ``None``.

    Stores never create directories: a typo in a path must not quietly make a new tree.
    """
    if db.kind != "sqlite":
        return None
    parent = Path(db.target).parent
    return None if parent.is_dir() else parent
