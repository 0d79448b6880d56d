"""JSON log lines for the proxy: one object per line, no raw values.

The access log (logger ``redactor.proxy.access``) passes its record in ``extra={"fields":
...}`` (built by :meth:`RequestContext.log_fields`); other records give level, logger and
message. Messages of this package never interpolate a body, header or matched value.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        return orjson.dumps(out, default=str).decode("utf-8")


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines (called by the CLI, never on import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # ours is the access log
