"""The public names of redactor.proxy, pinned (they are what other parts plug into)."""

import redactor.proxy


def test_all_is_sorted_and_pinned():
    assert redactor.proxy.__all__ == sorted(redactor.proxy.__all__)
    assert redactor.proxy.__all__ == [
        "BodyDecodeError", "BodyKind", "BodyTooLarge", "CONFIG", "CONTEXT", "ConfigError",
        "FailClosed", "GOVERNANCE", "IdentityConfig", "METRICS", "Overloaded", "POLICY", "POOL", "PoolClosed",
        "ProxyConfig", "ProxyError", "REQUEST_BODY_HOOKS", "REQUEST_HOOKS", "RESERVED_PREFIX",
        "RESPONSE_HOOKS", "RedactedResponse", "RedactionFailed", "RequestBodyHook",
        "RequestContext", "RequestHook", "ResponseHook",
        "VAULT_SPEC", "WorkerCrashed", "WorkerPool", "WorkerTimeout", "create_app",
        "governance_plugin", "load_config"]


def test_every_name_resolves():
    for name in redactor.proxy.__all__:
        assert getattr(redactor.proxy, name) is not None


def test_errors_are_redactor_errors():
    from redactor import RedactorError
    assert issubclass(redactor.proxy.ProxyError, RedactorError)
    assert issubclass(redactor.proxy.WorkerCrashed, redactor.proxy.FailClosed)
