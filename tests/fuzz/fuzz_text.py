"""Fuzz text/plain and text/csv redaction: charsets, CSV quoting, whole-text detection."""

from __future__ import annotations

import csv
import io

import atheris

from fuzz_common import assert_no_leak, expect, main, planted_text, redactor

with atheris.instrument_imports(include=["redactor"]):
    from redactor import DetectionTimeout
    from redactor.proxy.bodies import redact_body
    from redactor.proxy.codecs import BodyKind
    from redactor.proxy.errors import RedactionFailed

ALLOWED = (RedactionFailed, DetectionTimeout)
CHARSETS = ["utf-8", "latin-1", "utf-16", "cp1252", "shift_jis", "no-such-charset"]
SEEDS = [b"Hi, mail maria.gonzalez@example.com or call 415-555-0132.", b'a,b\n"1,2",4111 1111 1111 1111\n',
         "caf\u00e9 \u200b\u05e9".encode()]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = BodyKind.CSV if fdp.ConsumeBool() else BodyKind.TEXT
    if fdp.ConsumeBool():  # raw bytes in a fuzzed charset
        charset = CHARSETS[fdp.ConsumeIntInRange(0, len(CHARSETS) - 1)]
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        expect(ALLOWED, lambda: redact_body(redactor(), kind, body, charset))
        return
    text, value = planted_text(fdp)
    if kind is BodyKind.CSV:  # the planted text is one quoted cell of a row
        out_csv = io.StringIO()
        csv.writer(out_csv).writerow([fdp.ConsumeUnicodeNoSurrogates(8), text, "x"])
        text = out_csv.getvalue()
    body = text.encode("utf-8", "surrogatepass")
    out = expect((DetectionTimeout,), lambda: redact_body(redactor(), kind, body, "utf-8"))
    if out is not None:
        assert_no_leak(out[0], value)


if __name__ == "__main__":
    main(test_one_input)
