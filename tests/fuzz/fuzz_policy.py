"""Fuzz the policy loader: YAML text from a file, and mappings, to a validated Policy.

Anything but a valid policy must raise :class:`PolicyError` (naming file, key and line);
a valid one must hash, resolve every role, and never echo a value into an error message
it did not come from (messages are checked to be short).
"""

from __future__ import annotations

import os
import tempfile

import atheris

from fuzz_common import main

with atheris.instrument_imports(include=["redactor", "yaml"]):
    import yaml

    from redactor import PolicyError, load_policy

SEEDS = [b"version: 1\nextends: patterns_only\nentities:\n  EMAIL_ADDRESS: {operator: {type: mask, keep_last: 4}}\n",
         b"entities: {PERSON: {threshold: 0.7}}\nroles:\n  support: {disabled: [PERSON]}\n",
         b"extends: default\njson: {rules: [{path: '$..email', action: entity, entity_type: EMAIL_ADDRESS}]}\n",
         b"entities: {A: {}}\ndeny: [{value: x, entity_type: A}]\nallow: [a, b]\ndetection_budget_s: 2\n"]
# libFuzzer exits without Python's atexit: the file is removed after every input instead.
_FILE = os.path.join(tempfile.gettempdir(), f"redactor-fuzz-policy-{os.getpid()}.yaml")


def test_one_input(data: bytes) -> None:
    with open(_FILE, "wb") as f:
        f.write(data)
    try:
        policy = load_policy(_FILE)
    except PolicyError as exc:
        assert len(str(exc)) < 2000, "error message echoes too much of the input"
        return
    finally:
        os.unlink(_FILE)
    assert len(policy.hash) == 64
    for role in policy.roles:
        try:
            policy.for_role(role)
        except PolicyError:
            pass
    try:  # the same document as a mapping
        doc = yaml.safe_load(data)
    except yaml.YAMLError:
        return
    assert load_policy(doc).hash == policy.hash


if __name__ == "__main__":
    main(test_one_input)
