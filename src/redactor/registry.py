"""Named registries: validators, recognizer kinds and operators are looked up by name.

Config files refer to these names as data. An unknown name raises the registry's error
type with the list of known names, so a typo never silently disables a recognizer.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping of names to objects, filled with :meth:`register` at import time."""

    def __init__(self, kind: str, error: Callable[[str], Exception]) -> None:
        self.kind = kind
        self._error = error
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise RuntimeError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj
        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self._error(
                f"unknown {self.kind} '{name}'; known: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
