"""Fuzz the streamed bodies: NDJSON lines and SSE events, split as the proxy splits them."""

from __future__ import annotations

import json

import atheris

from fuzz_common import assert_no_leak, expect, main, planted_text, redactor

with atheris.instrument_imports(include=["redactor"]):
    from redactor import DetectionTimeout
    from redactor.proxy.bodies import redact_units
    from redactor.proxy.codecs import BodyKind
    from redactor.proxy.errors import RedactionFailed
    from redactor.proxy.handler import _split_units

ALLOWED = (RedactionFailed, DetectionTimeout)
SEEDS = [b'{"m": "maria.gonzalez@example.com"}\n{"n": 1}\n', b"event: x\ndata: call 415-555-0132\n\n",
         b'data: {"a": "4111 1111 1111 1111"}\r\n\r\n: comment 219-09-9999\n\n', b"id: 1\ndata\n\n"]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = BodyKind.SSE if fdp.ConsumeBool() else BodyKind.NDJSON
    if fdp.ConsumeBool():  # raw stream bytes, split into complete units and a rest
        units, rest = _split_units(kind, fdp.ConsumeBytes(fdp.remaining_bytes()))
        assert isinstance(rest, bytes)
        out = expect(ALLOWED, lambda: redact_units(redactor(), kind, units))
        if out is not None:
            assert len(out[0]) == len(units)
        return
    text, value = planted_text(fdp)
    if kind is BodyKind.NDJSON:
        unit = json.dumps({"m": text, "i": fdp.ConsumeInt(4)}).encode()
    else:
        line = " ".join(text.splitlines())  # one data line: no line breaks inside
        field = ["data: ", ": ", "data:"][fdp.ConsumeIntInRange(0, 2)]
        unit = f"event: m\n{field}{line}\nid: 7".encode("utf-8", "surrogatepass")
    units, _ = _split_units(kind, unit + (b"\n" if kind is BodyKind.NDJSON else b"\n\n"))
    out = expect((DetectionTimeout,), lambda: redact_units(redactor(), kind, units))
    if out is not None:
        for u in out[0]:
            assert_no_leak(u, value)


if __name__ == "__main__":
    main(test_one_input)
