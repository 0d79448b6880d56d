"""The NER's matrix products on numpy's BLAS or on BLIS (redactor.nlp.blas_backend).

Behaviour only: the choice, its error, and that both give the same entities. How much faster
numpy's OpenBLAS is where BLIS falls back to its generic kernel is in
benchmarks/THROUGHPUT.md.
"""

from __future__ import annotations

import pytest
import spacy
from threadpoolctl import threadpool_info

from redactor import ModelError
from redactor.nlp import BLAS_ENV, MODELS_DIR, _use_numpy_blas, blas_backend, load_pipeline, one_blas_thread

TEXTS = [
    "Maria Gonzalez from Berlin called about order 55123. Ship to 12 Main Street, Springfield.",
    "hi, this is kenji tanaka, please call me back at the office in Osaka tomorrow",
    "Dear Dr. Anneke van der Fakel, your ticket about the Lisbon warehouse was closed.",
]


@pytest.mark.parametrize("value,expected", [("blis", "blis"), ("numpy", "numpy"),
                                            (" NumPy ", "numpy"), ("BLIS", "blis")])
def test_environment_variable_picks_the_backend(monkeypatch: pytest.MonkeyPatch, value: str,
                                                expected: str) -> None:
    monkeypatch.setenv(BLAS_ENV, value)
    assert blas_backend() == expected


def test_auto_picks_one_of_the_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLAS_ENV, "auto")
    assert blas_backend() in {"blis", "numpy"}
    monkeypatch.delenv(BLAS_ENV)
    assert blas_backend() in {"blis", "numpy"}


def test_unknown_value_is_a_model_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLAS_ENV, "mkl")
    with pytest.raises(ModelError, match=r"REDACTOR_BLAS must be one of auto, blis, numpy, not 'mkl'"):
        blas_backend()


def _ents(nlp: spacy.language.Language) -> list[list[tuple[int, int, str]]]:
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(TEXTS)]


def test_numpy_and_blis_products_give_the_same_entities() -> None:
    nlp = spacy.load(MODELS_DIR / "redactor_ner_sm")
    assert {node.ops.use_blis for node in nlp.get_pipe("ner").model.walk()} == {True}
    with_blis = _ents(nlp)
    _use_numpy_blas(nlp)
    assert {node.ops.use_blis for node in nlp.get_pipe("ner").model.walk()} == {False}
    with one_blas_thread():
        with_numpy = _ents(nlp)
    assert with_numpy == with_blis
    assert with_numpy == [
        [(0, 14, "PERSON"), (20, 26, "GPE"), (77, 88, "GPE")],  # Maria Gonzalez, Berlin, Springfield
        [(12, 24, "PERSON"), (63, 68, "GPE")],  # kenji tanaka, Osaka
        [(9, 29, "PERSON"), (53, 59, "GPE")],  # Anneke van der Fakel, Lisbon
    ]


def test_loaded_pipeline_uses_the_chosen_backend_everywhere() -> None:
    nlp = load_pipeline("redactor_ner_sm")
    use_blis = {node.ops.use_blis for node in nlp.get_pipe("ner").model.walk()}
    assert use_blis == {blas_backend() == "blis"}


def test_one_blas_thread_limits_numpy_blas_inside_only() -> None:
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    with one_blas_thread():
        assert {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} <= {1}
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before
