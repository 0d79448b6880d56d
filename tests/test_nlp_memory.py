"""The NER pass must not grow the shared spaCy vocabulary: in a long-running proxy worker
every new e-mail address, number or name would otherwise stay in memory for good (14-24
new strings per generated ticket before the memory zone; unbounded over weeks)."""

from __future__ import annotations

from redactor import Redactor
from redactor.nlp import load_pipeline


def test_redacting_new_text_leaves_the_vocabulary_as_it_was(redactor: Redactor) -> None:
    nlp = load_pipeline(redactor.model)
    redactor.redact("Warm-up: Dana Whitfield wrote to dana@example.org.")
    strings_before = len(nlp.vocab.strings)
    texts = [f"Hello, Maria Gonzalez here. Mail xq{n}@zyxw{n}.example about order Q{n:07d}zk."
             for n in range(200)]
    results = redactor.redact_many(texts)
    assert len(nlp.vocab.strings) == strings_before
    assert results[7].text == "Hello, <PERSON> here. Mail <EMAIL_ADDRESS> about order Q0000007zk."
    assert all("@" not in r.text for r in results)
