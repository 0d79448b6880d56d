"""Fuzz HTML redaction (selectolax / lexbor): text nodes, attributes, scripts, comments."""

from __future__ import annotations

import html

import atheris

from fuzz_common import assert_no_leak, expect, main, planted_text, redactor

with atheris.instrument_imports(include=["redactor"]):
    from redactor import DetectionTimeout
    from redactor.proxy.bodies import redact_body
    from redactor.proxy.codecs import BodyKind
    from redactor.proxy.errors import RedactionFailed

ALLOWED = (RedactionFailed, DetectionTimeout)
SEEDS = [b"<html><body><p title='maria.gonzalez@example.com'>Call 415-555-0132</p></body></html>",
         b"<script>var a = 'mail maria.gonzalez@example.com'; // 4111 1111 1111 1111\n</script>",
         b"<!-- 219-09-9999 --><style>/* x */</style><textarea>a</textarea>"]
# Where the planted value goes: contexts in which the proxy promises to redact it.
TEMPLATES = ["<p>{}</p>", "<div title=\"{}\">x</div>", "<!--{}-->", "<li><b>{}</b></li>",
             "<script>var s = \"{}\";</script>", "<script type=\"application/json\">{{\"a\": \"{}\"}}</script>",
             "<td>{}</td>", "<a href=\"#\" data-x=\"{}\">y</a>"]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        expect(ALLOWED, lambda: redact_body(redactor(), BodyKind.HTML, body, "utf-8"))
        return
    text, value = planted_text(fdp)
    template = TEMPLATES[fdp.ConsumeIntInRange(0, len(TEMPLATES) - 1)]
    if "script" in template:  # inside a string literal: no quote, backslash or tag end
        inner = "".join(c for c in text if c not in "\"\\<>\n\r\u2028\u2029")
    elif "--" in template:
        inner = text.replace("-->", "").replace("--!>", "")
    else:
        inner = html.escape(text)
    if value not in inner:
        return
    tail = fdp.ConsumeBytes(fdp.remaining_bytes())  # raw markup after the value
    body = b"<html><body>" + template.format(inner).encode("utf-8", "surrogatepass") + tail
    out = expect(ALLOWED, lambda: redact_body(redactor(), BodyKind.HTML, body, "utf-8"))
    if out is not None:
        assert_no_leak(out[0], value)


if __name__ == "__main__":
    main(test_one_input)
