"""Entry points: the WSGI app of one service, and its background workers."""
from __future__ import annotations

import importlib

from flask import Flask

from .auth import Trust
from .config import Settings


def build(name: str, settings: Settings | None = None, trust: Trust | None = None) -> Flask:
    """The app of one service; `trust` replaces asking identity over HTTP for its
    keys and revocations when identity runs in the same process."""
    module = importlib.import_module(f"services.{name}.app")
    settings = settings or Settings.from_env(name)
    return module.create_app(settings, trust=trust) if trust else module.create_app(settings)


def serve(name: str) -> Flask:
    """For gunicorn: the app, with the outbox relay, the event consumer and the
    service's jobs running in the same process, unless RUN_WORKERS=0 says that
    `python -m services worker <name>` processes run them instead. Every web
    process follows identity's revocations itself."""
    app = build(name)
    runtime = app.extensions["sferum"]
    runtime.follow_revocations()
    if runtime.settings.run_workers:
        runtime.start_workers()
    return app
