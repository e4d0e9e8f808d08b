"""orgstructure: regions, registration, organisations, units, memberships, invites, movement."""
from services.common.auth import KeySet
from services.common.config import Settings
from services.common.web import create_service

from . import roster


def create_app(settings: Settings | None = None, keys: KeySet | None = None):
    app = create_service(settings or Settings.from_env("orgstructure"), title="Sferum orgstructure", keys=keys)
    runtime = app.extensions["sferum"]

    def roster_imports(stop):
        roster.run_pending(runtime.outbox, stop)

    runtime.background.append(roster_imports)
    return app
