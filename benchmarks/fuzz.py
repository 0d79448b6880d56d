"""Run every fuzz harness in ``tests/fuzz/`` for a set time and tabulate the results.

Each harness runs under atheris (libFuzzer) in its own process for ``--seconds`` (default
120), starting from its ``SEEDS`` plus the corpus kept from earlier runs in ``--corpus``
(default ``.fuzz-corpus/``, git-ignored). A crash (an undocumented exception, a planted
value that leaked, a failed invariant) or a hang (one input over ``--timeout`` seconds)
stops libFuzzer; the input is saved under ``--artifacts`` and the harness is restarted for
the rest of its time, so the table counts every crash. Columns: executions, executions per
second (mean over the run), crashes, hangs, corpus size at the end.

    .venv/bin/python benchmarks/fuzz.py [--seconds 120] [--only fuzz_json fuzz_html]

Replay one saved input: ``.venv/bin/python tests/fuzz/fuzz_json.py ARTIFACT``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "tests" / "fuzz"
sys.path.insert(0, str(FUZZ))

HARNESSES = ["fuzz_json", "fuzz_text", "fuzz_html", "fuzz_streams", "fuzz_codecs", "fuzz_policy"]
_EXECS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)


@dataclass
class Result:
    harness: str
    seconds: float = 0.0
    executions: int = 0
    crashes: int = 0
    hangs: int = 0
    artifacts: list[str] = field(default_factory=list)
    corpus: int = 0


def seed_corpus(harness: str, corpus: Path) -> None:
    module = __import__(harness)
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in module.SEEDS:
        (corpus / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)


def run_one(harness: str, seconds: float, timeout: int, corpus: Path, artifacts: Path) -> Result:
    result = Result(harness)
    seed_corpus(harness, corpus)
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    while (left := seconds - (time.monotonic() - started)) > 2:
        before = set(artifacts.iterdir())
        cmd = [sys.executable, str(FUZZ / f"{harness}.py"), str(corpus), f"-max_total_time={int(left)}",
               f"-timeout={timeout}", "-print_final_stats=1", "-max_len=4096",
               f"-artifact_prefix={artifacts}/{harness}-"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace")
        log = proc.stderr + proc.stdout
        stats = dict(_STAT.findall(log))
        execs = int(stats.get("number_of_executed_units", 0)) or max(map(int, _EXECS.findall(log) or ["0"]))
        result.executions += execs
        new = sorted(set(artifacts.iterdir()) - before)
        if proc.returncode == 0 and not new:
            break
        hang = "timeout after" in log or "ERROR: libFuzzer: timeout" in log
        result.hangs += hang
        result.crashes += not hang
        result.artifacts += [p.name for p in new]
        if not new:  # died without saving an input (should not happen): do not loop on it
            print(log[-3000:], file=sys.stderr)
            break
    result.seconds = time.monotonic() - started
    result.corpus = sum(1 for _ in corpus.iterdir())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0, help="fuzzing time per harness")
    ap.add_argument("--timeout", type=int, default=20, help="seconds one input may take (a hang)")
    ap.add_argument("--only", nargs="*", default=HARNESSES, choices=HARNESSES)
    ap.add_argument("--corpus", type=Path, default=ROOT / ".fuzz-corpus")
    ap.add_argument("--artifacts", type=Path, default=ROOT / ".fuzz-artifacts")
    args = ap.parse_args()
    results = []
    for harness in args.only:
        r = run_one(harness, args.seconds, args.timeout, args.corpus / harness, args.artifacts)
        results.append(r)
        print(f"{harness}: {r.executions} executions in {r.seconds:.0f} s, {r.crashes} crashes, "
              f"{r.hangs} hangs", file=sys.stderr, flush=True)
    print(f"\n{'harness':14} {'seconds':>8} {'executions':>11} {'exec/s':>8} {'crashes':>8} "
          f"{'hangs':>6} {'corpus':>7}  artifacts")
    for r in results:
        rate = r.executions / r.seconds if r.seconds else 0.0
        print(f"{r.harness:14} {r.seconds:8.0f} {r.executions:11d} {rate:8.0f} {r.crashes:8d} "
              f"{r.hangs:6d} {r.corpus:7d}  {' '.join(r.artifacts) or '-'}")


if __name__ == "__main__":
    main()
