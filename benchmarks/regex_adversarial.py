"""Every recognizer pattern against adversarial input: per-pattern milliseconds per MB.

Inputs are the repeated units of ``tests/adversarial_inputs.py`` (long runs of digits,
separators, ``@``, dots, near-miss e-mails, phones, cards, IBANs, URLs, JWTs, PEM blocks),
each ``--size`` characters (default 1,000,000). For every pattern of every built-in pack
(and the regular expressions inside the code recognizers: phone, URL, address cores), one
``finditer`` over each input is timed, capped at ``--cap`` seconds (the ``regex`` timeout).
Code recognizers are timed end to end (``find``), and finally the whole detection pass of
the ``patterns_only`` policy with a ``--budget`` of 1 s: finished (ms) or ``DetectionTimeout``.

The ``growth`` column is min time(size) / min time(size / 4): about 4 for a linear scan,
16 for a quadratic one; patterns over ``--flag`` ms or with growth > 8 are flagged as catastrophic.
Timings are wall-clock milliseconds (median, min, max over ``--repeat`` runs of the slowest
cells; one run for the rest). Run outside the test suite:

    .venv/bin/python benchmarks/regex_adversarial.py [--size 1000000] [--repeat 3] [--cap 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from adversarial_inputs import UNITS, adversarial  # noqa: E402

from redactor import DetectionTimeout, Redactor  # noqa: E402
from redactor import phones, urls  # noqa: E402
from redactor.addresses import AddressRecognizer  # noqa: E402
from redactor.packs import available_packs, load_pack  # noqa: E402
from redactor.patterns import PatternRecognizer  # noqa: E402
from redactor.recognizer import Deadline, ScanText  # noqa: E402


def patterns() -> list[tuple[str, Any]]:
    """(label, compiled pattern) of every pattern in the built-in packs and code recognizers."""
    out: list[tuple[str, Any]] = [("phone/_CANDIDATE", phones._CANDIDATE), ("url/_URL", urls._URL)]
    for pack in available_packs():
        for r in load_pack(pack):
            if isinstance(r, PatternRecognizer):
                out.extend((f"{r.name}/{p.name}", p.pattern) for p in r._patterns)
            elif isinstance(r, AddressRecognizer):
                out.extend((f"{r.name}/core_{mode}", p) for mode, p in r._cores.items())
    return out


def code_recognizers() -> list[Any]:
    return [r for pack in available_packs() for r in load_pack(pack) if not isinstance(r, PatternRecognizer)]


def time_ms(fn: Callable[[], Any]) -> tuple[float, bool]:
    """Milliseconds of one call, and whether it ran out of time."""
    started = time.perf_counter()
    try:
        fn()
        timed_out = False
    except (TimeoutError, DetectionTimeout):
        timed_out = True
    return (time.perf_counter() - started) * 1000, timed_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000, help="characters per input")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the slowest cells")
    ap.add_argument("--cap", type=float, default=10.0, help="seconds per search before giving up")
    ap.add_argument("--flag", type=float, default=1000.0, help="ms per input that flags a pattern")
    ap.add_argument("--inputs", nargs="*", default=list(UNITS), help="input names (default: all)")
    ap.add_argument("--budget", type=float, default=1.0,
                    help="detection_budget_s (seconds) of the whole-pass section (the issue's 1 s)")
    args = ap.parse_args()
    texts = {name: adversarial(name, args.size) for name in args.inputs}
    quarter = {name: adversarial(name, args.size // 4) for name in args.inputs}

    print(f"# adversarial inputs: {len(texts)} x {args.size:,} characters; times in ms")
    cells: dict[tuple[str, str], tuple[float, bool]] = {}
    pats = patterns()
    for label, pattern in pats:
        for name, text in texts.items():
            cells[(label, name)] = time_ms(lambda: sum(1 for _ in pattern.finditer(text, timeout=args.cap)))
    recs = code_recognizers()
    for r in recs:
        for name, text in texts.items():
            scan = ScanText(text, Deadline(args.cap, args.cap))
            cells[(f"{r.name} (find)", name)] = time_ms(lambda: r.find(scan))

    # Per pattern: its worst input, re-timed --repeat times, and the growth from size/4.
    print("\n## worst input per pattern\n")
    print(f"{'pattern':44} {'worst input':18} {'median':>8} {'min':>8} {'max':>8} {'growth':>7}  flag")
    labels = [label for label, _ in pats] + [f"{r.name} (find)" for r in recs]
    by_label = dict(pats)
    rec_by_label = {f"{r.name} (find)": r for r in recs}
    flagged = []
    for label in labels:
        worst = max(texts, key=lambda n: cells[(label, n)][0])
        if label in by_label:
            p = by_label[label]
            run = lambda t: (lambda: sum(1 for _ in p.finditer(t, timeout=args.cap)))  # noqa: E731
        else:
            r = rec_by_label[label]
            run = lambda t: (lambda: r.find(ScanText(t, Deadline(args.cap, args.cap))))  # noqa: E731
        runs = [cells[(label, worst)]] + [time_ms(run(texts[worst])) for _ in range(args.repeat - 1)]
        ms = [m for m, _ in runs]
        timed_out = any(t for _, t in runs)
        # Minimums: the least disturbed runs on a shared machine.
        small = min(time_ms(run(quarter[worst]))[0] for _ in range(max(1, args.repeat)))
        growth = min(ms) / max(small, 0.01)
        flag = "TIMEOUT" if timed_out else ("SLOW" if statistics.median(ms) > args.flag else "")
        if growth > 8 and statistics.median(ms) > 50:
            flag = (flag + " SUPERLINEAR").strip()
        if flag:
            flagged.append(label)
        print(f"{label:44} {worst:18} {statistics.median(ms):8.0f} {min(ms):8.0f} {max(ms):8.0f} "
              f"{growth:7.1f}  {flag}")

    print("\n## sum over all patterns and code recognizers, per input (one run)\n")
    for name in texts:
        total = sum(cells[(label, name)][0] for label in labels)
        print(f"{name:18} {total:9.0f}")

    print("\n## whole detection pass, policy patterns_only, per input\n")
    redactor = Redactor({"extends": "patterns_only", "detection_budget_s": args.budget})
    print(f"(pattern_timeout_s={redactor.policy.pattern_timeout_s:g}, "
          f"detection_budget_s={redactor.policy.detection_budget_s:g})")
    print(f"{'input':18} {'median':>8} {'min':>8} {'max':>8}  outcome")
    for name, text in texts.items():
        outcomes = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            try:
                n = len(redactor.analyze(text))
                outcome = f"ok, {n} findings"
            except DetectionTimeout as exc:
                outcome = f"DetectionTimeout ({exc.kind}, {exc.recognizer})"
            outcomes.append(((time.perf_counter() - started) * 1000, outcome))
        ms = [m for m, _ in outcomes]
        print(f"{name:18} {statistics.median(ms):8.0f} {min(ms):8.0f} {max(ms):8.0f}  "
              f"{'; '.join(sorted({o for _, o in outcomes}))}")
    print(f"\nflagged: {', '.join(flagged) or 'none'}")


if __name__ == "__main__":
    main()
