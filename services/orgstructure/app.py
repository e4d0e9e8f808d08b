"""orgstructure: regions, registration, organisations, units, memberships, invites, movement."""
from services.common.auth import Trust
from services.common.config import Settings
from services.common.web import create_service

from . import registration, roster, stats
from .config import OrgstructureConfig


def create_app(settings: Settings | None = None, trust: Trust | None = None):
    settings = settings or Settings.from_env("orgstructure")
    config = OrgstructureConfig.from_env(settings.env)
    app = create_service(settings, title="Sferum orgstructure", trust=trust, config=config,
                         # The multipart envelope around a document is small.
                         upload_limits={"orgstructure.upload_roster": roster.MAX_BYTES,
                                        "orgstructure.attach_document": registration.DOCUMENT_MAX_BYTES + (64 << 10)})
    runtime = app.extensions["sferum"]

    def roster_imports(stop):
        roster.run_pending(runtime.service, stop)

    def weekly_digests(stop):
        stats.run_digests(runtime.service, stop, config.digest_poll_seconds, runtime.relay_what_was_written)

    runtime.background += [roster_imports, weekly_digests]
    return app
