"""All harnesses behind one target: the first input byte picks the harness.

One process loads the engine once, so the test suite's short fuzz run
(``test_fuzz_smoke.py``) exercises every harness in a few seconds.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_common import main  # noqa: E402

HARNESSES = ["fuzz_json", "fuzz_text", "fuzz_html", "fuzz_streams", "fuzz_codecs", "fuzz_policy"]
MODULES = [importlib.import_module(name) for name in HARNESSES]
SEEDS = [bytes([i]) + seed for i, m in enumerate(MODULES) for seed in m.SEEDS]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    MODULES[data[0] % len(MODULES)].test_one_input(data[1:])


if __name__ == "__main__":
    main(test_one_input)
