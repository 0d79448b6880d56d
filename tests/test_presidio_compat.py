"""Findings convert to and from presidio-analyzer RecognizerResult; Presidio recognizers plug in."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from redactor import Finding, Redactor
from redactor.presidio_compat import from_recognizer_result, to_recognizer_result


def test_round_trip() -> None:
    finding = Finding("EMAIL_ADDRESS", 5, 21, 1.0, "email", True, "email+validated")
    result = to_recognizer_result(finding)
    assert isinstance(result, RecognizerResult)
    assert (result.entity_type, result.start, result.end, result.score) == ("EMAIL_ADDRESS", 5, 21, 1.0)
    assert from_recognizer_result(result) == finding


def test_from_a_plain_presidio_result_clamps_score() -> None:
    finding = from_recognizer_result(RecognizerResult("PERSON", 0, 4, 1.2))
    assert finding == Finding("PERSON", 0, 4, 1.0, "presidio", False, None)


def test_presidio_pattern_recognizer_as_extra_recognizer() -> None:
    employee_ids = PatternRecognizer(
        supported_entity="EMPLOYEE_ID", name="employee_id",
        patterns=[Pattern("emp", r"\bEMP-\d{6}\b", 0.9)])
    r = Redactor({"extends": "default", "entities": {"EMPLOYEE_ID": {}}},
                 extra_recognizers=[employee_ids])
    result = r.redact("Escalated by EMP-004211 for dana@example.com")
    assert result.text == "Escalated by <EMPLOYEE_ID> for <EMAIL_ADDRESS>"
    assert [(f.entity_type, f.start, f.end, f.recognizer) for f in result.findings] == [
        ("EMPLOYEE_ID", 13, 23, "employee_id"), ("EMAIL_ADDRESS", 28, 44, "email")]


def test_presidio_recognizer_that_reads_nlp_artifacts() -> None:
    from presidio_analyzer import EntityRecognizer

    class TokenCounter(EntityRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):  # type: ignore[no-untyped-def]
            return [RecognizerResult("TICKET_REF", t.idx, t.idx + len(t), 0.8)
                    for t in nlp_artifacts.tokens if t.text.startswith("TCK")]

    r = Redactor({"packs": ["core"], "entities": {"TICKET_REF": {}}}, model=None,
                 extra_recognizers=[TokenCounter(supported_entities=["TICKET_REF"], name="tickets")])
    assert r.redact("see TCK1234 and TCK99").text == "see <TICKET_REF> and <TICKET_REF>"


def test_non_recognizer_is_rejected() -> None:
    import pytest

    with pytest.raises(TypeError, match="Presidio EntityRecognizer instances, not str"):
        Redactor(extra_recognizers=["nope"])
