"""Log lines: one JSON object per line (or plain text on a terminal), each with the id of the
request being handled when it was written.

The request id lives in a context variable set by ``RequestContextMiddleware``; asyncio tasks
and anyio worker threads inherit it, so a line written anywhere while a request is handled
carries its id. Log lines never carry request bodies or headers, and a ``Bearer`` token that
slips into a message (an upstream error echoing a header) is masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from service.runtime.settings import LogFormat, LogLevel

request_id_var: ContextVar[str | None] = ContextVar("abstractqa_request_id", default=None)

# Fields the access log passes with ``extra=``; copied into the JSON object when present.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1***", text)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...access fields, "error_type",
    "traceback"}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["traceback"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2025-01-01 12:00:00,000 INFO abstractqa.access [request id] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get() or "-"
        return redact(super().format(record))


def resolve_format(log_format: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """``auto``: text on a terminal (a person reads it), JSON otherwise (a collector does)."""
    if log_format != "auto":
        return log_format
    return "text" if stream.isatty() else "json"


def configure_logging(
    log_format: LogFormat = "auto", level: LogLevel = "info", stream: TextIO | None = None
) -> Literal["json", "text"]:
    """Send every logger's records (uvicorn's included) through one handler on the root logger;
    returns the format chosen."""
    stream = stream or sys.stderr
    chosen = resolve_format(log_format, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Python warnings would be bare text lines on stderr: they become log records too.
    logging.captureWarnings(True)
    # uvicorn's loggers write through the root handler rather than their own.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return chosen
