"""A shallower copy of a spaCy ``ner`` pipeline: the student for a faster NER.

``shrink(nlp, depth)`` returns a new pipeline whose ``ner`` has the same embedding, the same
parser layers and the same moves as ``nlp``'s, but only the first ``depth`` residual blocks of
its ``MaxoutWindowEncoder`` (en_core_web_sm has 4). Every weight is copied from ``nlp``; the
dropped blocks' residual contributions are simply missing, so the copy is already close to the
original (measured before any training: presidio_synth F2 0.926 vs 0.939, WNUT-17 0.738 vs
0.726 at depth 2) and ``train.py --depth N`` fine-tunes it on the same data as the original
(results: benchmarks/THROUGHPUT.md, "Known limits": no student kept both F2 figures).
Each dropped block saves ~83k multiply-adds per token (96 x 288 x 3, of ~490k in all).
"""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.util import load_model_from_config
from thinc.api import Config


def _param_nodes(model: Any) -> list[Any]:
    return [node for node in model.walk() if node.param_names]


def shrink(nlp: Language, depth: int) -> Language:
    """A copy of ``nlp`` (pipeline ``["ner"]`` only) with ``depth`` encoder blocks.

    Raises ValueError when ``nlp``'s ner is not a Tok2Vec.v2 / MaxoutWindowEncoder model
    deeper than ``depth``.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    cfg = Config(nlp.config).copy()
    encode = cfg["components"]["ner"]["model"].get("tok2vec", {}).get("encode", {})
    if "MaxoutWindowEncoder" not in encode.get("@architectures", "") or encode["depth"] <= depth:
        raise ValueError(f"need a ner with its own MaxoutWindowEncoder deeper than {depth}, "
                         f"got {encode or 'a shared tok2vec'}")
    encode["depth"] = depth
    cfg["initialize"]["lookups"] = None  # the vocab is copied below; nothing to load
    cfg["initialize"]["components"] = {}
    student = load_model_from_config(cfg, auto_fill=True)
    student.vocab.from_bytes(nlp.vocab.to_bytes())
    student.tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    teacher_ner, student_ner = nlp.get_pipe("ner"), student.get_pipe("ner")
    for label in teacher_ner.labels:
        student_ner.add_label(label)
    student.initialize()
    student_ner.moves.from_bytes(teacher_ner.moves.to_bytes())  # same action order as the teacher
    if student_ner.move_names != teacher_ner.move_names:
        raise ValueError("student and teacher moves differ")
    # Walk order: parser lower, upper, tok2vec projection, 4 hash embeds, embed maxout +
    # layernorm (9 nodes), then one maxout + layernorm per encoder block.
    t_nodes, s_nodes = _param_nodes(teacher_ner.model), _param_nodes(student_ner.model)
    # zip stops at the student's last block: the teacher's deeper blocks are the ones dropped.
    for t, s in zip(t_nodes, s_nodes):
        if t.name != s.name:
            raise ValueError(f"layer mismatch: {t.name} vs {s.name}")
        for name in t.param_names:
            if t.has_param(name):
                value = t.get_param(name)
                if value.shape != s.get_param(name).shape:
                    raise ValueError(f"shape mismatch in {t.name}.{name}")
                s.set_param(name, value.copy())
    student.meta.update(nlp.meta)
    return student
