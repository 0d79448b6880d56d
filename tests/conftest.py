"""Shared fixtures. Most tests use the real default pipeline (loaded once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from redactor import Redactor

# The suite's property tests draw the same examples on every run (CI must not pass or fail
# by luck); HYPOTHESIS_PROFILE=explore draws new ones each run, to hunt for bugs locally.
settings.register_profile("suite", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "examples" / "crm_payloads"


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    """The default policy with the bundled NER model (redactor_ner_sm)."""
    return Redactor()


@pytest.fixture(scope="session")
def patterns_redactor() -> Redactor:
    """The built-in patterns-only policy (no NER)."""
    return Redactor("patterns_only")
