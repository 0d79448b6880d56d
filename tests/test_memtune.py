"""Freed heap memory kept for reuse (glibc mallopt), once per process, with an opt-out."""

from __future__ import annotations

import platform

import pytest

from redactor import memtune


def test_opt_out_leaves_malloc_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACTOR_MALLOC", "System")
    monkeypatch.setattr(memtune, "_applied", None)
    monkeypatch.setattr(memtune, "_apply", lambda n: pytest.fail("mallopt called despite the opt-out"))
    assert memtune.keep_freed_memory() is False


def test_not_glibc_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDACTOR_MALLOC", raising=False)
    monkeypatch.setattr(memtune.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert memtune._apply(64 * 1024 * 1024) is False


def test_glibc_takes_the_thresholds_and_the_answer_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDACTOR_MALLOC", raising=False)
    # mallopt exists only in glibc: there it takes the values, elsewhere nothing is touched.
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert memtune._apply(64 * 1024 * 1024) is on_glibc
    monkeypatch.setattr(memtune, "_applied", None)
    calls: list[int] = []
    monkeypatch.setattr(memtune, "_apply", lambda n: calls.append(n) or True)
    assert memtune.keep_freed_memory() is True
    assert memtune.keep_freed_memory() is True
    assert calls == [64 * 1024 * 1024]  # once per process


def test_a_misspelt_value_is_an_error_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    from redactor.errors import ModelError

    monkeypatch.setenv("REDACTOR_MALLOC", "sytem")
    with pytest.raises(ModelError, match="REDACTOR_MALLOC must be one of keep, system, not 'sytem'"):
        memtune.keep_freed_memory()
    monkeypatch.setenv("REDACTOR_MALLOC", " KEEP ")
    memtune.keep_freed_memory()  # accepted (whatever this process already decided)
