"""Time limits of detection: per-search regex timeouts, the per-text budget, fail closed."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from adversarial_inputs import UNITS, adversarial
from redactor import DetectionTimeout, PolicyError, Redactor, load_policy
from redactor.engine import _repeats
from redactor.findings import Finding
from redactor.packs import load_pack
from redactor.recognizer import Deadline, ScanText


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_search_gets_the_smaller_of_its_limit_and_the_budget_left() -> None:
    clock = FakeClock()
    d = Deadline(1.0, 2.5, clock=clock)
    assert d.remaining("email") == 1.0
    assert d.expired("email").kind == "pattern"
    clock.now += 2.0
    assert d.remaining("email") == pytest.approx(0.5)
    err = d.expired("email")
    assert (err.kind, err.recognizer, err.limit_s) == ("budget", "email", 2.5)


def test_spent_budget_raises_on_check_and_before_a_search() -> None:
    clock = FakeClock()
    d = Deadline(1.0, 2.0, clock=clock)
    d.check("phone")
    clock.now += 2.0
    with pytest.raises(DetectionTimeout) as exc:
        d.check("phone")
    assert (exc.value.kind, exc.value.recognizer, exc.value.limit_s) == ("budget", "phone", 2.0)
    assert str(exc.value) == ("detection of one text exceeded its 2 s budget (in recognizer 'phone'); "
                              "raise the policy's detection_budget_s or send smaller texts")
    with pytest.raises(DetectionTimeout):
        d.remaining("email")
    with pytest.raises(DetectionTimeout):
        d.finditer(regex.compile("a"), "aaa", "email")


def test_paused_budget_does_not_run() -> None:
    clock = FakeClock()
    d = Deadline(None, 1.0, clock=clock)
    clock.now += 0.75
    d.pause()
    clock.now += 50.0  # other texts of the batch, NER
    d.resume()
    assert d.remaining("merge") == pytest.approx(0.25)
    clock.now += 0.25
    with pytest.raises(DetectionTimeout):
        d.check("merge")


def test_no_limits() -> None:
    d = Deadline(None)
    assert d.remaining("x") is None
    d.check("x")
    assert [m.span() for m in d.finditer(regex.compile("b"), "abcb", "x")] == [(1, 2), (3, 4)]


def test_policy_budget_key_and_default() -> None:
    assert load_policy("default").detection_budget_s == 10.0
    assert load_policy({"extends": "patterns_only", "detection_budget_s": 0.5}).detection_budget_s == 0.5
    with pytest.raises(PolicyError) as exc:
        load_policy({"extends": "patterns_only", "detection_budget_s": 0})
    assert exc.value.key == "detection_budget_s"


CATASTROPHIC_PACK = """\
pack: slow
recognizers:
  - name: nested_quantifier
    entity_type: SECRET
    patterns:
      - {name: nested, regex: '(?:x\\d+)+y', score: 0.9}
"""


def test_catastrophic_pattern_hits_its_timeout_and_redact_fails_closed(tmp_path: Path) -> None:
    pack = tmp_path / "slow.yaml"
    pack.write_text(CATASTROPHIC_PACK)
    r = Redactor({"packs": [str(pack)], "model": None, "entities": {"SECRET": {}},
                  "pattern_timeout_s": 0.05, "detection_budget_s": 60})
    text = "x1" * 20_000  # seconds of backtracking without the timeout
    with pytest.raises(DetectionTimeout) as exc:
        r.redact(text)
    assert (exc.value.kind, exc.value.recognizer, exc.value.limit_s) == ("pattern", "nested_quantifier", 0.05)
    assert "x1" not in str(exc.value)
    with pytest.raises(DetectionTimeout):
        r.redact_json({"body": text})


def test_exhausted_budget_fails_closed_for_text_and_json() -> None:
    r = Redactor({"extends": "patterns_only", "detection_budget_s": 1e-9})
    text = "Mail dana.fakesmith@example.com or call 212-555-0143."
    for call in (lambda: r.redact(text), lambda: r.analyze(text), lambda: r.redact_json({"b": text}),
                 lambda: r.redact_many(["ok", text])):
        with pytest.raises(DetectionTimeout) as exc:
            call()
        assert exc.value.kind == "budget"
        assert "fakesmith" not in str(exc.value) and "555" not in str(exc.value)


CODE_RECOGNIZERS = ["phone", "person_names", "street_address", "places", "url"]


@pytest.mark.parametrize("name", CODE_RECOGNIZERS)
def test_code_recognizers_stop_when_the_budget_is_spent(name: str) -> None:
    recognizer = next(r for r in load_pack("core") if r.name == name)
    clock = FakeClock()
    deadline = Deadline(1.0, 1.0, clock=clock)
    clock.now += 1.0
    text = "Dr. Laura Fakeley, 12 Main Street, Utrecht, call +1 (212) 555-0143 or see https://x.io/?a=1 " * 50
    with pytest.raises(DetectionTimeout) as exc:
        recognizer.find(ScanText(text, deadline))
    assert (exc.value.kind, exc.value.recognizer) == ("budget", name)


# The brief's shapes: digit runs, separators, '@' runs, dots, near-miss e-mails and phones.
ONE_MB_INPUTS = ["digits", "digits_dash", "digit_groups", "at_signs", "dots", "email_mix",
                 "phone_open", "street_like", "pem_open", "unicode_mix"]


@pytest.fixture(scope="module")
def budget_redactor() -> Redactor:
    return Redactor({"extends": "patterns_only", "detection_budget_s": 1.0, "pattern_timeout_s": 1.0})


@pytest.mark.parametrize("name", ONE_MB_INPUTS)
def test_one_megabyte_of_adversarial_input_finishes_or_fails_closed(budget_redactor: Redactor, name: str) -> None:
    text = adversarial(name, 1_000_000)
    assert len(text) == 1_000_000
    try:
        result = budget_redactor.redact(text)
    except DetectionTimeout as exc:
        assert exc.kind in ("pattern", "budget")
        assert exc.limit_s == 1.0
        assert UNITS[name] * 3 not in str(exc)
    else:
        for f in result.findings:
            assert 0 <= f.start < f.end <= len(text)


def test_repeats_are_found_linearly_with_exact_offsets() -> None:
    text = "Dana Fakesmith called. Dana Fakesmiths no; Dana Fakesmith said (+1 212) and (+1 212)."
    found = [Finding("PERSON", 0, 14, 0.8, "t"), Finding("PHONE_NUMBER", 63, 71, 0.8, "t")]
    repeats = _repeats(text, found, Deadline(None))
    assert [(f.entity_type, f.start, f.end, f.explanation) for f in repeats] == [
        ("PERSON", 43, 57, "repeat"), ("PHONE_NUMBER", 76, 84, "repeat")]
    assert text[43:57] == "Dana Fakesmith" and text[76:84] == "(+1 212)"


def test_redacted_url_containers_absorb_what_is_inside_them() -> None:
    # apply() looked up containers per finding in O(findings x URLs): 45 s for 424 KB.
    r = Redactor({"extends": "patterns_only", "entities": {"URL": {"operator": "replace"}}})
    text = "see http://a.example/?email=jo.tester@example.org ok, mail jo.tester@example.org " * 300
    result = r.redact(text)
    assert result.counts() == {"URL": 300, "EMAIL_ADDRESS": 600}
    assert result.text == "see <URL> ok, mail <EMAIL_ADDRESS> " * 300


def test_phone_checks_the_budget_inside_one_long_run_of_digit_groups() -> None:
    # 1 MB of "1234 " is one phone candidate of 200,000 pieces: 84 s of parsing unchecked
    # (here 10 KB: one candidate, so only a check inside it can raise).
    recognizer = next(r for r in load_pack("core") if r.name == "phone")
    reads = iter(range(10**6))
    clock = lambda: 100.0 + (5.0 if next(reads) > 3 else 0.0)  # noqa: E731  spent after 3 reads
    deadline = Deadline(10.0, 1.0, clock=clock)
    with pytest.raises(DetectionTimeout) as exc:
        recognizer.find(ScanText(adversarial("digit_groups", 10_000), deadline))
    assert (exc.value.kind, exc.value.recognizer) == ("budget", "phone")


def test_linear_scans_run_without_the_regex_timeout_but_within_the_budget() -> None:
    word = regex.compile(r"\w+")
    text = "Dana Fakesmith called 212 555 0143 twice"
    clock = FakeClock()
    d = Deadline(1.0, 2.0, clock=clock)
    assert [m.span() for m in d.scan(word, text, "repeats")] == [
        (0, 4), (5, 14), (15, 21), (22, 25), (26, 29), (30, 34), (35, 40)]

    class TickingClock(FakeClock):  # each reading one second later: spent after the scan
        def __call__(self) -> float:
            self.now += 1.0
            return self.now

    late = Deadline(1.0, 1.5, clock=TickingClock())
    with pytest.raises(DetectionTimeout) as info:
        list(late.scan(word, text, "repeats"))
    assert info.value.kind == "budget" and info.value.recognizer == "repeats"
    clock.now += 5.0  # the budget already spent: nothing is scanned
    with pytest.raises(DetectionTimeout):
        next(d.scan(word, text, "repeats"))


def test_a_linear_scan_checks_the_budget_among_its_matches() -> None:
    # A 10 MB text of words must not run seconds past the budget: checked every 4,096 matches.
    class TickingClock(FakeClock):
        def __call__(self) -> float:
            self.now += 1.0
            return self.now

    d = Deadline(None, 1.5, clock=TickingClock())  # created at 101: ends at 102.5
    seen = []
    with pytest.raises(DetectionTimeout):
        for m in d.scan(regex.compile(r"\w+"), "a " * 5000, "person_names"):
            seen.append(m.start())
    assert len(seen) == 4095 and seen[-1] == 8188  # the check at the 4,096th match (103) ends it


def test_normalising_one_accent_after_every_letter_stops_at_the_budget() -> None:
    # The check ran at positions divisible by 4,096 inside non-ASCII runs: a combining
    # accent after every letter sits at odd positions only, so it never ran.
    from redactor.normalize import normalize

    calls = []
    normalize("a\u0301" * 10_000, check=lambda: calls.append(1))
    assert len(calls) == 10_000 // 4096  # once per 4,096 folded characters
