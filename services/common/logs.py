"""JSON log lines carrying the request id, so that one request can be followed
across the gateway, the services and their events."""
from __future__ import annotations

import contextvars
import json
import logging
import sys

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = correlation_id.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("service", "event_id", "event_type", "status", "method", "path", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(handler, "_sferum", False) for handler in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._sferum = True
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "urllib3", "peewee", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
