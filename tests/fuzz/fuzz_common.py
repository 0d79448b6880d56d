"""Shared parts of the fuzz harnesses in this folder (atheris / libFuzzer).

Every harness module defines ``test_one_input(data: bytes) -> None`` and ``SEEDS`` (a few
valid inputs to start the corpus from) and runs under atheris when executed::

    .venv/bin/python tests/fuzz/fuzz_json.py -max_total_time=60 -timeout=10

A harness fails (a libFuzzer crash) when the code under test raises anything but the
documented typed exceptions, when a planted PII value survives redaction, or when one
input takes longer than ``-timeout`` seconds (a hang). ``benchmarks/fuzz.py`` runs every
harness for a set time and tabulates executions and crashes; ``test_fuzz_smoke.py`` runs
them briefly in the test suite.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

# Values of distinct types that the patterns-only policy redacts in any context once they
# stand between spaces (checksum-validated or phone-shaped). None may reach an output.
PLANTED = (
    "maria.gonzalez@example.com",
    "4111 1111 1111 1111",
    "219-09-9999",
    "415-555-0132",
    "DE89 3704 0044 0532 0130 00",
    "+44 20 7946 0958",
    "AKIAIOSFODNN7EXAMPLE",
)


@functools.lru_cache(maxsize=1)
def redactor() -> Any:
    """The patterns-only redactor (NER is too slow for fuzzing), with a 10 s budget."""
    from redactor import Redactor

    return Redactor({"extends": "patterns_only", "detection_budget_s": 10.0})


def planted_text(fdp: Any) -> tuple[str, str]:
    """``(text, value)``: fuzzed prefix and suffix around a planted value, space-separated.

    The fuzzed parts never hold the value themselves: glued into other characters
    (``415-555415-555-0132``) it is a different token, which redaction rightly keeps.
    """
    value = PLANTED[fdp.ConsumeIntInRange(0, len(PLANTED) - 1)]
    prefix = _without(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64)), value)
    suffix = _without(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64)), value)
    text = f"{prefix} {value} {suffix}"
    # A value rebuilt across the separators is ambiguous in the same way: the input is skipped.
    return (text, value) if text.count(value) == 1 else (f" {value} ", value)


def _without(part: str, value: str) -> str:
    while value in part:
        part = part.replace(value, "")
    return part


def assert_no_leak(output: bytes | str, value: str) -> None:
    raw = output.encode("utf-8", "surrogatepass") if isinstance(output, str) else output
    if value.encode("utf-8") in raw:
        raise AssertionError(f"planted value of length {len(value)} survived redaction")


def expect(allowed: tuple[type[BaseException], ...], fn: Callable[[], Any]) -> Any:
    """``fn()``; ``None`` when it raises one of the ``allowed`` (documented) exceptions."""
    try:
        return fn()
    except allowed:
        return None


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run ``test_one_input`` under atheris with the command line's libFuzzer flags."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
