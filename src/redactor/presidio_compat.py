"""Interoperability with Microsoft Presidio (presidio-analyzer / presidio-anonymizer).

* :func:`to_recognizer_result` / :func:`from_recognizer_result` convert findings to and
  from ``presidio_analyzer.RecognizerResult``.
* :class:`PresidioRecognizerAdapter` runs any Presidio ``EntityRecognizer`` (a
  ``PatternRecognizer``, a custom subclass) as a redactor recognizer; pass it in
  ``Redactor(extra_recognizers=[...])``. Recognizers that read ``nlp_artifacts`` get
  tokens from a blank spaCy English tokenizer (no model, no network).

presidio-analyzer is imported only when these are used.
"""

from __future__ import annotations

import threading
from typing import Any

from .findings import Finding
from .recognizer import ScanText

__all__ = ["PresidioRecognizerAdapter", "from_recognizer_result", "to_recognizer_result"]


def to_recognizer_result(finding: Finding) -> Any:
    """The finding as a ``presidio_analyzer.RecognizerResult`` (same offsets and score)."""
    from presidio_analyzer import AnalysisExplanation, RecognizerResult

    explanation = AnalysisExplanation(recognizer=finding.recognizer, original_score=finding.score,
                                      textual_explanation=finding.explanation or "")
    return RecognizerResult(finding.entity_type, finding.start, finding.end, finding.score,
                            analysis_explanation=explanation,
                            recognition_metadata={"recognizer_name": finding.recognizer,
                                                  "validated": finding.validated})


def from_recognizer_result(result: Any, *, recognizer: str | None = None) -> Finding:
    """A :class:`Finding` from a ``RecognizerResult``; the score is clamped to [0, 1].

    ``recognizer`` defaults to the result's ``recognition_metadata["recognizer_name"]``.
    """
    metadata = result.recognition_metadata or {}
    name = recognizer or metadata.get("recognizer_name") or "presidio"
    explanation = getattr(result.analysis_explanation, "textual_explanation", None)
    return Finding(result.entity_type, int(result.start), int(result.end),
                   min(1.0, max(0.0, float(result.score))), str(name),
                   bool(metadata.get("validated", False)), explanation)


class PresidioRecognizerAdapter:
    """Runs a Presidio ``EntityRecognizer`` inside redactor's pattern pass."""

    _tokenizer: Any = None
    _tokenizer_lock = threading.Lock()

    def __init__(self, recognizer: Any) -> None:
        from presidio_analyzer import EntityRecognizer

        if not isinstance(recognizer, EntityRecognizer):
            raise TypeError("extra recognizers must be redactor recognizers or Presidio "
                            f"EntityRecognizer instances, not {type(recognizer).__name__}")
        self._recognizer = recognizer
        self.name: str = str(getattr(recognizer, "name", type(recognizer).__name__))
        self.entity_types = frozenset(recognizer.supported_entities)

    def find(self, scan: ScanText) -> list[Finding]:
        results = self._recognizer.analyze(scan.text, list(self.entity_types), self._artifacts(scan.text))
        return [from_recognizer_result(r, recognizer=self.name) for r in results or []
                if r.end > r.start]

    def _artifacts(self, text: str) -> Any:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        doc = self._tokenize(text)
        return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                            lemmas=[t.lower_ for t in doc], nlp_engine=None, language="en")

    @classmethod
    def _tokenize(cls, text: str) -> Any:
        with cls._tokenizer_lock:
            if cls._tokenizer is None:
                import spacy

                cls._tokenizer = spacy.blank("en")
            return cls._tokenizer(text)
