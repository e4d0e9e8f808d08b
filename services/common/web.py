"""The Flask side of every service and of the gateway: request ids, the JSON
error format, health and readiness, Prometheus metrics, and the OpenAPI
document (flask-smorest)."""
from __future__ import annotations

import importlib
import logging
import re
import time
import uuid

from flask import Flask, Response, g, jsonify, request
from flask_smorest import Api
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from . import idempotency
from .errors import ErrorSchema, register_error_handlers
from .logs import configure_logging, correlation_id
from .auth import KeySet
from .config import Settings
from .service import ServiceRuntime

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
API_PREFIX = "/api/v1"
OPENAPI_JSON = "/openapi.json"


class ServiceApi(Api):
    """flask-smorest's Api answering errors in the platform's format."""
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        register_error_handlers(self._app)


def request_id_from(incoming: str) -> str:
    """The caller's request id when it is a plausible one, else a new one."""
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def install_request_id(app: Flask) -> None:
    """Take the gateway's X-Request-ID (or make one), log it, answer it, and
    carry it into events as `correlation_id`."""

    @app.before_request
    def _assign_request_id():
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))
        g.correlation_token = correlation_id.set(g.request_id)
        g.started_at = time.perf_counter()

    @app.after_request
    def _answer_request_id(response: Response):
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

    @app.teardown_request
    def _reset_request_id(_error=None):
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation_id.reset(token)


class RequestMetrics:
    """Counts, times and logs every answered request."""

    UNLOGGED = frozenset(("/healthz", "/readyz", "/metrics"))

    def __init__(self, registry: CollectorRegistry, name: str):
        self.name = name
        self.requests_total = Counter("http_requests_total", "HTTP requests answered",
                                      ["service", "method", "route", "status"], registry=registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to answer HTTP requests",
                                  ["service", "route"], registry=registry,
                                  buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

    def observe(self, method: str, route: str, path: str, status: int, started_at: float | None) -> None:
        self.requests_total.labels(self.name, method, route, str(status)).inc()
        if started_at is None:
            return
        elapsed = time.perf_counter() - started_at
        self.duration.labels(self.name, route).observe(elapsed)
        if route not in self.UNLOGGED:
            log.info("%s %s %s", method, path, status,
                     extra={"service": self.name, "method": method, "path": route, "status": status,
                            "duration_ms": round(elapsed * 1000, 1)})


def install_metrics(app: Flask, registry: CollectorRegistry, name: str) -> RequestMetrics:
    metrics = RequestMetrics(registry, name)

    @app.after_request
    def _observe(response: Response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe(request.method, route, request.path, response.status_code, g.get("started_at"))
        return response

    @app.get("/metrics")
    def metrics_page():
        return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

    return metrics


class _RuntimeCollector:
    def __init__(self, runtime: ServiceRuntime):
        self.runtime = runtime

    def collect(self):
        runtime = self.runtime
        backlog = GaugeMetricFamily("outbox_backlog", "Events waiting in the outbox", labels=["service"])
        try:
            backlog.add_metric([runtime.name], runtime.relay.pending())
        except Exception:
            backlog.add_metric([runtime.name], float("nan"))
        yield backlog
        published = GaugeMetricFamily("events_published", "Events published by this process",
                                      labels=["service"])
        published.add_metric([runtime.name], runtime.relay.published_total)
        yield published
        handled = GaugeMetricFamily("events_handled", "Events handled by this process",
                                    labels=["service"])
        handled.add_metric([runtime.name], runtime.consumer.handled_total if runtime.consumer else 0)
        yield handled
        together = GaugeMetricFamily("events_handled_together",
                                     "Of those, events applied in one transaction with others", labels=["service"])
        together.add_metric([runtime.name], runtime.consumer.handled_together_total if runtime.consumer else 0)
        yield together


def create_service_app(runtime: ServiceRuntime, blueprints, *, title: str,
                       max_content_length: int = 1 << 20) -> Flask:
    configure_logging(runtime.settings.log_level)
    app = Flask(f"sferum.{runtime.name}")
    app.config.update(
        API_TITLE=title, API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH=OPENAPI_JSON.lstrip("/"),
        MAX_CONTENT_LENGTH=max_content_length, JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.extensions["sferum"] = runtime
    app.extensions["sferum.verifier"] = runtime.verifier
    install_request_id(app)
    api = ServiceApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}})
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
    app.extensions["sferum.api"] = api

    @app.before_request
    def _open_db():
        # A connection context (not a bare connect) so that code using its own
        # nested context does not close the request's connection.
        g.db_context = runtime.db.connection_context()
        g.db_context.__enter__()
        # Realtime pushes wait for the request's transactions to commit.
        runtime.realtime.hold()
        g.pushes_held = True

    @app.after_request
    def _note_outcome(response):
        g.succeeded = response.status_code < 400
        return response

    @app.teardown_request
    def _close_db(error=None):
        if g.pop("pushes_held", False):
            runtime.realtime.release(send=error is None and g.get("succeeded", False))
        context = g.pop("db_context", None)
        if context is not None:
            context.__exit__(None, None, None)
        runtime.relay_what_was_written()

    def forget_idempotency_keys(stop):
        idempotency.forget_expired(runtime, stop)

    runtime.background.append(forget_idempotency_keys)

    registry = CollectorRegistry()
    registry.register(_RuntimeCollector(runtime))
    install_metrics(app, registry, runtime.name)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "service": runtime.name})

    @app.get("/readyz")
    def readyz():
        checks = runtime.readiness()
        ready = all(value in ("ok",) for value in checks.values())
        return jsonify({"status": "ok" if ready else "unavailable", "service": runtime.name,
                        "checks": checks}), (200 if ready else 503)

    return app


def create_service(settings: Settings, *, title: str, keys: KeySet | None = None,
                   max_content_length: int = 1 << 20) -> Flask:
    """The app of the service `services.<settings.service>`, assembled from the
    modules every service has: models (db), api (blp), handlers, events, migrations."""
    package = f"services.{settings.service}"
    models, api, handlers, events = (importlib.import_module(f"{package}.{module}")
                                     for module in ("models", "api", "handlers", "events"))
    runtime = ServiceRuntime(settings, models.db, migrations=f"{package}.migrations",
                             handlers=handlers.handlers, publishes=events.PUBLISHES, keys=keys)
    return create_service_app(runtime, [api.blp], title=title, max_content_length=max_content_length)
