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
from apispec import BasePlugin
from flask_smorest import Api
from prometheus_client.core import GaugeMetricFamily

from . import idempotency, settling
from .bodies import JSON_MAX_BYTES, install_body_limits
from .errors import ErrorSchema, register_error_handlers
from .logs import configure_logging, correlation_id, redact
from .metrics import CONTENT_TYPE, Metrics
from .auth import Trust
from .config import Settings
from .service import ServiceRuntime

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
API_PREFIX = "/api/v1"
HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
OPENAPI_JSON = "/openapi.json"


class ServiceApi(Api):
    """flask-smorest's Api answering errors in the platform's format."""
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        register_error_handlers(self._app)


class _OptionalBodies(BasePlugin):
    """A JSON body none of whose fields is required may be left out: the
    services read a missing body as `{}`, and the document says so."""

    def init_spec(self, spec):
        self.spec = spec

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            schema = ((body or {}).get("content", {}).get("application/json") or {}).get("schema")
            if schema is None:
                continue
            if "$ref" in schema:
                schema = self.spec.components.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            if not schema.get("required"):
                body["required"] = False


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

    def __init__(self, metrics: Metrics, name: str):
        self.name = name
        self.requests_total = metrics.counter("http_requests_total", "HTTP requests answered",
                                              ["service", "method", "route", "status"])
        self.duration = metrics.histogram("http_request_duration_seconds", "Time to answer HTTP requests",
                                          ["service", "route"],
                                          buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

    def observe(self, method: str, route: str, path: str, status: int, started_at: float | None) -> None:
        """`path` is what the log line shows: the route's template where there
        is one; a real path loses the secrets it may carry (see logs.redact)."""
        # A method is a label: any other than HTTP's own would make a new series.
        self.requests_total.labels(self.name, method if method in HTTP_METHODS else "other", route,
                                   str(status)).inc()
        if started_at is None:
            return
        elapsed = time.perf_counter() - started_at
        self.duration.labels(self.name, route).observe(elapsed)
        if route not in self.UNLOGGED:
            log.info("%s %s %s", method, redact(path), status,
                     extra={"service": self.name, "method": method, "path": route, "status": status,
                            "duration_ms": round(elapsed * 1000, 1)})


def install_metrics(app: Flask, metrics: Metrics, name: str) -> RequestMetrics:
    requests = RequestMetrics(metrics, name)

    @app.after_request
    def _observe(response: Response):
        if request.url_rule:
            route = shown = request.url_rule.rule
        else:
            route, shown = "unmatched", request.path
        requests.observe(request.method, route, shown, response.status_code, g.get("started_at"))
        return response

    @app.get("/metrics")
    def metrics_page():
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE)

    return requests


class _OutboxBacklog:
    """Counted in the database when scraped: the same from any worker."""

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


def create_service_app(runtime: ServiceRuntime, blueprints, *, title: str,
                       upload_limits: dict[str, int] | None = None) -> Flask:
    """`upload_limits`: the endpoints that take files, with the most bytes each
    takes; every other endpoint takes JSON_MAX_BYTES at most."""
    configure_logging(runtime.settings.log_level)
    app = Flask(f"sferum.{runtime.name}")
    app.config.update(
        API_TITLE=title, API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH=OPENAPI_JSON.lstrip("/"), JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.extensions["sferum"] = runtime
    app.extensions["sferum.verifier"] = runtime.verifier
    install_request_id(app)
    api = ServiceApi(app, spec_kwargs={"extra_plugins": [_OptionalBodies()], "components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}})
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
    app.extensions["sferum.api"] = api
    install_body_limits(app, JSON_MAX_BYTES, upload_limits)

    @app.before_request
    def _open_db():
        # This app's database behind the service's models for the request; a
        # connection context (not a bare connect) so that code using its own
        # nested context does not close the request's connection.
        g.db_context = runtime.connection()
        g.db_context.__enter__()
        # Realtime pushes wait for the request's transactions to commit.
        runtime.realtime.hold()
        g.pushes_held = True

    @app.after_request
    def _note_outcome(response):
        g.succeeded = response.status_code < 400
        if g.succeeded and (changed := runtime.realtime.announced()):
            # For the gateway that forwarded this request: it may get the
            # client's next request before the realtime exchange tells it.
            response.headers[settling.CHANGED_HEADER] = ",".join(changed)
        return response

    @app.teardown_request
    def _close_db(error=None):
        # The answer is made and its transactions committed: nothing here may
        # take it away, and every step runs whatever happened to the one before.
        try:
            if g.pop("pushes_held", False):
                runtime.realtime.release(send=error is None and g.get("succeeded", False))
        except Exception:
            log.exception("realtime pushes of %s %s not handed over", request.method, request.path)
        context = g.pop("db_context", None)
        try:
            if context is not None:
                context.__exit__(None, None, None)
        except Exception:
            log.exception("the database connection of %s %s did not close cleanly", request.method, request.path)
        runtime.relay_what_was_written()

    def forget_idempotency_keys(stop):
        idempotency.forget_expired(runtime, stop)

    runtime.background.append(forget_idempotency_keys)

    runtime.metrics.at_scrape(_OutboxBacklog(runtime))
    install_metrics(app, runtime.metrics, runtime.name)

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


def create_service(settings: Settings, *, title: str, trust: Trust | None = None,
                   upload_limits: dict[str, int] | None = None, config=None) -> Flask:
    """The app of the service `services.<settings.service>`, assembled from the
    modules every service has: models (db), api (blp), handlers, events,
    migrations; `config` is the service's own settings (`Service.config`)."""
    package = f"services.{settings.service}"
    models, api, handlers, events = (importlib.import_module(f"{package}.{module}")
                                     for module in ("models", "api", "handlers", "events"))
    runtime = ServiceRuntime(settings, models.db, migrations=f"{package}.migrations",
                             handlers=handlers.handlers, publishes=events.PUBLISHES, trust=trust, config=config)
    return create_service_app(runtime, [api.blp], title=title, upload_limits=upload_limits)
