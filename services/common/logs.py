"""JSON log lines carrying the request id, so that one request can be followed
across the gateway, the services and their events."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

# Bearer secrets that travel in URLs: the path segment after one of these
# (school invites and their links /join/<token>, chat links and theirs
# /chat/<token>), and these query parameters (the stream's access token or ticket).
SECRET_AFTER_SEGMENTS = ("invites", "chat-invites", "join", "chat")
SECRET_QUERY_PARAMETERS = ("token", "ticket", "access_token", "refresh_token")
MASK = "***"
_SECRET_SEGMENT = re.compile(r"(/(?:%s)/)[^/?#\s\"'<>]+" % "|".join(map(re.escape, SECRET_AFTER_SEGMENTS)))
_SECRET_PARAMETER = re.compile(r"((?:^|[?&;\s])(?:%s)=)[^&;#\s\"'<>]*" % "|".join(SECRET_QUERY_PARAMETERS),
                               re.IGNORECASE)
_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` (a path, a request line, a URL, a whole message) with the secrets
    a URL or a header may carry masked: invite and chat-link tokens in paths,
    token and ticket query parameters, bearer tokens."""
    for pattern in (_SECRET_SEGMENT, _SECRET_PARAMETER, _BEARER):
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets (see `redact`) in the records of loggers that are not
    written through JsonFormatter, such as gunicorn's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = correlation_id.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("service", "event_id", "event_type", "status", "method", "path", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
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
