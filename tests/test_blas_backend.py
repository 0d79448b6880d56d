"""The NER's matrix products on numpy's BLAS or on BLIS (redactor.nlp.blas_backend).

Behaviour only: the choice, its error, and that both give the same entities. How much faster
numpy's OpenBLAS is where BLIS falls back to its generic kernel is in
benchmarks/THROUGHPUT.md.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import spacy
from threadpoolctl import threadpool_info

from redactor import ModelError, Redactor
from redactor import nlp as nlp_module
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


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_limits_numpy_blas_inside_only() -> None:
    before = _blas_threads()
    assert before  # numpy's BLAS is loaded, so the limit has something to act on
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with pytest.raises(RuntimeError), one_blas_thread():
        raise RuntimeError("inside")
    assert _blas_threads() == before


def test_overlapping_uses_from_two_threads_set_and_restore_the_limit_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A enters, B enters, A leaves, B leaves: only A sets the limit and only B restores it
    # (each restoring on its own would leave the count B found on entry, 1, for good).
    # A recording controller stands in for threadpoolctl's: OpenBLAS's count read from
    # another thread is not reliable across builds.
    calls: list[str] = []

    class Limit:
        def restore_original_limits(self) -> None:
            calls.append("restore")

    class Controller:
        def limit(self, *, limits: int, user_api: str) -> Limit:
            calls.append(f"limit {limits} {user_api}")
            return Limit()

    monkeypatch.setattr(nlp_module, "_blas_controller", lambda: Controller())
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with one_blas_thread():
            a_in.set()
            b_in.wait(5)
        calls.append("a left")
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with one_blas_thread():
            b_in.set()
            a_out.wait(5)
        calls.append("b left")

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == ["limit 1 blas", "a left", "restore", "b left"]


def test_two_redactors_in_two_threads_share_the_pipeline_safely(tmp_path: Path) -> None:
    # Two policies, one pipeline: spaCy's pipeline and its memory zone must not run twice at
    # once (one lock per pipeline, not per Redactor).
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nextends: default\nname: other\n", "utf-8")
    first, second = Redactor(cache_size=0), Redactor(other, cache_size=0)
    texts = [f"Maria Gonzalez from Berlin wrote to kenji{i}@example.com about order {i}." for i in range(60)]
    expected = "<PERSON> from <LOCATION> wrote to <EMAIL_ADDRESS> about order 7."
    errors: list[BaseException] = []
    outputs: dict[int, list[str]] = {}

    def work(k: int, r: Redactor) -> None:
        try:
            outputs[k] = [r.redact(t).text for t in texts for _ in range(2)]
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k, r)) for k, r in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert outputs[0] == outputs[1]
    assert outputs[0][14] == expected


@pytest.mark.parametrize(("version", "python", "warned"), [
    ("3.8.7", (3, 11), False), ("3.8.2", (3, 12), False), ("3.8.8", (3, 11), True),
    ("3.8.18", (3, 13), True), ("3.8.18", (3, 14), False), ("3.9.0", (3, 11), False),
    ("3.8.10.dev0", (3, 11), True), ("3.7.5", (3, 11), False),
])
def test_slow_spacy_wheels_are_named_at_load(version: str, python: tuple[int, int], warned: bool) -> None:
    from redactor.nlp import slow_spacy_note

    note = slow_spacy_note(version, python)
    assert (note is not None) == warned
    if note:
        assert note.startswith(f"spaCy {version} runs the NER about 1.7x slower than 3.8.7")
        assert "spacy>=3.8,<3.8.8" in note


def test_the_installed_spacy_is_not_a_slow_wheel() -> None:
    from importlib.metadata import version

    from redactor.nlp import slow_spacy_note

    assert slow_spacy_note(version("spacy")) is None


def test_a_worker_pool_holds_its_caller_to_one_blas_thread_until_closed() -> None:
    # Raising OpenBLAS back to several threads after each NER call left its idle threads
    # spinning on the cores the workers run on (a 22-text batch with two workers: 44 -> 62 ms).
    from redactor.policy import load_policy
    from redactor.workers import RedactorPool

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    pool = RedactorPool(load_policy("patterns_fast"), workers=1)
    try:
        assert blas_threads() == {1}
        with one_blas_thread():
            pass
        assert blas_threads() == {1}  # a NER call inside the pool's life changes nothing
    finally:
        pool.close()
    pool.close()  # idempotent: released once
    assert blas_threads() == before


def test_a_pool_that_fails_to_start_releases_the_blas_limit() -> None:
    from redactor.policy import load_policy
    from redactor.workers import RedactorPool

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    with pytest.raises(Exception):  # the worker's start error (its type depends on the pool)
        RedactorPool(load_policy("default"), workers=1, model="no_such_model_here")
    assert blas_threads() == before
