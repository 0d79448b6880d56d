"""The Redactor: input checks, long text, batching, threads, model selection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import redactor as redactor_pkg
from redactor import ModelError, Redactor, UnknownEntityError, analyze, redact


@pytest.mark.parametrize("bad", [None, b"bytes", 42, ["list"]])
def test_non_str_input_raises_type_error_naming_the_type(redactor: Redactor, bad: object) -> None:
    with pytest.raises(TypeError, match=f"text must be str, not {type(bad).__name__}"):
        redactor.analyze(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be str"):
        redact(bad)  # type: ignore[arg-type]


def test_empty_text(redactor: Redactor) -> None:
    assert redact("") == ""
    assert analyze("") == []
    assert redactor.redact("").findings == ()


def test_text_longer_than_spacy_max_length_is_chunked(redactor: Redactor) -> None:
    # Long words keep the token count (and so the NER time) low; the length is what matters.
    filler = "Supercalifragilisticexpialidocious" * 2 + " "
    text = (filler * (1_100_000 // len(filler) + 1))[:1_100_000] + " mail dana@example.com"
    assert len(text) > 1_000_000
    result = redactor.redact(text)
    assert result.text.endswith(" mail <EMAIL_ADDRESS>")
    assert [(f.entity_type, f.start, f.end) for f in result.findings] == [
        ("EMAIL_ADDRESS", len(text) - 16, len(text))]


def test_name_across_a_chunk_boundary_is_found_once() -> None:
    from redactor import nlp

    r = Redactor()
    filler = "we shipped the parcel and it arrived on time. " * ((nlp.CHUNK_CHARS - 10) // 46)
    text = filler[: nlp.CHUNK_CHARS - 8] + " Laura Fakeley signed for it. " + filler[:5000]
    people = [f for f in r.analyze(text) if f.entity_type == "PERSON"]
    assert [(text[f.start:f.end]) for f in people] == ["Laura Fakeley"]


def test_entities_restricts_and_unknown_types_are_rejected(redactor: Redactor) -> None:
    text = "Dana Fakesmith, dana@example.com"
    assert redactor.redact(text, entities=["EMAIL_ADDRESS"]).text == "Dana Fakesmith, <EMAIL_ADDRESS>"
    assert redact(text, entities=["PERSON"]) == "<PERSON>, dana@example.com"
    with pytest.raises(UnknownEntityError, match="not enabled in the policy: FAX") as info:
        redactor.analyze(text, entities=["FAX"])
    assert "EMAIL_ADDRESS" in info.value.known


def test_redact_many_equals_redact_one_by_one(redactor: Redactor) -> None:
    texts = ["Dana Fakesmith called", "", "no pii here", "mail jo@example.org", "12345"]
    batched = redactor.redact_many(texts)
    assert [r.text for r in batched] == [redactor.redact(t).text for t in texts]
    assert [r.findings for r in batched] == [redactor.redact(t).findings for t in texts]


def test_result_counts(redactor: Redactor) -> None:
    result = redactor.redact("a@example.com b@example.com Dana Fakesmith")
    assert result.counts() == {"EMAIL_ADDRESS": 2, "PERSON": 1}


def test_module_functions_are_thread_safe() -> None:
    texts = [f"ticket {i}: mail user{i}@example.com, Laura Fakeley" for i in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        out = list(pool.map(redact, texts))
    assert out == [f"ticket {i}: mail <EMAIL_ADDRESS>, <PERSON>" for i in range(64)]


def test_default_redactor_is_built_once() -> None:
    assert redactor_pkg.get_redactor() is redactor_pkg.get_redactor()
    assert redactor_pkg.get_redactor("patterns_only") is redactor_pkg.get_redactor("patterns_only")


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="spaCy pipeline 'en_core_web_xx' is not installed"):
        Redactor(model="en_core_web_xx")


def test_model_none_turns_ner_off() -> None:
    r = Redactor({"packs": ["core"], "entities": {"PERSON": {}}}, model=None)
    assert r.model is None
    # Only the pattern rules (title, gazetteer, single first name) find names without NER;
    # a rare capitalised word is left to the model (its proper-noun fallback).
    assert r.redact("Dr. Anneke van der Fakel met Eric from Zorblax").text == \
        "Dr. <PERSON> met <PERSON> from Zorblax"


def test_ner_types_without_a_model_are_an_error() -> None:
    from redactor import PolicyError

    with pytest.raises(PolicyError, match="no recognizer produces ORGANIZATION .*NER is off"):
        Redactor({"entities": {"PERSON": {}, "ORGANIZATION": {}}}, model=None)


def test_only_ner_components_are_loaded(redactor: Redactor) -> None:
    from redactor.nlp import load_pipeline

    assert load_pipeline(redactor.model).pipe_names == ["ner"]


def test_patterns_only_policy(patterns_redactor: Redactor) -> None:
    text = "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, ip 10.0.0.1"
    assert patterns_redactor.redact(text).text == "Card <CREDIT_CARD>, IBAN <IBAN_CODE>, ip <IP_ADDRESS>"


def test_findings_slice_the_original_text(redactor: Redactor) -> None:
    text = "Ｃａｌｌ 212\u2013555\u20130143 or mail ｊｏ@example.org, Laura Fakeley"
    for f in redactor.analyze(text):
        assert 0 <= f.start < f.end <= len(text)
    assert redactor.redact(text).text == "Ｃａｌｌ <PHONE_NUMBER> or mail <EMAIL_ADDRESS>, <PERSON>"
