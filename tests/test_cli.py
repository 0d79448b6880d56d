"""The redactor command: exact output, exit codes, and no values unless asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from redactor.cli import main

SENTENCE = "Hi, I'm Dana Fakesmith, card 4111 1111 1111 1111, mail dana@example.com\n"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "redactor.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_redact_stdin_subprocess() -> None:
    proc = run("redact", "-", stdin=SENTENCE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hi, I'm <PERSON>, card <CREDIT_CARD>, mail <EMAIL_ADDRESS>\n"


def test_redact_file_with_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text(SENTENCE)
    (tmp_path / "p.yaml").write_text(
        "extends: default\nentities:\n  CREDIT_CARD: {operator: {type: mask, keep_last: 4}}\n")
    assert main(["redact", str(tmp_path / "in.txt"), "--policy", str(tmp_path / "p.yaml")]) == 0
    assert capsys.readouterr().out == ("Hi, I'm <PERSON>, card **** **** **** 1111, "
                                       "mail <EMAIL_ADDRESS>\n")


def test_redact_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text('{"id": 7, "from": "dana@example.com"}')
    assert main(["redact", "--json", str(tmp_path / "t.json")]) == 0
    assert orjson.loads(capsys.readouterr().out) == {"id": 7, "from": "<EMAIL_ADDRESS>"}


def test_analyze_table_hides_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text(SENTENCE)
    assert main(["analyze", str(tmp_path / "in.txt")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "entity_type    start  end  score  recognizer",
        "PERSON         8      22   0.85   spacy_ner",
        "CREDIT_CARD    29     48   1.00   credit_card",
        "EMAIL_ADDRESS  55     71   1.00   email",
        "3 finding(s)",
    ]
    assert "Dana" not in out and "4111" not in out and "dana@" not in out


def test_analyze_show_values_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text("mail dana@example.com")
    assert main(["analyze", "--show-values", "--format", "json", str(tmp_path / "in.txt")]) == 0
    assert orjson.loads(capsys.readouterr().out) == [
        {"entity_type": "EMAIL_ADDRESS", "start": 5, "end": 21, "score": 1.0,
         "recognizer": "email", "value": "dana@example.com"}]


@pytest.mark.parametrize(("args", "message"), [
    (["redact", "/nonexistent/input.txt"], "input file not found: /nonexistent/input.txt"),
    (["redact", "--policy", "/nonexistent/p.yaml", "-"], "/nonexistent/p.yaml: policy file not found"),
    (["policy", "check", "/nonexistent/p.yaml"], "policy file not found"),
])
def test_errors_are_one_line_with_exit_2(args: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("redactor: error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_json_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text('{"a": ')
    assert main(["redact", "--json", str(tmp_path / "t.json")]) == 2
    assert "input is not valid JSON" in capsys.readouterr().err


def test_policy_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text("packs: [core]\nentities:\n  EMAIL_ADDRESS: {}\n")
    assert main(["policy", "check", "--no-model", str(tmp_path / "p.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: policy 'custom' hash ") and "(1 entity types, packs core)" in out
