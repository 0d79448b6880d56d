"""Shared fixtures. Most tests use the real default pipeline (loaded once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from redactor import Redactor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "examples" / "crm_payloads"


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    """The default policy with spaCy NER (en_core_web_sm)."""
    return Redactor()


@pytest.fixture(scope="session")
def patterns_redactor() -> Redactor:
    """The built-in patterns-only policy (no NER)."""
    return Redactor("patterns_only")
