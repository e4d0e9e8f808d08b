"""calls: calls, lessons, meetings, broadcasts, signalling, attendance."""
import hmac
import logging

from flask import jsonify, request

from services.common.auth import Trust
from services.common.config import Settings
from services.common.errors import Unauthorized, error_response
from services.common.requests import service
from services.common.web import create_service

from . import janus_events
from .config import CallsConfig
from .jobs import Jobs
from .media import open_media

log = logging.getLogger(__name__)

# Janus's HTTP event handler posts here. Not under /api/v1: the gateway never
# routes it; Janus authenticates with HTTP basic auth (`backend_user`,
# `backend_pwd` in janus.eventhandler.sampleevh.jcfg).
JANUS_EVENTS_PATH = "/internal/janus-events"
JANUS_EVENTS_USER = "janus"


def create_app(settings: Settings | None = None, trust: Trust | None = None):
    settings = settings or Settings.from_env("calls")
    config = CallsConfig.from_settings(settings)
    app = create_service(settings, title="Sferum calls", trust=trust, config=config)
    runtime = app.extensions["sferum"]
    media = open_media(config)
    app.extensions["sferum.calls.config"] = config
    app.extensions["sferum.calls.media"] = media
    jobs = app.extensions["sferum.calls.jobs"] = Jobs(runtime, media, config)

    def calls_jobs(stop):
        jobs.run(stop)

    runtime.background.append(calls_jobs)
    log.info("%s", config.describe())

    @app.post(JANUS_EVENTS_PATH)
    def janus_event_handler():
        """Janus's events; never open: without JANUS_EVENTS_SECRET it does not exist."""
        if not config.janus_events_secret:
            return error_response(404, "not_found", "Not found.")
        credentials = request.authorization
        if (credentials is None or credentials.type != "basic"
                or not hmac.compare_digest((credentials.username or "").encode(), JANUS_EVENTS_USER.encode())
                or not hmac.compare_digest((credentials.password or "").encode(),
                                           config.janus_events_secret.encode())):
            raise Unauthorized("Janus's event handler authenticates.", headers={
                "WWW-Authenticate": 'Basic realm="janus-events"'})
        payload = janus_events.parse_body(request.get_data())
        if payload is None:
            return error_response(400, "bad_request", "Janus's events are JSON.")
        found = janus_events.facts(payload)
        with runtime.db.atomic():
            applied = janus_events.apply(service(), found)
        return jsonify({"received": len(payload) if isinstance(payload, list) else 1, "applied": applied})

    return app
