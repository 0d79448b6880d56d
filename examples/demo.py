"""Redact a real CRM ticket and its comments, as an agent would receive them.

The ticket and its conversation (notes and replies) are Freshdesk API v2 response bodies
from python-freshdesk's test suite, and the Intercom conversation comes from
intercom-go's fixtures (see examples/crm_payloads/SOURCE.md for origin and licenses).
Only redacted output is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from redactor import Redactor

HERE = Path(__file__).resolve().parent / "crm_payloads"


def load(relative: str) -> object:
    return orjson.loads((HERE / relative).read_bytes())


def main() -> int:
    redactor = Redactor()  # the built-in default policy, the bundled redactor_ner_sm NER model
    payloads = {
        "Freshdesk ticket 1 with its conversation": {
            "ticket": load("freshdesk/v2/ticket_1.json"),
            "conversations": load("freshdesk/v2/conversations.json"),
        },
        "Intercom conversation 147 with its parts": load("intercom/intercom-go/conversation.json"),
    }
    for title, payload in payloads.items():
        result = redactor.redact_json(payload)
        counts = ", ".join(f"{etype} {n}" for etype, n in sorted(result.counts.items())) or "none"
        print(f"== {title}: findings by type: {counts}")
        print(orjson.dumps(result.value, option=orjson.OPT_INDENT_2).decode())
    print(f"policy '{redactor.policy.name}' hash {redactor.policy.hash[:16]}..., model {redactor.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
