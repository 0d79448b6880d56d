import pytest

from redactor import Finding
from redactor.findings import resolve_overlaps


def f(etype: str, start: int, end: int, score: float = 0.85, validated: bool = False) -> Finding:
    return Finding(etype, start, end, score, "test", validated)


def spans(findings: list[Finding]) -> list[tuple[str, int, int]]:
    return [(x.entity_type, x.start, x.end) for x in findings]


def test_finding_rejects_bad_offsets_and_scores() -> None:
    with pytest.raises(ValueError):
        Finding("PERSON", 5, 5, 0.5, "x")
    with pytest.raises(ValueError):
        Finding("PERSON", 0, 3, 1.5, "x")


def test_validated_pattern_beats_ner_guess_on_same_characters() -> None:
    ner = f("ORGANIZATION", 3, 13, 0.85)
    ip = f("IP_ADDRESS", 3, 13, 0.9, validated=True)
    assert spans(resolve_overlaps([ner, ip])) == [("IP_ADDRESS", 3, 13)]


def test_higher_score_then_longer_span_wins() -> None:
    assert spans(resolve_overlaps([f("A", 0, 10, 0.6), f("B", 0, 10, 0.9)])) == [("B", 0, 10)]
    assert spans(resolve_overlaps([f("A", 0, 4, 0.8), f("B", 0, 10, 0.8)])) == [("B", 0, 10)]


def test_partial_overlap_trims_the_loser_so_no_fragment_is_left() -> None:
    winner = f("CREDIT_CARD", 5, 20, 1.0, validated=True)
    loser = f("PERSON", 0, 8, 0.85)
    assert spans(resolve_overlaps([winner, loser])) == [("PERSON", 0, 5), ("CREDIT_CARD", 5, 20)]


def test_loser_remainder_without_letters_or_digits_is_dropped() -> None:
    text = "x  4111111111111111"
    winner = f("CREDIT_CARD", 3, 19, 1.0, validated=True)
    loser = f("PERSON", 1, 10, 0.85)
    assert spans(resolve_overlaps([winner, loser], text)) == [("CREDIT_CARD", 3, 19)]


def test_same_type_overlaps_merge_into_one_span() -> None:
    merged = resolve_overlaps([f("PERSON", 0, 6, 0.7), f("PERSON", 4, 12, 0.85)])
    assert spans(merged) == [("PERSON", 0, 12)]
    assert merged[0].score == 0.85


def test_contained_loser_is_dropped() -> None:
    assert spans(resolve_overlaps([f("URL", 0, 30, 0.9), f("PERSON", 10, 15, 0.5)])) == [("URL", 0, 30)]


def test_validated_loser_crossing_a_validated_winner_is_trimmed_not_dropped() -> None:
    # Dropping it left "DE" and "0130" of this IBAN readable next to an e-mail address
    # (found by test_properties.py::test_overlapping_findings_never_leave_a_fragment).
    iban = f("IBAN_CODE", 2, 29, 1.0, validated=True)
    phone = f("PHONE_NUMBER", 22, 31, 0.75, validated=True)
    assert spans(resolve_overlaps([iban, phone])) == [("IBAN_CODE", 2, 29), ("PHONE_NUMBER", 29, 31)]


def test_context_boost_gives_the_decimal_score() -> None:
    from redactor.recognizer import boost

    assert (boost(0.3), boost(0.15), boost(0.0), boost(0.9)) == (0.65, 0.5, 0.4, 1.0)
