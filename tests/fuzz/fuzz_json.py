"""Fuzz the proxy's JSON body redaction (orjson / stdlib parsing, field rules, writing).

Raw bytes must give redacted JSON or :class:`RedactionFailed` / :class:`DetectionTimeout`;
a generated document with a planted value in a string must come back as valid JSON with
the same keys and without the value.
"""

from __future__ import annotations

import json

import atheris

from fuzz_common import assert_no_leak, expect, main, planted_text, redactor

with atheris.instrument_imports(include=["redactor"]):
    from redactor import DetectionTimeout
    from redactor.proxy.bodies import redact_body
    from redactor.proxy.codecs import BodyKind
    from redactor.proxy.errors import RedactionFailed

ALLOWED = (RedactionFailed, DetectionTimeout)
SEEDS = [b'{"ticket": {"id": 1, "body": "mail maria.gonzalez@example.com"}}', b"[1, 2.5, null, true]",
         b'{"a": [{"b": "4111 1111 1111 1111"}], "n": 123456789012345678901234}', b'"x"']


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 1)
    charset = ["utf-8", "latin-1", "utf-16"][fdp.ConsumeIntInRange(0, 2)]
    if mode == 0:  # raw bytes: any outcome but a crash
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        out = expect(ALLOWED, lambda: redact_body(redactor(), BodyKind.JSON, body, charset))
        if out is not None and body.strip():  # a blank body is passed on as it is
            json.loads(out[0])  # what the proxy sends is JSON
        return
    text, value = planted_text(fdp)
    key = fdp.ConsumeUnicodeNoSurrogates(8)
    extra = fdp.ConsumeIntInRange(-2**63, 2**63)
    doc = {"ticket": {key: [text, extra], "n": extra}, "notes": [text]} if key != "ticket" else {key: text}
    body = json.dumps(doc, ensure_ascii=fdp.ConsumeBool()).encode("utf-8")
    out = expect((DetectionTimeout,), lambda: redact_body(redactor(), BodyKind.JSON, body, "utf-8"))
    if out is None:
        return
    assert_no_leak(out[0], value)
    assert_no_leak(json.loads(out[0]).__repr__(), value)  # nor once \\u escapes are read
    result = json.loads(out[0])
    assert sorted(result) == sorted(doc)


if __name__ == "__main__":
    main(test_one_input)
