"""Recognizer packs: YAML files in ``recognizers/`` that declare recognizers as data.

A pack file looks like::

    pack: core
    description: Entity types of the default English policy
    recognizers:
      - name: email
        entity_type: EMAIL_ADDRESS
        ...

Packs are found by name in the packs directory shipped inside the wheel
(``redactor/recognizers``; in a source checkout, the top-level ``recognizers/``) or given
as a path to a ``.yaml`` file. Every entry is validated; a mistake raises
:class:`~redactor.errors.RecognizerError` naming the file and the recognizer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import RecognizerError
from .recognizer import KINDS, Recognizer

__all__ = ["available_packs", "load_pack", "packs_dir", "parse_spec"]

S = TypeVar("S", bound=BaseModel)


@lru_cache(maxsize=1)
def packs_dir() -> Path:
    """Directory of the built-in packs (inside the installed package, or the checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "recognizers", here.parent.parent / "recognizers"):
        if candidate.is_dir():
            return candidate
    raise RecognizerError(f"the built-in recognizer packs are missing (looked in {here})")


def available_packs() -> list[str]:
    """Names of the built-in packs."""
    return sorted(p.stem for p in packs_dir().glob("*.yaml"))


def parse_spec(model: type[S], entry: dict[str, Any], source: Path) -> S:
    """Validate one pack entry into ``model``; errors name the file, recognizer and key."""
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(entry)"
        raise RecognizerError(f"key '{key}': {err['msg']}", source=str(source),
                              recognizer=str(entry.get("name", "?"))) from None


def _pack_path(name_or_path: str) -> Path:
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise RecognizerError(f"recognizer pack file not found: {path}")
        return path
    path = packs_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise RecognizerError(f"unknown recognizer pack '{name_or_path}'; "
                              f"known: {', '.join(available_packs())}")
    return path


@lru_cache(maxsize=64)
def _load_pack_cached(path: Path) -> tuple[Recognizer, ...]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise RecognizerError(f"not valid YAML: {exc}", source=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("recognizers"), list):
        raise RecognizerError("a pack is a mapping with a 'recognizers' list", source=str(path))
    unknown = set(data) - {"pack", "description", "recognizers", "license"}
    if unknown:
        raise RecognizerError(f"unknown top-level keys: {', '.join(sorted(unknown))}", source=str(path))
    recognizers: list[Recognizer] = []
    seen: set[str] = set()
    for entry in data["recognizers"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise RecognizerError("each recognizer is a mapping with a 'name'", source=str(path))
        if entry["name"] in seen:
            raise RecognizerError("recognizer name used twice", source=str(path), recognizer=entry["name"])
        seen.add(entry["name"])
        try:
            builder = KINDS.get(str(entry.get("kind", "pattern")))
        except RecognizerError as exc:
            raise RecognizerError(exc.detail, source=str(path), recognizer=entry["name"]) from None
        recognizers.append(builder(entry, path))
    return tuple(recognizers)


def load_pack(name_or_path: str) -> tuple[Recognizer, ...]:
    """Build the recognizers of one pack, by built-in name or ``.yaml`` path (cached)."""
    # Import the modules that register recognizer kinds.
    from . import addresses, names, patterns, phones, places, urls  # noqa: F401

    return _load_pack_cached(_pack_path(name_or_path).resolve())
