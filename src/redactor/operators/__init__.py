"""Operators: what happens to each finding's characters.

One operator per module behind a tiny interface (:class:`~.base.Operator`); a policy names
them as data and they are built through :data:`OPERATORS`:

==============  =====================================================  ==========================
name            output for ``jo@example.org`` (EMAIL_ADDRESS)          parameters
==============  =====================================================  ==========================
replace         ``<EMAIL_ADDRESS>``                                    ``new_value``
mask            ``**************g`` (keep_last: 1)                     ``masking_char``, ``keep_last``, ``keep_first``
redact          (removed)                                              none
hash            HMAC-SHA256 hex digest, keyed                          ``key_env`` / ``key_file``, ``length``
pseudonymize    ``<EMAIL_ADDRESS_1>``, same value same number per call ``format``, ``vault``
keep            unchanged (the finding is still reported)              none
==============  =====================================================  ==========================
"""

from __future__ import annotations

from .base import OPERATORS, OperationContext, Operator, build_operator
from . import hash as _hash  # noqa: F401  (registers)
from . import keep as _keep  # noqa: F401
from . import mask as _mask  # noqa: F401
from . import pseudonymize as _pseudonymize  # noqa: F401
from . import redact as _redact  # noqa: F401
from . import replace as _replace  # noqa: F401

__all__ = ["OPERATORS", "OperationContext", "Operator", "build_operator"]
