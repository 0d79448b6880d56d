"""The token scoring of benchmarks/accuracy.py, on hand-made documents."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "accuracy.py"
_spec = importlib.util.spec_from_file_location("accuracy_bench", _PATH)
assert _spec is not None and _spec.loader is not None
A = importlib.util.module_from_spec(_spec)
sys.modules["accuracy_bench"] = A  # dataclasses look their module up
_spec.loader.exec_module(A)

CORPUS = A.Corpus("t", (), frozenset({"PERSON", "STREET_ADDRESS"}), {"PERSON": "PERSON"})


def _score(text: str, gold: list[tuple[int, int, str]], found: list[tuple[int, int, str]]) -> dict:
    tally = A.Tally()
    A.score_doc(A.Doc(text, tuple(gold)), found, CORPUS, tally)
    return A.summarize(tally)


def test_all_caught_and_nothing_else() -> None:
    text = "Ana Dias lives at 5 Main St"
    r = _score(text, [(0, 8, "PERSON"), (18, 27, "STREET_ADDRESS")],
               [(0, 8, "PERSON"), (18, 27, "STREET_ADDRESS")])
    assert (r["recall"], r["precision"], r["leak_rate"]) == (1.0, 1.0, 0.0)
    assert r["gold_tokens"] == 5 and r["predicted_tokens"] == 5


def test_partly_covered_token_is_not_caught_and_leaks_the_entity() -> None:
    text = "Ana Dias called"
    r = _score(text, [(0, 8, "PERSON")], [(0, 6, "PERSON")])   # "Dias" only half covered
    assert r["recall"] == 0.5 and r["leak_rate"] == 1.0
    assert r["recall_per_label"]["PERSON"] == {"recall": 0.5, "tokens": 2}


def test_false_positive_only_outside_every_gold_span() -> None:
    text = "Acme hired Ana today"
    gold = [(0, 4, "ORGANIZATION"), (11, 14, "PERSON")]            # ORGANIZATION: not required
    r = _score(text, gold, [(0, 4, "PERSON"), (11, 14, "PERSON"), (15, 20, "DATE_TIME")])
    # "Acme" is inside a gold span of another label: not a false positive; "today" is.
    assert r["predicted_tokens"] == 3 and r["false_positive_tokens"] == 1
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["f2"] == pytest.approx(5 * (2 / 3) * 1.0 / (4 * (2 / 3) + 1.0))


def test_typed_scores_use_the_label_map() -> None:
    text = "Ana Dias"
    r = _score(text, [(0, 8, "PERSON")], [(0, 3, "PERSON"), (4, 8, "LOCATION")])
    assert r["typed"]["PERSON"]["recall"] == 0.5
    assert r["typed"]["LOCATION"]["precision"] == 0.0
    assert r["recall"] == 1.0                                      # type-agnostic
