"""moderation: reports, violations, blocks, unblock requests, appeals, the moderation log."""
import logging

from services.common.auth import Trust
from services.common.config import Settings
from services.common.web import create_service

from . import blocks, flags
from .settings import ModerationSettings

TEXTS_EVERY_SECONDS = 3600

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, trust: Trust | None = None):
    settings = settings or Settings.from_env("moderation")
    config = ModerationSettings.from_env(settings.env)
    app = create_service(settings, title="Sferum moderation", trust=trust, config=config)
    runtime = app.extensions["sferum"]

    def block_expiry(stop):
        blocks.run_expiry(runtime.service, stop, after_commit=runtime.relay_what_was_written)

    def old_message_texts(stop):
        while not stop.is_set():
            try:
                with runtime.connection():
                    flags.forget_old_texts(config.message_text_days)
            except Exception:
                log.exception("forgetting old messages' texts")
            stop.wait(TEXTS_EVERY_SECONDS)

    runtime.background += [block_expiry, old_message_texts]
    return app
