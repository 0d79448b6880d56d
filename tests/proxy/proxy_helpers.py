"""Shared values of the proxy tests (a plain module: `conftest` names clash across folders)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from redactor import Policy, load_policy

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests" / "fixtures") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

ZENDESK_POLICY = ROOT / "proxy" / "zendesk.yaml"

# Values planted in the fixtures; none may ever appear in a log line.
PLANTED = ("maria.gonzalez@example.com", "4111 1111 1111 1111", "4111111111111111", "219-09-9999",
           "415-555-0132", "Maria Gonzalez", "tom.becker@example.net", "Becker, Tom")


def zendesk_policy(base: str = "patterns_only", **changes: Any) -> Policy:
    """The example Zendesk policy, on ``base`` (patterns_only is deterministic and fast)."""
    data = yaml.safe_load(ZENDESK_POLICY.read_text())
    data["extends"] = base
    for key, value in changes.items():
        data[key] = value
    return load_policy(data)


GOVERNED_POLICY = ROOT / "proxy" / "zendesk-governed.yaml"


def governed_policy(base: str = "patterns_only", **governance: Any) -> Policy:
    """The governed example policy on ``base``; ``governance`` keys replace its sections
    (``anomaly={...}`` replaces the whole ``governance.anomaly`` mapping)."""
    data = yaml.safe_load(GOVERNED_POLICY.read_text())
    data["extends"] = base
    for key, value in governance.items():
        data["governance"][key] = value
    return load_policy(data)
