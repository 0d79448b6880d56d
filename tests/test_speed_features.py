"""The hot-path features of issue 4: analysis cache, worker processes, prefilters.

Behaviour only (exact findings, counts, cache contents); speed lives in
benchmarks/throughput.py.
"""

from __future__ import annotations

import pickle

import pytest

from redactor import DetectionTimeout, Finding, Redactor
from redactor.cache import AnalysisCache, PayloadCache
from redactor.engine import POOL_MIN_CHARS
from redactor.findings import Finding
from redactor.normalize import normalize
from redactor.operators import OperationContext
from redactor.recognizer import ScanText
from redactor.workers import split_balanced

TEXT = "Call Dana Fakesmith at 212-555-0143 or dana.fakesmith@example.com today."


def test_cache_hit_returns_the_same_findings_and_skips_detection(redactor: Redactor) -> None:
    r = Redactor(cache_size=8)
    first = r.redact(TEXT)
    assert (r.cache.hits, r.cache.misses, len(r.cache)) == (0, 1, 1)  # type: ignore[union-attr]
    r._recognizers = ()  # a hit must not run a recognizer: none is left to run
    r._ner = None
    again = r.redact(TEXT)
    assert (r.cache.hits, r.cache.misses) == (1, 1)  # type: ignore[union-attr]
    assert again == first
    assert again.text == "Call <PERSON> at <PHONE_NUMBER> or <EMAIL_ADDRESS> today."
    assert first == redactor.redact(TEXT)  # same as a Redactor with its cache untouched


def test_cache_holds_findings_under_keyed_hashes_never_text() -> None:
    r = Redactor("patterns_only", cache_size=4)
    r.analyze(TEXT)
    cache = r.cache
    assert cache is not None
    [(key, value)] = list(cache._items.items())
    assert isinstance(key, bytes) and len(key) == 32
    assert key == cache.key(r._scope(r.entity_types), TEXT)
    assert key != Redactor("patterns_only", cache_size=4).cache.key(  # type: ignore[union-attr]
        r._scope(r.entity_types), TEXT)  # another process/instance key: another hash
    assert all(isinstance(f, Finding) for f in value)
    blob = pickle.dumps(cache._items)
    for secret in (b"Fakesmith", b"212-555-0143", b"example.com", b"Call"):
        assert secret not in blob


def test_cache_scope_separates_entity_restrictions() -> None:
    r = Redactor("patterns_only", cache_size=4)
    assert [f.entity_type for f in r.analyze(TEXT, entities=["EMAIL_ADDRESS"])] == ["EMAIL_ADDRESS"]
    assert [f.entity_type for f in r.analyze(TEXT)] == ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"]
    assert len(r.cache) == 2  # type: ignore[arg-type]


def test_cache_is_lru_bounded_by_entries() -> None:
    cache = AnalysisCache(2)
    f = (Finding("PERSON", 0, 3, 0.9, "t"),)
    k1, k2, k3 = (cache.key(b"s", t) for t in ("a", "b", "c"))
    cache.put(k1, f)
    cache.put(k2, ())
    assert cache.get(k1) == f  # k1 is now the most recently used
    cache.put(k3, ())
    assert (cache.get(k2), cache.get(k1), cache.get(k3), len(cache)) == (None, f, (), 2)
    with pytest.raises(ValueError, match="at least 1"):
        AnalysisCache(0)


def test_cache_size_zero_turns_the_cache_off() -> None:
    r = Redactor("patterns_only", cache_size=0)
    assert r.cache is None
    assert r.redact(TEXT).text == "Call <PERSON> at <PHONE_NUMBER> or <EMAIL_ADDRESS> today."
    with pytest.raises(ValueError, match="cache_size must be >= 0"):
        Redactor("patterns_only", cache_size=-1)


def test_equal_texts_in_one_batch_share_one_analysis() -> None:
    r = Redactor("patterns_only", cache_size=16)
    results = r.redact_many([TEXT, "nothing here", TEXT])
    assert results[0] == results[2]
    assert results[1].text == "nothing here" and results[1].findings == ()
    assert len(r.cache) == 2  # type: ignore[arg-type]


def test_workers_give_the_same_results_as_one_process(redactor: Redactor) -> None:
    texts = [f"Ticket {i}: {TEXT} Reply to jo{i}@example.org. " * 6 for i in range(12)]
    texts.append("No PII in this one, just a long enough sentence about invoices. " * 20)
    assert sum(map(len, texts)) > POOL_MIN_CHARS
    r = Redactor(cache_size=0)
    try:
        parallel = r.redact_many(texts, workers=2)
        pids = r._pools[1]._executor._processes  # workers=2: this process and one worker
        assert len(pids) == 1
    finally:
        r.close()
    assert r._pools == {}
    assert parallel == redactor.redact_many(texts)
    assert sum(len(x.findings) for x in parallel) == 12 * 6 * 4
    with pytest.raises(ValueError, match="workers must be at least 1"):
        r.redact_many(texts, workers=0)


def test_caller_and_worker_share_the_runs_and_keep_the_order() -> None:
    from redactor.policy import load_policy
    from redactor.workers import RedactorPool

    texts = [f"Ticket {i}: mail jo{i}@example.org or call 212-555-01{i:02d}." for i in range(30)]
    r = Redactor("patterns_only", cache_size=0)
    expected = r.analyze_many(texts)
    taken: list[int] = []

    def local(share: list[str]) -> list[list[Finding]]:
        taken.append(len(share))
        return r.analyze_many(share)

    with RedactorPool(load_policy("patterns_only"), workers=1, model=None) as pool:
        found = pool.analyze_many(texts, local=local)
    assert found == expected
    assert [(f.start, f.end) for f in found[7]] == [(15, 30), (39, 51)]
    assert taken and sum(taken) < len(texts)  # the caller took runs from the back, not all


def test_small_worker_calls_stay_in_process() -> None:
    r = Redactor("patterns_only", cache_size=0)
    assert r.redact_many([TEXT, "x@example.com"], workers=2)[1].text == "<EMAIL_ADDRESS>"
    assert r._pools == {}  # under POOL_MIN_CHARS: no pool was started


def test_split_balanced_cuts_by_size() -> None:
    assert split_balanced([10, 10, 10, 10], 2) == [range(0, 2), range(2, 4)]
    assert split_balanced([100, 1, 1, 1], 2) == [range(0, 1), range(1, 4)]
    assert split_balanced([5], 4) == [range(0, 1)]
    assert split_balanced([], 3) == []


def test_split_balanced_cuts_at_the_boundary_nearest_each_share() -> None:
    assert split_balanced([10] * 6, 2) == [range(0, 3), range(3, 6)]
    # 120 in all: the share of 60 falls on the boundary after the third text
    assert split_balanced([30, 20, 10, 10, 10, 10, 10, 10, 10], 2) == [range(0, 3), range(3, 9)]
    assert split_balanced([1, 1, 100], 3) == [range(0, 2), range(2, 3)]  # no empty run
    assert split_balanced([7], 2) == [range(0, 1)]
    assert split_balanced([], 1) == []


def test_secret_keyword_prefilter_keeps_every_match(redactor: Redactor) -> None:
    text = ("key AKIAIOSFODNN7EXAMPLE and Authorization: Bearer abcdefghijklmnop1234 "
            "password: Tr0ub4dor&3x")
    found = [(f.recognizer, text[f.start:f.end]) for f in redactor.analyze(text)
             if f.entity_type == "SECRET"]
    assert found == [("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                     ("bearer_token", "abcdefghijklmnop1234"), ("password_field", "Tr0ub4dor&3x")]


def test_digit_count_matches_isdigit_for_ascii_and_unicode() -> None:
    for text in ("abc 123-45 x9", "٣٤ and 12", "no digits", "²³ 7"):
        assert ScanText(text).digit_count == sum(c.isdigit() for c in text)


def test_nfkc_fast_path_keeps_the_identity_map() -> None:
    assert normalize("Zoë in Zürich").source is None  # already NFKC, nothing to fold
    folded = normalize("Zoë \u2013 １２")
    assert folded.text == "Zoë - 12" and folded.source is not None


def test_a_timeout_in_a_worker_is_a_detection_timeout_and_the_pool_survives() -> None:
    r = Redactor({"packs": ["core"], "model": None, "pattern_timeout_s": 1e-9,
                  "entities": {"EMAIL_ADDRESS": {}, "PHONE_NUMBER": {}}}, cache_size=0)
    texts = [f"{i} mail a.b@example.com or call 212-555-0143, " * 400 for i in range(4)]
    try:
        with pytest.raises(DetectionTimeout) as info:
            r.analyze_many(texts, workers=2)
        assert info.value.limit_s == 1e-9
        assert r._pools[1].analyze_many(["short"]) == [[]]  # still answers
    finally:
        r.close()


def test_payload_cache_answers_a_repeated_json_payload_with_a_fresh_copy() -> None:
    r = Redactor("patterns_only")
    payload = {"ticket": {"description": "mail jo@example.org", "tags": ["a", 1, None, 2.5]}}
    first = r.redact_json(payload)
    assert first.value == {"ticket": {"description": "mail <EMAIL_ADDRESS>", "tags": ["a", 1, None, 2.5]}}
    assert first.counts == {"EMAIL_ADDRESS": 1}
    assert r.payload_cache is not None and len(r.payload_cache) == 1
    second = r.redact_json(payload)
    assert (second.value, second.counts) == (first.value, first.counts)
    second.value["ticket"]["description"] = "changed by the caller"
    assert r.redact_json(payload).value["ticket"]["description"] == "mail <EMAIL_ADDRESS>"
    r.redact_json(payload, ctx=OperationContext())  # a caller's context: not cached
    r.redact_json({"a": float("nan")})  # NaN cannot be written exactly as JSON: not cached
    r.redact_json({1: "jo@example.org"})  # a non-str key: not cached
    assert len(r.payload_cache) == 1
    assert Redactor("patterns_only", cache_size=0).payload_cache is None


def test_payload_cache_is_bounded_by_entries_and_bytes() -> None:
    cache = PayloadCache(2, max_bytes=10)
    cache.put(b"k1", b"12345", ())
    cache.put(b"k2", b"12345", ())
    cache.put(b"k3", b"1", ())  # 11 bytes in all: the oldest goes
    assert (cache.get(b"k1"), len(cache)) == (None, 2)
    cache.put(b"big", b"x" * 11, ())  # larger than the whole budget: not kept
    assert cache.get(b"big") is None and cache.get(b"k3") == (b"1", ())


def test_pool_closed_during_a_call_leaves_the_rest_to_the_caller() -> None:
    from redactor.policy import load_policy
    from redactor.workers import RedactorPool

    texts = [f"Ticket {i}: mail jo{i}@example.org or call 212-555-01{i:02d}." for i in range(30)]
    r = Redactor("patterns_only", cache_size=0)
    pool = RedactorPool(load_policy("patterns_only"), workers=1, model=None)

    def local(share: list[str]) -> list[list[Finding]]:
        pool.close()  # waits for the worker's run; later runs can no longer be submitted
        return r.analyze_many(share)

    assert pool.analyze_many(texts, local=local) == r.analyze_many(texts)
    with pytest.raises(RuntimeError, match="shutdown"):  # a closed pool takes no new call
        pool.analyze_many(texts)


def test_a_budget_timeout_in_a_worker_keeps_its_kind() -> None:
    from redactor.policy import load_policy
    from redactor.workers import RedactorPool

    policy = load_policy({"packs": ["core"], "model": None, "detection_budget_s": 1e-9,
                          "entities": {"EMAIL_ADDRESS": {}}})
    with RedactorPool(policy, workers=1, model=None) as pool:
        with pytest.raises(DetectionTimeout, match="budget") as info:
            pool.analyze_many(["mail a.b@example.com " * 50])
    assert info.value.kind == "budget" and info.value.limit_s == 1e-9
