"""moderation: reports, violations, blocks, unblock requests, the moderation log."""
from services.common.auth import KeySet
from services.common.config import Settings
from services.common.web import create_service


def create_app(settings: Settings | None = None, keys: KeySet | None = None):
    return create_service(settings or Settings.from_env("moderation"), title="Sferum moderation", keys=keys)
