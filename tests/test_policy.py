"""Policy loading: typed, validated, and never silently defaulted."""

from __future__ import annotations

from pathlib import Path

import pytest

from redactor import Policy, PolicyError, Redactor, load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_default_policy() -> None:
    policy = load_policy()
    assert policy.name == "default"
    assert policy.model == "redactor_ner_sm"
    assert set(policy.entities) == {"PERSON", "LOCATION", "STREET_ADDRESS", "EMAIL_ADDRESS",
                                    "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
                                    "IP_ADDRESS", "DATE_OF_BIRTH", "SECRET", "URL", "ZIP_CODE",
                                    "US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_ITIN", "US_PASSPORT",
                                    "UK_NHS", "UK_NINO", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE",
                                    "FR_NIR", "DE_TAX_ID", "NL_BSN", "PL_PESEL",
                                    "SE_PERSONAL_NUMBER", "FI_PERSONAL_IDENTITY_CODE", "DK_CPR",
                                    "BE_NATIONAL_NUMBER"}
    assert policy.operator("URL").type == "keep"
    assert policy.operator("PERSON").type == "replace"
    assert policy.threshold("PERSON") == 0.5


def test_policy_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    a = load_policy({"entities": {"PERSON": {}}})
    b = load_policy(write(tmp_path, "entities:\n  PERSON: {}\n"))
    c = load_policy({"entities": {"PERSON": {"threshold": 0.6}}})
    assert a.hash == b.hash
    assert a.hash != c.hash
    assert len(a.hash) == 64


def test_a_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, """\
version: 1
name: billing
extends: default
entities:
  CREDIT_CARD:
    threshold: 0.7
    operator: {type: mask, keep_last: 4}
allow: [support@example.com]
deny:
  - {value: Project Falcon, entity_type: SECRET}
""")
    policy = load_policy(path)
    assert policy.name == "billing"
    assert policy.threshold("CREDIT_CARD") == 0.7
    assert policy.operator("CREDIT_CARD").params == {"keep_last": 4}
    assert "PERSON" in policy.entities  # from the explicit base


@pytest.mark.parametrize(("text", "key", "line", "message"), [
    ("entities:\n  PERSON: {}\ncolour: red\n", "colour", 3, "unknown key"),
    ("entities:\n  PERSON:\n    treshold: 0.5\n", "entities.PERSON.treshold", 3, "unknown key"),
    ("entities:\n  PERSON:\n    threshold: 1.5\n", "entities.PERSON.threshold", 3, "less than or equal to 1"),
    ("entities: {}\n", "entities", 1, "at least 1 item"),
    ("version: 2\nentities:\n  PERSON: {}\n", "version", 1, "Input should be 1"),
    ("entities:\n  PERSON: {}\ndeny:\n  - {value: x}\n", "deny.0.entity_type", 4, "Field required"),
    ("extends: strict\nentities:\n  PERSON: {}\n", "extends", 1, "unknown base policy 'strict'"),
    ("entities:\n  PERSON: {}\njson:\n  rules:\n    - {path: '$..email', action: entity}\n",
     "json.rules.0", 5, "entity_type is required"),
])
def test_errors_name_file_key_and_line(tmp_path: Path, text: str, key: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    assert (err.source, err.key, err.line) == (str(path), key, line)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{line}: key '{key}': ")


def test_missing_file_is_an_error_not_a_default(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "entities:\n  PERSON: {\n  bad: [\n")
    with pytest.raises(PolicyError, match="not valid YAML") as info:
        load_policy(path)
    assert info.value.line is not None


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="a policy is a YAML mapping"):
        load_policy(write(tmp_path, "- just\n- a list\n"))


def test_unknown_builtin_name() -> None:
    with pytest.raises(PolicyError, match="unknown built-in policy 'strict'"):
        load_policy("strict")


def test_wrong_type_of_source() -> None:
    with pytest.raises(TypeError, match="not int"):
        load_policy(42)  # type: ignore[arg-type]


def test_entity_type_no_recognizer_produces_is_an_error() -> None:
    with pytest.raises(PolicyError, match="no recognizer produces EMAIL_ADRESS") as info:
        Redactor({"extends": "default", "entities": {"EMAIL_ADRESS": {}}})
    assert info.value.key == "entities.EMAIL_ADRESS"


def test_unknown_pack_is_an_error() -> None:
    from redactor import RecognizerError

    with pytest.raises(RecognizerError, match="unknown recognizer pack 'cor'; known: core"):
        Redactor({"packs": ["cor"], "entities": {"PERSON": {}}})


def test_policy_is_immutable() -> None:
    policy = load_policy()
    with pytest.raises(Exception):
        policy.name = "changed"  # type: ignore[misc]


def test_role_overrides() -> None:
    policy = load_policy({"extends": "default", "roles": {
        "billing": {"entities": {"CREDIT_CARD": {"operator": {"type": "mask", "keep_last": 4}}},
                    "disabled": ["URL"]}}})
    billing = policy.for_role("billing")
    assert billing.operator("CREDIT_CARD").type == "mask"
    assert "URL" not in billing.entities
    assert policy.for_role("agent") is policy
    assert policy.for_role(None) is policy
    r = Redactor(billing)
    assert r.redact("card 4111 1111 1111 1111").text == "card **** **** **** 1111"


def test_allow_and_deny_lists() -> None:
    r = Redactor({"extends": "default", "allow": ["support@example.com"],
                  "deny": [{"value": "Project Falcon", "entity_type": "SECRET"}]})
    text = "Write to support@example.com or dana@example.com about project falcon."
    assert r.redact(text).text == "Write to support@example.com or <EMAIL_ADDRESS> about <SECRET>."


def test_policy_objects_are_accepted_as_is() -> None:
    policy = load_policy("patterns_only")
    assert load_policy(policy) is policy
    assert isinstance(policy, Policy)
    assert policy.model is None


def test_role_that_disables_every_entity_is_refused_at_load(tmp_path) -> None:
    # Found by tests/fuzz/fuzz_policy.py: for_role() raised pydantic's ValidationError per request.
    path = tmp_path / "p.yaml"
    path.write_text("entities: {PERSON: {threshold: 0.7}}\nroles:\n  support: {disabled: [PERSON]}\n")
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    assert (exc.value.key, exc.value.line) == ("roles.support", 3)
    assert str(exc.value) == (
        f"{path}:3: key 'roles.support': the role's overrides leave an invalid policy (entities: "
        "Dictionary should have at least 1 item after validation, not 0); a role must keep at least "
        "one entity type and valid settings")
    policy = Policy.model_validate({"entities": {"PERSON": {}}, "roles": {"support": {"disabled": ["PERSON"]}}})
    with pytest.raises(PolicyError) as exc:
        policy.for_role("support")
    assert exc.value.key == "roles.support"
