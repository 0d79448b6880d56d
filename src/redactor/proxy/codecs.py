"""Body codecs: what kind of body a Content-Type is, and Content-Encoding both ways.

* :func:`classify` maps a ``Content-Type`` to a :class:`BodyKind` the proxy redacts, to
  pass-through (a policy ``proxy.passthrough_types`` entry), or to a refusal naming the rule.
* :func:`decode_body` undoes ``gzip`` / ``deflate`` / ``br`` with a cap on the *decoded*
  size (a small compressed body cannot expand past ``limit``: no zip bombs).
* :func:`choose_encoding` picks what to send back from the client's ``Accept-Encoding``;
  :func:`encode_body` applies it.
"""

from __future__ import annotations

import enum
import fnmatch
import zlib
from dataclasses import dataclass
from typing import Sequence

import brotli  # type: ignore[import-untyped]

from .errors import BodyDecodeError, BodyTooLarge

__all__ = ["SUPPORTED_ENCODINGS", "BodyKind", "Classification", "StreamDecoder", "choose_encoding",
           "classify", "decode_body", "encode_body", "parse_content_type", "parse_encodings",
           "upstream_accept_encoding"]

SUPPORTED_ENCODINGS = ("br", "gzip", "deflate")


class BodyKind(enum.Enum):
    """How a response body is redacted."""

    JSON = "json"
    NDJSON = "ndjson"
    SSE = "sse"
    HTML = "html"
    CSV = "csv"
    TEXT = "text"

    @property
    def streamed(self) -> bool:
        """NDJSON and SSE are redacted line by line / event by event as they arrive."""
        return self in (BodyKind.NDJSON, BodyKind.SSE)


_EXACT = {
    "application/json": BodyKind.JSON,
    "text/json": BodyKind.JSON,
    "application/x-ndjson": BodyKind.NDJSON,
    "application/ndjson": BodyKind.NDJSON,
    "application/jsonl": BodyKind.NDJSON,
    "application/x-jsonlines": BodyKind.NDJSON,
    "application/jsonlines": BodyKind.NDJSON,
    "text/event-stream": BodyKind.SSE,
    "text/html": BodyKind.HTML,
    "application/xhtml+xml": BodyKind.HTML,
    "text/csv": BodyKind.CSV,
    "text/plain": BodyKind.TEXT,
}
# text/* types whose markup a text redaction would break: refused unless listed to pass.
_NOT_PLAIN_TEXT = ("text/xml", "text/javascript", "text/css", "text/calendar", "text/vcard")


@dataclass(frozen=True, slots=True)
class Classification:
    """The decision for one response: ``kind`` to redact, or ``passthrough``, or refused.

    ``rule`` names the policy rule behind a pass-through or a refusal (for the 403 error).
    """

    kind: BodyKind | None
    passthrough: bool = False
    rule: str | None = None
    charset: str = "utf-8"

    @property
    def refused(self) -> bool:
        return self.kind is None and not self.passthrough


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """``'Text/HTML; charset=ISO-8859-1'`` -> ``('text/html', 'iso-8859-1')``."""
    if not value:
        return "", None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.strip().partition("=")
        if name.strip().lower() == "charset" and val:
            charset = val.strip().strip('"').lower()
    return media.strip().lower(), charset


def classify(content_type: str | None, passthrough_types: Sequence[str]) -> Classification:
    """Decide how to treat a response with this ``Content-Type``.

    Redactable kinds win over the pass-through list, so a policy cannot let JSON through
    unredacted by listing ``*/*``.
    """
    media, charset = parse_content_type(content_type)
    cs = charset or "utf-8"
    kind = _EXACT.get(media)
    if kind is None and media.endswith("+json"):
        kind = BodyKind.JSON
    if kind is None and media.startswith("text/") and media not in _NOT_PLAIN_TEXT:
        kind = BodyKind.TEXT
    if kind is not None:
        return Classification(kind, charset=cs)
    for pattern in passthrough_types:
        if media and fnmatch.fnmatchcase(media, pattern.lower()):
            return Classification(None, passthrough=True, rule=f"proxy.passthrough_types: {pattern}")
    what = media or "(no Content-Type)"
    return Classification(None, rule=f"proxy.passthrough_types does not list {what}")


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise BodyTooLarge("decoded body exceeds max_body_bytes")
    if not d.eof:
        raise BodyDecodeError("compressed body is truncated")
    return out


def _decode_one(data: bytes, encoding: str, limit: int) -> bytes:
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(data, 16 + zlib.MAX_WBITS, limit)
        if encoding == "deflate":  # RFC 9110 says zlib-wrapped; some servers send raw deflate
            try:
                return _inflate(data, zlib.MAX_WBITS, limit)
            except zlib.error:
                return _inflate(data, -zlib.MAX_WBITS, limit)
        if encoding == "br":
            d = brotli.Decompressor()
            out = d.process(data, output_buffer_limit=limit + 1)
            if len(out) > limit or not d.can_accept_more_data():
                raise BodyTooLarge("decoded body exceeds max_body_bytes")
            if not d.is_finished():
                raise BodyDecodeError("compressed body is truncated")
            return bytes(out)
    except (zlib.error, brotli.error):
        raise BodyDecodeError(f"cannot decode Content-Encoding {encoding}") from None
    raise BodyDecodeError(f"unsupported Content-Encoding {encoding}")


def parse_encodings(header: str | None) -> list[str]:
    """``'gzip, identity'`` -> ``['gzip']`` (in the order they were applied)."""
    if not header:
        return []
    return [e.strip().lower() for e in header.split(",") if e.strip() and e.strip().lower() != "identity"]


def decode_body(data: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """Undo every coding in ``content_encoding`` (last applied first).

    Raises:
        BodyTooLarge: the decoded body (or the raw one) is over ``limit`` bytes.
        BodyDecodeError: an unknown coding, a corrupt or truncated stream.
    """
    if len(data) > limit:
        raise BodyTooLarge("body exceeds max_body_bytes")
    for encoding in reversed(parse_encodings(content_encoding)):
        data = _decode_one(data, encoding, limit)
    return data


class StreamDecoder:
    """Incremental decoding of one Content-Encoding for streamed (SSE / NDJSON) bodies."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = parse_encodings(content_encoding)
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate", "br")):
            raise BodyDecodeError(f"unsupported Content-Encoding {content_encoding}")
        self._coding = codings[0] if codings else None
        self._zlib = None
        self._br = None
        if self._coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif self._coding == "br":
            self._br = brotli.Decompressor()

    def feed(self, chunk: bytes) -> bytes:
        try:
            if self._zlib is not None:
                return self._zlib.decompress(chunk)
            if self._br is not None:
                return bytes(self._br.process(chunk))
        except (zlib.error, brotli.error):
            raise BodyDecodeError(f"cannot decode Content-Encoding {self._coding}") from None
        return chunk

    def finish(self) -> None:
        """Raise :class:`BodyDecodeError` if the compressed stream ended early."""
        if self._zlib is not None and not self._zlib.eof:
            raise BodyDecodeError("compressed stream is truncated")
        if self._br is not None and not self._br.is_finished():
            raise BodyDecodeError("compressed stream is truncated")


def _qvalues(accept_encoding: str | None) -> dict[str, float]:
    prefs: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        prefs[name] = q
    return prefs


def choose_encoding(accept_encoding: str | None, preferred: str | None = None) -> str | None:
    """The coding to send a redacted body in, or ``None`` for identity.

    ``preferred`` (what the upstream used) wins when the client accepts it; otherwise the
    client's highest-q supported coding; identity when the client asked for none.
    """
    prefs = _qvalues(accept_encoding)
    star = prefs.get("*", 0.0)

    def q(coding: str) -> float:
        return prefs.get(coding, star)

    if preferred in SUPPORTED_ENCODINGS and q(preferred) > 0:
        return preferred
    if preferred is None:
        return None
    best = max(SUPPORTED_ENCODINGS, key=lambda c: (q(c), c == "gzip"))
    return best if q(best) > 0 else None


def encode_body(data: bytes, encoding: str | None) -> bytes:
    """Compress ``data`` with ``encoding`` (``br`` quality 4, ``gzip`` / ``deflate`` level 6)."""
    if encoding is None:
        return data
    if encoding == "br":
        return bytes(brotli.compress(data, quality=4))
    if encoding == "gzip":
        c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if encoding == "deflate":
        return zlib.compress(data, 6)
    raise ValueError(f"unsupported encoding {encoding}")


def upstream_accept_encoding(client_accept: str | None) -> str:
    """What to ask the upstream for: the client's codings that the proxy can decode."""
    prefs = _qvalues(client_accept)
    star = prefs.get("*", 0.0)
    wanted = [c for c in ("gzip", "deflate", "br") if prefs.get(c, star) > 0]
    return ", ".join(wanted) if wanted else "identity"
