"""What gunicorn runs around the apps (deploy/gunicorn.conf.py): its own logs,
which never carry the secrets a URL holds."""
from __future__ import annotations

from gunicorn.glogging import Logger

from .logs import RedactingFilter


class RedactingLogger(Logger):
    """gunicorn's error log ("Error handling request /api/v1/invites/...") and,
    when an operator turns it on, its access log, with secrets masked
    (see services.common.logs.redact)."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
