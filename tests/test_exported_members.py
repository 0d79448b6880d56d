"""The public API is exactly what __all__ says (httpx's test_exported_members pattern)."""

import redactor


def test_all_is_sorted_and_complete() -> None:
    assert redactor.__all__ == sorted(redactor.__all__)
    assert redactor.__all__ == [
        "DetectionTimeout", "Finding", "ModelError", "OperatorError", "Policy", "PolicyError",
        "RecognizerError", "RedactionResult", "Redactor", "RedactorError", "UnknownEntityError",
        "__version__", "analyze", "get_redactor", "load_policy", "redact",
    ]


def test_every_exported_name_exists() -> None:
    for name in redactor.__all__:
        assert hasattr(redactor, name), name


def test_errors_share_one_base() -> None:
    for name in ["DetectionTimeout", "ModelError", "OperatorError", "PolicyError",
                 "RecognizerError", "UnknownEntityError"]:
        assert issubclass(getattr(redactor, name), redactor.RedactorError)
    assert issubclass(redactor.UnknownEntityError, ValueError)
