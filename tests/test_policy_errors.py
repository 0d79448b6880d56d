"""Policy mistakes a new user makes: each one is a PolicyError naming the file, the key
path and its line, and `redactor redact` / `redactor policy check` exit 2 with that one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from redactor import OperatorError, PolicyError, Redactor, load_policy
from redactor.cli import main

HASH_HELP = "hash operator needs a key: set key_env or key_file in the policy, or pass Redactor(hash_key=...)"

CASES = [  # (policy text, key, line, message after "key '...': ")
    ("extends: default\nentities:\n  CREDIT_CARD: {operator: {type: mask, keep_lst: 4}}\n",
     "entities.CREDIT_CARD.operator.keep_lst", 3,
     "unknown parameter of operator 'mask'; did you mean 'keep_last'? "
     "(known: masking_char, keep_last, keep_first, preserve_separators)"),
    ("extends: default\nentities:\n  PERSON:\n    operator:\n      type: replace\n      new_vaule: X\n",
     "entities.PERSON.operator.new_vaule", 6,
     "unknown parameter of operator 'replace'; did you mean 'new_value'? (known: new_value)"),
    ("extends: default\nentities:\n  PERSON: {operator: {type: mask, masking_char: '**'}}\n",
     "entities.PERSON.operator.masking_char", 3,
     "operator 'mask': String should have at most 1 character"),
    ("extends: default\nentities:\n  PERSON: {operator: {type: redact, length: 3}}\n",
     "entities.PERSON.operator.length", 3, "unknown parameter of operator 'redact' (known: none)"),
    ("name: typo3\nentites:\n  PERSON: {}\n", "entites", 2, "unknown key; did you mean 'entities'?"),
    ("entities:\n  PERSON: {treshold: 0.5}\n", "entities.PERSON.treshold", 2,
     "unknown key; did you mean 'threshold'?"),
    ("extends: default\njson:\n  scan_numbrs: false\n", "json.scan_numbrs", 3,
     "unknown key; did you mean 'scan_numbers'?"),
    ("extends: default\nroles:\n  billing:\n    entities:\n      CREDIT_CARD:\n        operator: {type: msk}\n",
     "roles.billing.entities.CREDIT_CARD.operator.type", 6,
     "unknown operator 'msk'; did you mean 'mask'? (known: hash, keep, mask, pseudonymize, redact, replace)"),
    ("extends: default\ndefault_operator: scramble\n", "default_operator.type", 2,
     "unknown operator 'scramble' (known: hash, keep, mask, pseudonymize, redact, replace)"),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "typo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "line", "message"), CASES)
def test_load_names_file_key_and_line(tmp_path: Path, text: str, key: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert (info.value.source, info.value.key, info.value.line) == (str(path), key, line)
    assert str(info.value) == f"{path}:{line}: key '{key}': {message}"


@pytest.mark.parametrize(("text", "key", "line", "message"), CASES)
def test_policy_check_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            text: str, key: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    assert main(["policy", "check", "--no-model", str(path)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"redactor: error: {path}:{line}: key '{key}': {message}\n")


def test_redact_exits_2_on_a_bad_operator_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, CASES[0][0])
    assert main(["redact", "--policy", str(path), str(path)]) == 2
    assert capsys.readouterr().err == f"redactor: error: {path}:3: key '{CASES[0][1]}': {CASES[0][3]}\n"


@pytest.mark.parametrize(("text", "key", "line"), [
    ("extends: default\nentities:\n  PERSON:\n    operator: hash\n", "entities.PERSON.operator", 4),
    ("extends: default\ndefault_operator: {type: hash, length: 32}\n", "default_operator", 2),
])
def test_hash_without_a_key_is_a_policy_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              text: str, key: str, line: int) -> None:
    path = write(tmp_path, text)
    expected = f"{path}:{line}: key '{key}': {HASH_HELP}"
    with pytest.raises(PolicyError) as info:
        Redactor(path, model=None)
    assert isinstance(info.value, OperatorError)  # what it was before: still caught as one
    assert (str(info.value), info.value.line) == (expected, line)
    assert main(["policy", "check", "--no-model", str(path)]) == 2
    assert capsys.readouterr().err == f"redactor: error: {expected}\n"
    # Given in code, the key makes the same policy valid.
    assert Redactor(path, model=None, hash_key=b"k" * 16).redact("x").text == "x"


def test_hash_key_env_unset_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDACTOR_TEST_NO_SUCH_KEY", raising=False)
    path = write(tmp_path, "extends: default\nentities:\n  PERSON:\n"
                           "    operator: {type: hash, key_env: REDACTOR_TEST_NO_SUCH_KEY}\n")
    with pytest.raises(PolicyError) as info:
        Redactor(path, model=None)
    assert str(info.value) == (f"{path}:4: key 'entities.PERSON.operator': hash operator: "
                               "environment variable REDACTOR_TEST_NO_SUCH_KEY is not set")


def test_unknown_entity_type_names_file_line_and_a_close_match(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "name: x\npacks: [core]\nentities:\n  EMAIL_ADDRESS: {}\n  PERSN: {}\n")
    with pytest.raises(PolicyError) as info:
        Redactor(path, model=None)
    prefix = (f"{path}:5: key 'entities.PERSN': no recognizer produces PERSN (packs: core; "
              "NER is off (model is None)); did you mean 'PERSON'? known: ")
    assert str(info.value).startswith(prefix)
    assert (info.value.source, info.value.key, info.value.line) == (str(path), "entities.PERSN", 5)
    assert main(["policy", "check", "--no-model", str(path)]) == 2
    assert capsys.readouterr().err == f"redactor: error: {info.value}\n"


def test_a_dict_policy_is_located_as_dict() -> None:
    with pytest.raises(PolicyError) as info:
        Redactor({"packs": ["core"], "entities": {"EMAIL_ADRESS": {}}}, model=None)
    assert str(info.value).startswith("<dict>: key 'entities.EMAIL_ADRESS': no recognizer produces "
                                      "EMAIL_ADRESS (packs: core; NER is off (model is None)); "
                                      "did you mean 'EMAIL_ADDRESS'? known: ")


def test_where_a_policy_came_from_is_not_part_of_its_value(tmp_path: Path) -> None:
    text = "name: t\npacks: [core]\nentities:\n  EMAIL_ADDRESS: {}\n"
    a, b = write(tmp_path, text), tmp_path / "other.yaml"
    b.write_text("\n\n" + text, encoding="utf-8")
    pa, pb = load_policy(a), load_policy(b)
    assert pa == pb and pa.hash == pb.hash
    assert pa.error("x", key="entities.EMAIL_ADDRESS").line == 4
    assert str(pb.error("x", key="entities.EMAIL_ADDRESS")) == f"{b}:6: key 'entities.EMAIL_ADDRESS': x"


def test_a_role_hash_without_its_key_fails_policy_check_and_proxy_startup(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDACTOR_TEST_NO_SUCH_KEY", raising=False)
    path = write(tmp_path, "extends: default\nroles:\n  billing:\n    entities:\n      CREDIT_CARD:\n"
                           "        operator: {type: hash, key_env: REDACTOR_TEST_NO_SUCH_KEY}\n")
    expected = (f"redactor: error: {path}:6: key 'roles.billing.entities.CREDIT_CARD.operator': "
                "hash operator: environment variable REDACTOR_TEST_NO_SUCH_KEY is not set\n")
    assert main(["policy", "check", "--no-model", str(path)]) == 2
    assert capsys.readouterr().err == expected
    # The proxy checks it before loading a model or opening a store.
    assert main(["proxy", "--upstream", "http://127.0.0.1:9", "--policy", str(path), "--no-audit"]) == 2
    assert capsys.readouterr().err == expected
    monkeypatch.setenv("REDACTOR_TEST_NO_SUCH_KEY", "k" * 16)
    assert main(["policy", "check", "--no-model", str(path)]) == 0
