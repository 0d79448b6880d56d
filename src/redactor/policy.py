"""The redaction policy: one YAML file validated into a frozen, typed model.

A policy says which entity types to detect and with what score threshold, which operator
applies to each, allow and deny lists, JSON field rules, per-role overrides (used by the
proxy), the spaCy pipeline and the recognizer packs. Example::

    version: 1
    extends: default              # start from the built-in default policy, explicitly
    entities:
      CREDIT_CARD: {operator: {type: mask, keep_last: 4}}
      URL: {operator: keep}
    allow: [support@example.com]

Nothing falls back silently: a missing file, an unknown key or a bad value raises
:class:`~redactor.errors.PolicyError` naming the file, the key and its line. A policy has a
stable :attr:`Policy.hash` (SHA-256 of its canonical JSON) that audit records carry.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import types
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence, Union, get_args, get_origin

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import PolicyError
from .governance.settings import GovernancePolicy
from .nlp import DEFAULT_MODEL

__all__ = ["BUILTIN_POLICIES", "EntityPolicy", "JsonFieldRule", "JsonPolicy", "OperatorSpec",
           "Policy", "PolicySource", "ProxyPolicy", "RolePolicy", "check_operator_keys", "did_you_mean",
           "load_policy"]

_BUILTIN_DIR = Path(__file__).resolve().parent / "policies"
BUILTIN_POLICIES = ("default", "patterns_only", "patterns_fast")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperatorSpec(_Model):
    """An operator by name with its parameters; YAML may write just the name."""

    type: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"type": data}
        if isinstance(data, Mapping) and "params" not in data:
            rest = {k: v for k, v in data.items() if k != "type"}
            return {"type": data.get("type"), "params": rest}
        return data


class EntityPolicy(_Model):
    """Settings of one entity type; unset fields take the policy's defaults."""

    threshold: float | None = Field(None, ge=0.0, le=1.0)
    operator: OperatorSpec | None = None


class DenyEntry(_Model):
    """A value that is always a finding of ``entity_type`` (matched case-insensitively)."""

    value: str = Field(min_length=1)
    entity_type: str = Field(min_length=1)


class JsonFieldRule(_Model):
    """A JSONPath-style rule: ``$..email`` (any depth), ``$.user.name``, ``$.items[*].body``.

    ``action``: ``entity`` replaces the whole value as ``entity_type``; ``keep`` leaves it;
    ``scan`` runs detection on it.
    """

    path: str = Field(pattern=r"^\$")
    action: Literal["entity", "keep", "scan"]
    entity_type: str | None = None

    @model_validator(mode="after")
    def _entity_needs_type(self) -> JsonFieldRule:
        if (self.action == "entity") != (self.entity_type is not None):
            raise ValueError("entity_type is required with action 'entity' and only with it")
        return self


class JsonPolicy(_Model):
    rules: list[JsonFieldRule] = []
    default: Literal["scan", "keep"] = "scan"
    scan_numbers: bool = True


class RolePolicy(_Model):
    """Per-role overrides: entity settings replace the policy's for that role."""

    entities: dict[str, EntityPolicy] = {}
    disabled: list[str] = []


class ProxyPolicy(_Model):
    """What the proxy lets through unredacted, and whether it needs to know the agent.

    ``passthrough_types``: media types (``image/*``, ``application/pdf``) whose bodies the
    proxy cannot redact but may pass unchanged; any other unredactable type is refused
    (403). ``require_identity``: a request without the trusted agent-id header gets 401.
    """

    passthrough_types: list[str] = ["image/*"]
    require_identity: bool = False


class _Origin:
    """A policy's file (or ``"<dict>"``) and the 1-based line of each key path. Equal to
    any other origin, so two policies with the same settings compare equal."""

    __slots__ = ("source", "lines")

    def __init__(self, source: str, lines: dict[tuple[str, ...], int]) -> None:
        self.source = source
        self.lines = lines

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Origin)

    def __hash__(self) -> int:
        return 0


class Policy(_Model):
    """A validated redaction policy (immutable)."""

    version: Literal[1] = 1
    name: str = "custom"
    description: str | None = None
    model: str | None = DEFAULT_MODEL
    packs: list[str] = ["core"]
    entities: dict[str, EntityPolicy] = Field(min_length=1)
    default_threshold: float = Field(0.5, ge=0.0, le=1.0)
    default_operator: OperatorSpec = OperatorSpec(type="replace")
    allow: list[str] = []
    deny: list[DenyEntry] = []
    json_rules: JsonPolicy = Field(JsonPolicy(), alias="json")
    roles: dict[str, RolePolicy] = {}
    proxy: ProxyPolicy = ProxyPolicy()
    # Seconds: one regular-expression search; and all of one text's detection (NER aside).
    pattern_timeout_s: float = Field(1.0, gt=0.0, le=60.0)
    detection_budget_s: float = Field(10.0, gt=0.0, le=600.0)
    governance: GovernancePolicy = GovernancePolicy()  # audit, reveal, anomaly, vault

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Where the policy came from, for error messages; not part of its value or hash.
    _origin: _Origin = PrivateAttr(default_factory=lambda: _Origin("<policy>", {}))

    def error(self, message: str, *, key: str | None = None,
              cls: type[PolicyError] = PolicyError) -> PolicyError:
        """A ``cls`` error located in this policy's file: ``key`` (dotted) and the line of
        its nearest enclosing key when the policy was read from YAML (the file, or
        ``"<dict>"`` / ``"<policy>"``, otherwise)."""
        path = tuple(key.split(".")) if key else ()
        return cls(message, source=self._origin.source, key=key,
                   line=_nearest_line(self._origin.lines, path))

    @cached_property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON form; equal policies hash equal."""
        canonical = orjson.dumps(self.model_dump(mode="json", by_alias=True),
                                 option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()

    def threshold(self, entity_type: str) -> float:
        e = self.entities.get(entity_type)
        return self.default_threshold if e is None or e.threshold is None else e.threshold

    def operator(self, entity_type: str) -> OperatorSpec:
        e = self.entities.get(entity_type)
        return self.default_operator if e is None or e.operator is None else e.operator

    def for_role(self, role: str | None) -> Policy:
        """This policy with ``roles[role]`` applied (itself when the role has no overrides)."""
        override = self.roles.get(role) if role is not None else None
        if override is None:
            return self
        data = self.model_dump(by_alias=True, exclude_unset=True)
        entities = {k: v for k, v in data["entities"].items() if k not in override.disabled}
        for etype, settings in override.entities.items():
            entities[etype] = {**entities.get(etype, {}), **settings.model_dump(exclude_unset=True)}
        data.update(entities=entities, roles={}, name=f"{self.name}+role:{role}")
        try:
            return Policy.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(policy)"
            raise self.error(f"the role's overrides leave an invalid policy ({where}: {err['msg']}); "
                             "a role must keep at least one entity type and valid settings",
                             key=f"roles.{role}") from None


PolicySource = Union[Policy, Mapping[str, Any], str, "os.PathLike[str]", None]


def _line_map(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key and sequence item, by path."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = path + (str(key.value),)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[path + (str(i),)] = item.start_mark.line + 1
                walk(item, path + (str(i),))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def _nearest_line(lines: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> int | None:
    """Line of ``path``, else of its closest ancestor that the file spells out."""
    return next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest candidate (difflib ratio >= 0.6), or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def schema_keys_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys ``root``'s schema allows in the mapping at ``loc`` (a key path; list
    indices step into the item type), for "did you mean" suggestions; [] when unknown."""
    node: Any = root
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            node = field.annotation
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        elif get_origin(node) is list:
            node = get_args(node)[0]
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _operator_specs(policy: Policy) -> Iterator[tuple[tuple[str, ...], OperatorSpec]]:
    """Every operator the policy names, with its key path (roles included)."""
    yield ("default_operator",), policy.default_operator
    for etype, settings in policy.entities.items():
        if settings.operator is not None:
            yield ("entities", etype, "operator"), settings.operator
    for role, override in policy.roles.items():
        for etype, settings in override.entities.items():
            if settings.operator is not None:
                yield ("roles", role, "entities", etype, "operator"), settings.operator


def _check_operators(policy: Policy, source: str, lines: Mapping[tuple[str, ...], int]) -> None:
    """Operator names and parameters are checked when the policy loads, so
    ``redactor policy check`` catches a typo (the hash key itself is read later, by the
    :class:`~redactor.Redactor`, since ``Redactor(hash_key=...)`` may supply it)."""
    from .operators import OPERATORS

    for path, spec in _operator_specs(policy):
        if spec.type not in OPERATORS:
            key = path + ("type",)
            raise PolicyError(f"unknown operator '{spec.type}'{did_you_mean(spec.type, OPERATORS.names())}"
                              f" (known: {', '.join(OPERATORS.names())})", source=source,
                              key=".".join(key), line=_nearest_line(lines, key))
        params_model = OPERATORS.get(spec.type).params
        try:
            params_model.model_validate(spec.params)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(str(p) for p in err["loc"])
            key = path + loc
            if err["type"] == "extra_forbidden":
                message = (f"unknown parameter of operator '{spec.type}'"
                           f"{did_you_mean(loc[-1], params_model.model_fields)}"
                           f" (known: {', '.join(params_model.model_fields) or 'none'})")
            else:
                message = f"operator '{spec.type}': {err['msg']}"
            raise PolicyError(message, source=source, key=".".join(key),
                              line=_nearest_line(lines, key)) from None


def check_operator_keys(policy: Policy, *, hash_key: bytes | None = None) -> None:
    """Build every operator the policy names (roles and ``default_operator`` included) once,
    so a ``hash`` without a readable key fails now rather than on the first request.

    Raises:
        PolicyOperatorError: naming the file, the operator's key path and its line.
    """
    from .errors import OperatorError, PolicyOperatorError
    from .operators import build_operator

    for path, spec in _operator_specs(policy):
        try:
            build_operator(spec.type, spec.params, hash_key=hash_key)
        except OperatorError as exc:
            raise policy.error(str(exc), key=".".join(path), cls=PolicyOperatorError) from None


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _validate(data: Any, source: str, lines: dict[tuple[str, ...], int]) -> Policy:
    if not isinstance(data, Mapping):
        raise PolicyError("a policy is a YAML mapping of keys to values", source=source)
    data = dict(data)
    base_name = data.pop("extends", None)
    if base_name is not None:
        if base_name not in BUILTIN_POLICIES:
            raise PolicyError(f"unknown base policy '{base_name}'; known: {', '.join(BUILTIN_POLICIES)}",
                              source=source, key="extends", line=lines.get(("extends",)))
        data = _deep_merge(_read_builtin_raw(base_name), data)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        # An unknown key first: a misspelt key also makes the intended one "missing".
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        loc = tuple(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key" + did_you_mean(loc[-1], schema_keys_at(Policy, loc[:-1]))
        raise PolicyError(message, source=source, key=".".join(loc) or None,
                          line=_nearest_line(lines, loc)) from None
    _check_operators(policy, source, lines)
    for role in policy.roles:  # a role's overrides must leave a valid policy: checked now, not per request
        try:
            policy.for_role(role)
        except PolicyError as exc:
            raise PolicyError(exc.detail, source=source, key=f"roles.{role}",
                              line=lines.get(("roles", role))) from None
    policy._origin = _Origin(source, dict(lines))
    return policy


def _read_builtin_raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((_BUILTIN_DIR / f"{name}.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


@lru_cache(maxsize=None)
def _builtin(name: str) -> Policy:
    return _load_file(_BUILTIN_DIR / f"{name}.yaml")


def _load_file(path: Path) -> Policy:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError("policy file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file: {exc}", source=str(path)) from None
    try:
        data = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=str(path),
                          line=None if mark is None else mark.line + 1) from None
    return _validate(data, str(path), lines)


def load_policy(source: PolicySource = None) -> Policy:
    """Return a validated :class:`Policy`.

    Args:
        source: a ``Policy`` (returned as is); a mapping (validated); a path to a YAML file
            (``str`` ending in ``.yaml``/``.yml`` or containing a path separator, or a
            ``PathLike``); the name of a built-in policy (``"default"``,
            ``"patterns_only"``, ``"patterns_fast"``); or ``None`` for ``"default"``.

    Raises:
        PolicyError: missing file, invalid YAML, unknown key, bad value or unknown name.
    """
    if isinstance(source, Policy):
        return source
    if source is None:
        source = "default"
    if isinstance(source, Mapping):
        return _validate(source, "<dict>", {})
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(source, os.PathLike) or text.endswith((".yaml", ".yml")) or os.sep in text:
            return _load_file(Path(text))
        if text in BUILTIN_POLICIES:
            return _builtin(text)
        raise PolicyError(f"unknown built-in policy '{text}' (known: {', '.join(BUILTIN_POLICIES)}); "
                          "a policy file path must end in .yaml or .yml", source=text)
    raise TypeError(f"policy must be a Policy, a mapping, a path or a name, not {type(source).__name__}")
