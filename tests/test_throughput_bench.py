"""benchmarks/throughput.py end to end on its smallest path: tiny corpora, redactor only.

No speed is asserted (speed lives in the benchmark); this checks that the run produces the
JSON figures and the chart, and that no corpus text reaches its output.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"
_spec = importlib.util.spec_from_file_location("throughput_bench", _PATH)
assert _spec is not None and _spec.loader is not None
T = importlib.util.module_from_spec(_spec)
sys.modules["throughput_bench"] = T
_spec.loader.exec_module(T)

ROW_KEYS = {"docs", "chars", "calls", "reps", "docs_per_s", "chars_per_s", "chars_per_s_min",
            "chars_per_s_max", "cpu_chars_per_s", "latency_p50_ms", "latency_p99_ms", "paired_ratio"}


def test_quick_run_writes_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "t.json", tmp_path / "t.png"
    code = T.main(["--quick", "--reps", "2", "--systems", "redactor,patterns_only", "--corpora", "short",
                   "--no-isolate", "--f2-docs", "20", "--out", str(out), "--chart", str(png),
                   "--accuracy", str(tmp_path / "absent.json")])
    assert code == 0
    data = json.loads(out.read_text("utf-8"))
    assert set(data) == {"meta", "results", "summary"}
    assert set(data["results"]) == {"redactor", "patterns_only"}
    for system in ("redactor", "patterns_only"):
        result = data["results"][system]
        assert set(result) == {"corpora", "peak_rss_mb", "worker_peak_rss_mb", "f2_here"}
        row = result["corpora"]["short"]
        assert set(row) == ROW_KEYS
        assert (row["docs"], row["calls"], row["reps"]) == (40, 40, 2)
        assert row["chars"] == sum(len(t) for t in T._synth()[:40])
        assert row["chars_per_s_min"] <= row["chars_per_s"] <= row["chars_per_s_max"]
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"]
        assert row["paired_ratio"] is None  # measured for redactor_w2 only
        assert result["f2_here"]["docs"] == 20 and 0 < result["f2_here"]["f2"] <= 1
    recall = data["results"]["patterns_only"]["f2_here"]["pattern_recall"]
    assert recall == {"CREDIT_CARD": 1.0, "US_SSN": 1.0}  # the pattern types of the first 20 docs
    assert set(data["summary"]["ratios"]["short"]) == {
        "redactor/presidio", "redactor_many/presidio", "redactor_many/presidio_batch",
        "patterns_only/scrubadub", "patterns_fast/scrubadub", "redactor_w2/redactor_many",
        "redactor_w2/one process (paired)"}
    assert data["summary"]["ratios"]["short"]["redactor/presidio"] is None  # presidio not run
    assert data["summary"]["cpu_ratios"]["short"]["redactor/presidio"] is None
    assert data["summary"]["f2"]["redactor"]["source"] == "computed here (20 docs)"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr()
    assert "| redactor | " in printed.out and "| patterns_only | " in printed.out
    for text in T._synth()[:40]:  # no corpus text in the report
        assert text not in printed.out and text not in printed.err and text not in out.read_text("utf-8")


def test_calls_group_batch_systems_only() -> None:
    items, chars = ["a", "bb", "ccc"], [1, 2, 3]
    assert T._calls("redactor", items, chars, 2) == [(["a"], 1, 1), (["bb"], 1, 2), (["ccc"], 1, 3)]
    assert T._calls("redactor_many", items, chars, 2) == [(["a", "bb"], 2, 3), (["ccc"], 1, 3)]
    assert T._percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_fast_systems_repeat_passes_for_min_seconds() -> None:
    result = T.measure("patterns_fast", ["short"], 1, True, 128, 5, min_seconds=0.2)
    row = result["corpora"]["short"]
    assert row["reps"] > 1  # one pass of 40 short strings takes well under 0.2 s
    assert row["chars_per_s_min"] <= row["chars_per_s"] <= row["chars_per_s_max"]


def test_two_workers_are_also_timed_against_one_process_pass_by_pass(tmp_path: Path) -> None:
    out = tmp_path / "w2.json"
    code = T.main(["--quick", "--reps", "2", "--systems", "redactor_w2", "--corpora", "short",
                   "--no-isolate", "--f2-docs", "5", "--no-cache-run", "--out", str(out),
                   "--chart", str(tmp_path / "w2.png"), "--accuracy", str(tmp_path / "absent.json")])
    assert code == 0
    data = json.loads(out.read_text("utf-8"))
    row = data["results"]["redactor_w2"]["corpora"]["short"]
    assert row["reps"] == 2 and row["paired_ratio"] > 0
    ratios = data["summary"]["ratios"]["short"]
    assert ratios["redactor_w2/one process (paired)"] == row["paired_ratio"]
    assert ratios["redactor_w2/redactor_many"] is None  # redactor_many not run
