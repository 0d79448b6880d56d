"""Fuzz Content-Encoding decoding (gzip, deflate, br; whole bodies and streams).

Corrupt, truncated or oversized input must raise :class:`BodyDecodeError` or
:class:`BodyTooLarge`; a valid encoding of a text with a planted value must decode to that
text exactly, and the decoded text redacted must not hold the value.
"""

from __future__ import annotations

import atheris

from fuzz_common import assert_no_leak, expect, main, planted_text, redactor

with atheris.instrument_imports(include=["redactor"]):
    from redactor import DetectionTimeout
    from redactor.proxy.bodies import redact_body
    from redactor.proxy.codecs import BodyKind, StreamDecoder, decode_body, encode_body
    from redactor.proxy.errors import BodyDecodeError, BodyTooLarge

ALLOWED = (BodyDecodeError, BodyTooLarge)
CODINGS = ["gzip", "deflate", "br", "x-gzip", "gzip, br", "identity", "br, deflate", "compress", ""]
SEEDS = [encode_body(b"mail maria.gonzalez@example.com", "gzip"), encode_body(b"x" * 300, "br"),
         encode_body(b"415-555-0132", "deflate")]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    coding = CODINGS[fdp.ConsumeIntInRange(0, len(CODINGS) - 1)]
    limit = fdp.ConsumeIntInRange(1, 1 << 20)
    mode = fdp.ConsumeIntInRange(0, 2)
    if mode == 0:  # a whole fuzzed body
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        out = expect(ALLOWED, lambda: decode_body(body, coding, limit=limit))
        assert out is None or len(out) <= limit
    elif mode == 1:  # a fuzzed stream in fuzzed chunks
        decoder = expect(ALLOWED, lambda: StreamDecoder(coding))
        if decoder is None:
            return
        try:
            while fdp.remaining_bytes():
                decoder.feed(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 512)))
            decoder.finish()
        except ALLOWED:
            pass
    else:  # a real encoding of a planted text: exact round trip, then redaction
        text, value = planted_text(fdp)
        raw = text.encode("utf-8", "surrogatepass")
        single = coding if coding in ("gzip", "deflate", "br") else "gzip"
        encoded = encode_body(raw, single)
        # The limit applies to the encoded body too, which may be longer than a short text.
        decoded = decode_body(encoded, single, limit=max(len(raw), len(encoded)))
        assert decoded == raw
        chunks = StreamDecoder(single)
        streamed = chunks.feed(encoded)
        chunks.finish()
        assert streamed == raw
        out = expect((DetectionTimeout,), lambda: redact_body(redactor(), BodyKind.TEXT, decoded, "utf-8"))
        if out is not None:
            assert_no_leak(out[0], value)


if __name__ == "__main__":
    main(test_one_input)
