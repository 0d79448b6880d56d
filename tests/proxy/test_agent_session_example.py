"""examples/agent_session.py (the session shown in docs/agent-session.md) runs end to end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from redactor.vault import TOKEN_RE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_session.py"


def _load():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("agent_session", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.asyncio
async def test_agent_session_example(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await _load().session(tmp_path, patterns_only=True, out=lines.append)
    assert result["view_status"] == 200 and result["reply_status"] == 201
    email, name = result["email_token"], result["name_token"]
    assert TOKEN_RE.fullmatch(email) and email.startswith("<EMAIL_ADDRESS_")
    assert TOKEN_RE.fullmatch(name) and name.startswith("<PERSON_")
    assert result["crm_received"] == ("Dear Maria Gonzalez, the refund is on its way. We sent the "
                                      "receipt to maria.gonzalez@example.com.")
    assert result["reveal"] == (200, "maria.gonzalez@example.com")
    assert result["denied"] == (403, "role_may_reveal")
    assert (result["verify_before"], result["verify_after"]) == (0, 1)
    text = "\n".join(lines)
    assert "ok: 8 records (seq 1-8)" in text and "HMAC verified" in text
    assert (f"FAILED: sequence {result['tampered_seq']}: hash mismatch: the record's content "
            "does not match its hash") in text
