"""A short fuzz run of every harness (atheris) as part of the test suite.

The long runs are ``benchmarks/fuzz.py``; this one replays every harness's seeds and then
a fixed number of mutated inputs with a fixed libFuzzer seed, in a subprocess because
``atheris.Fuzz()`` exits the process when it is done.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RUNS = 500


@pytest.mark.slow
def test_every_harness_survives_a_short_fuzz_run(tmp_path: Path) -> None:
    import fuzz_all

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(fuzz_all.SEEDS):
        (corpus / f"seed-{i}").write_bytes(seed)
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_all.py"), str(corpus), f"-runs={RUNS}", "-seed=7", "-timeout=60",
         "-max_len=2048", f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, errors="replace", timeout=600)
    log = proc.stderr + proc.stdout
    assert proc.returncode == 0, log[-4000:]
    assert f"Done {RUNS} runs" in log
    assert list(tmp_path.glob("crash-*")) == [] and list(tmp_path.glob("timeout-*")) == []
