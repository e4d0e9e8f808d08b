"""One service's app alone in the test's process, where the whole platform
is more than the test needs: the bearer token is taken as the user's id, and
realtime pushes are kept in `runtime.pushes` instead of sent."""
from __future__ import annotations

from devkit.helpers import TokensAreUserIds, dev_env
from services.common.config import Settings
from services.common.wsgi import build


def messaging_app(var_dir):
    app = build("messaging", Settings.from_env("messaging", dev_env(var_dir)))
    app.extensions["sferum.verifier"] = TokensAreUserIds()
    runtime = app.extensions["sferum"]
    runtime.migrate()
    pushes = []
    runtime.realtime.publish = lambda recipients, event_type, data: pushes.append((event_type, data))
    runtime.pushes = pushes
    return app, runtime
