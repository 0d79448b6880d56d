"""Imported once, by the worker pool's fork server, to load the engine before any fork.

The pool puts the policy (as JSON) in ``REDACTOR_PROXY_PRELOAD`` before the fork server
starts; importing this module there builds and warms the :class:`RedactorSet`, so each
worker forked from the server starts with spaCy and the packs already loaded (seconds
saved per worker, and restarts after a crash take milliseconds). Nowhere else does
importing this module do anything.
"""

from __future__ import annotations

import os

ENV = "REDACTOR_PROXY_PRELOAD"
WARM_UP = ("Warm up: Dana Whitfield, dana@example.com, +1 212-555-0187, 4111 1111 1111 1111, "
           "10.0.0.1, 12 Main Street, Springfield.")

PRELOADED = None

if os.environ.get(ENV):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")  # before numpy loads: one core per worker
    try:
        import orjson

        from ..policy import load_policy
        from .bodies import RedactorSet

        PRELOADED = RedactorSet(load_policy(orjson.loads(os.environ[ENV])))
        PRELOADED.for_role(None).analyze(WARM_UP)  # detection only: no vault here
    except Exception:  # each worker then loads (and reports) on its own
        PRELOADED = None
