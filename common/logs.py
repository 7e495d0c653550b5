"""Logging: one JSON object a line in production, readable lines in development, with the request,
run, conversation and user ids of the current context on every line. Message content and tool arguments
are never logged above debug level."""

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("request_id", "run_id", "conversation_id", "user_id")
_context: ContextVar[dict[str, Any] | None] = ContextVar("taskchat_log_context", default=None)


def bind(**fields: Any) -> None:
    """Adds ids to every log line of the current task (and the tasks it starts)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def bound() -> dict[str, Any]:
    return dict(_context.get() or {})


class _WithContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if hasattr(record, n))
        when = self.formatTime(record, "%H:%M:%S")
        text = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}" + (
            f" [{ids}]" if ids else ""
        )
        return text + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


def configure(*, level: str | None = None, json_format: bool | None = None) -> None:
    """LOG_FORMAT=json|console (json unless a terminal is attached). LOG_LEVEL (INFO by default) is the
    level of taskchat's own loggers; libraries log WARNING and above, everything at LOG_LEVEL=DEBUG."""
    if json_format is None:
        json_format = os.environ.get("LOG_FORMAT", "json" if not sys.stderr.isatty() else "console") == "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_format else ConsoleFormatter())
    handler.addFilter(_WithContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    own = logging.getLevelName((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    if not isinstance(own, int):
        own = logging.INFO
    root.setLevel(own if own <= logging.DEBUG else max(own, logging.WARNING))
    logging.getLogger("taskchat").setLevel(own)
    for noisy in ("httpx", "httpx2", "openai", "mcp", "fastmcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
