"""HTML redaction with selectolax (lexbor): text nodes and attribute values only.

Markup is kept: the document is parsed, the strings that carry content are redacted in one
engine batch, and the tree is written back (a body without any change is returned byte for
byte). ``<script>`` holding JSON is redacted as JSON; other scripts and ``<style>`` have only
the insides of their string literals and comments redacted, so the code still parses.
HTML comments holding a finding are removed. Structural attributes (``class``, ``id``,
``style``...) are not scanned.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..engine import Redactor
from ..operators import OperationContext
from .bodies import Counts, _add, _encode, _redact_json, _text
from .errors import RedactionFailed

__all__ = ["redact_html"]

_FULL_DOCUMENT = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype|html[\s>])", re.I | re.S)
# Attributes that carry structure, not content: never scanned (NER on class names misfires).
_STRUCTURAL_ATTRS = frozenset({
    "class", "id", "style", "type", "rel", "lang", "dir", "charset", "role", "width", "height",
    "target", "method", "for", "tabindex", "colspan", "rowspan", "align", "valign", "border",
    "cellpadding", "cellspacing", "http-equiv", "enctype", "autocomplete", "crossorigin",
    "integrity", "nonce", "loading", "decoding", "referrerpolicy", "media", "sizes"})
# Literals and comments of inline code: only their insides are redacted, so the code parses.
_JS_PARTS = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`|/\*.*?\*/|//[^\n]*""", re.S)
_CSS_PARTS = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|/\*.*?\*/""", re.S)
_JSON_SCRIPT = re.compile(r"^(?:application|text)/(?:[\w.+-]*\+)?json$|^importmap$|^speculationrules$")


class _Slots:
    """Strings collected from a document and the setters that put redacted text back."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.setters: list[Callable[[str], None]] = []
        self.after: list[Callable[[], None]] = []  # run once every setter has run

    def add(self, text: str, setter: Callable[[str], None]) -> None:
        if text.strip():
            self.texts.append(text)
            self.setters.append(setter)


def _set_text(node: Any) -> Callable[[str], None]:
    return lambda new: node.replace_with(new)


def _set_attr(node: Any, name: str) -> Callable[[str], None]:
    def setter(new: str) -> None:
        node.attrs[name] = new
    return setter


def _delimiters(token: str) -> tuple[int, int]:
    """Lengths of the opening and closing delimiters of a literal or comment."""
    if token.startswith("/*"):
        return 2, 2
    if token.startswith("//"):
        return 2, 0
    return 1, 1


def _code_literals(node: Any, slots: _Slots, pattern: re.Pattern[str]) -> None:
    """Queue the insides of the string literals and comments of a script or style."""
    child = node.first_child
    if child is None or not child.is_text_node:
        return
    code = child.text_content or ""
    literals = list(pattern.finditer(code))
    if not literals:
        return
    cuts = [_delimiters(m.group(0)) for m in literals]
    parts: list[str] = [m.group(0)[a:len(m.group(0)) - b] for m, (a, b) in zip(literals, cuts)]

    def setter_for(i: int) -> Callable[[str], None]:
        def setter(new: str) -> None:
            parts[i] = new
        return setter

    for i, inner in enumerate(parts):
        slots.add(inner, setter_for(i))

    def rebuild() -> None:
        out, pos = [], 0
        for m, (a, b), inner in zip(literals, cuts, parts):
            token = m.group(0)
            out.append(code[pos:m.start()])
            out.append(token[:a] + inner + token[len(token) - b:])
            pos = m.end()
        out.append(code[pos:])
        new = "".join(out)
        if new != code:
            child.replace_with(new)

    slots.after.append(rebuild)


def redact_html(redactor: Redactor, data: bytes, charset: str,
                ctx: OperationContext | None = None) -> tuple[bytes, Counts]:
    from selectolax.lexbor import LexborHTMLParser

    text = _text(data, charset)
    try:
        tree = LexborHTMLParser(text, is_fragment=not _FULL_DOCUMENT.match(text))
    except Exception:  # selectolax raises its own error types
        raise RedactionFailed("body is not parseable HTML") from None
    slots = _Slots()
    counts: Counts = {}
    comments: list[tuple[Any, str]] = []
    json_scripts: list[Any] = []
    start = tree.root
    for node in (start.traverse(include_text=True) if start is not None else ()):
        if node.is_text_node:
            parent = node.parent
            tag = parent.tag if parent is not None else None
            if tag not in ("script", "style"):
                slots.add(node.text_content or "", _set_text(node))
        elif node.is_comment_node:
            comments.append((node, node.comment_content or ""))
        elif node.is_element_node:
            for name, value in node.attrs.items():
                if value and name.lower() not in _STRUCTURAL_ATTRS:
                    slots.add(value, _set_attr(node, name))
            if node.tag == "script":
                stype = (node.attrs.get("type") or "").strip().lower()
                if _JSON_SCRIPT.match(stype):
                    json_scripts.append(node)
                elif not stype or "javascript" in stype or stype == "module":
                    _code_literals(node, slots, _JS_PARTS)
            elif node.tag == "style":
                _code_literals(node, slots, _CSS_PARTS)
    n_slots = len(slots.texts)
    results = redactor.redact_many(slots.texts + [c for _, c in comments], ctx=ctx)
    changed = False
    for setter, original, result in zip(slots.setters, slots.texts, results[:n_slots]):
        if result.findings:
            _add(counts, result.counts())
            if result.text != original:
                setter(result.text)
                changed = True
    for (node, _), result in zip(comments, results[n_slots:]):
        if result.findings:
            _add(counts, result.counts())
            node.decompose()
            changed = True
    for rebuild in slots.after:
        rebuild()
    for node in json_scripts:
        child = node.first_child
        if child is not None and child.is_text_node and (child.text_content or "").strip():
            body, found = _redact_json(redactor, child.text_content.encode("utf-8"), "utf-8", ctx)
            if found:
                _add(counts, found)
                child.replace_with(body.decode("utf-8"))
                changed = True
    if not changed:
        return data, counts
    return _encode(tree.html or "", charset), counts


