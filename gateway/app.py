"""The gateway: the only thing clients talk to. It checks access tokens before
forwarding, assigns request ids, limits request rates, routes /api/v1 to the
services (gateway.proxy), serves the merged OpenAPI document and the realtime
stream."""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import simple_websocket
from flask import Flask, Response, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from werkzeug.middleware.proxy_fix import ProxyFix

from services.common.auth import KeySet, TokenVerifier, bearer_token
from services.common.config import DEFAULT_PORTS, SERVICES
from services.common.errors import Unauthorized, error_response, register_error_handlers
from services.common.logs import configure_logging
from services.common.web import API_PREFIX, install_metrics, install_request_id

from .backends import BackendUnavailable, HttpBackend
from .openapi import DOCS_PAGE, MergedSpec
from .proxy import ApiProxy
from .ratelimit import RateLimiter
from .realtime import Hub, text_frame


@dataclass
class GatewayConfig:
    backends: dict
    amqp_url: str = "memory://"
    issuer: str = "sferum-identity"
    audience: str = "sferum"
    rate_per_second: float = 20.0
    rate_burst: int = 200
    max_body_bytes: int = 64 * 1024 * 1024
    ping_interval: float = 25
    trusted_proxy_hops: int = 0
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env=None) -> "GatewayConfig":
        env = dict(os.environ if env is None else env)
        backends = {name: HttpBackend(env.get(f"{name.upper()}_URL")
                                      or f"http://127.0.0.1:{DEFAULT_PORTS[name]}")
                    for name in SERVICES}
        return cls(
            backends=backends,
            amqp_url=env.get("AMQP_URL") or "memory://",
            issuer=env.get("JWT_ISSUER", "sferum-identity"),
            audience=env.get("JWT_AUDIENCE", "sferum"),
            rate_per_second=float(env.get("GATEWAY_RATE_PER_SECOND", "20")),
            rate_burst=int(env.get("GATEWAY_RATE_BURST", "200")),
            max_body_bytes=int(env.get("GATEWAY_MAX_BODY_BYTES", str(64 * 1024 * 1024))),
            ping_interval=float(env.get("GATEWAY_PING_INTERVAL", "25")),
            trusted_proxy_hops=int(env.get("TRUSTED_PROXY_HOPS", "0")),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )


class _UpgradedResponse(Response):
    """What a WSGI server gets once the socket was taken over by the WebSocket."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def __call__(self, environ, start_response):
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            return super().__call__(environ, start_response)
        return []


def create_app(config: GatewayConfig | None = None) -> Flask:
    config = config or GatewayConfig.from_env()
    configure_logging(config.log_level)
    app = Flask("sferum.gateway")
    app.config.update(MAX_CONTENT_LENGTH=config.max_body_bytes)
    app.json.ensure_ascii = False
    register_error_handlers(app)
    install_request_id(app)

    identity = config.backends["identity"]
    keys = KeySet(lambda: identity.get_json(f"{API_PREFIX}/.well-known/jwks.json")[1])
    verifier = TokenVerifier(keys, config.issuer, config.audience)
    limiter = RateLimiter(config.rate_per_second, config.rate_burst)
    spec = MergedSpec(config.backends)
    hub = Hub(config.amqp_url)
    app.extensions["sferum.gateway"] = {"hub": hub, "config": config, "verifier": verifier}

    registry = CollectorRegistry()
    registry.register(_HubCollector(hub))
    metrics = install_metrics(app, registry, "gateway")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "service": "gateway"})

    @app.get("/readyz")
    def readyz():
        def probe(item):
            name, backend = item
            try:
                status, body = backend.get_json("/readyz", timeout=3.0)
                return name, "ok" if status == 200 else body.get("status", f"status {status}")
            except BackendUnavailable:
                return name, "unreachable"

        with ThreadPoolExecutor(max_workers=len(config.backends)) as pool:
            services = dict(pool.map(probe, config.backends.items()))
        realtime = "ok" if hub.ready.is_set() else "connecting"
        ready = all(state == "ok" for state in services.values()) and realtime == "ok"
        return jsonify({"status": "ok" if ready else "unavailable", "services": services,
                        "realtime": realtime}), (200 if ready else 503)

    @app.get("/readyz/self")
    def readyz_self():
        """This gateway process alone (its realtime feed): what an orchestrator
        should probe, so that one service being down does not take every
        gateway out of the load balancer with it."""
        ready = hub.ready.is_set()
        return jsonify({"status": "ok" if ready else "unavailable", "realtime": "ok" if ready else "connecting"}), (
            200 if ready else 503)

    @app.get("/api/openapi.json")
    def openapi():
        return Response(spec.document(), mimetype="application/json")

    @app.get("/api/docs")
    def docs():
        return Response(DOCS_PAGE, mimetype="text/html")

    @app.route(f"{API_PREFIX}/stream")
    def stream_over_http():
        return error_response(426, "upgrade_required", "Open this path as a WebSocket.",
                              headers={"Upgrade": "websocket"})

    @app.route(f"{API_PREFIX}/stream", websocket=True)
    def stream():
        token = bearer_token(request.headers, request.args)
        if not token:
            raise Unauthorized()
        principal = verifier.verify(token)
        # One event wakes the stream's loop for everything: a frame that had to
        # wait (set by the hub), and a message or the close from the client
        # (set by the socket's reader), so an idle stream sleeps until its next ping.
        wake = threading.Event()
        ws = simple_websocket.Server(request.environ, max_message_size=64 * 1024, event_class=lambda: wake)
        _serve_stream(hub, ws, principal, config.ping_interval, wake)
        return _UpgradedResponse(ws.mode)

    app.wsgi_app = ApiProxy(app.wsgi_app, config.backends, verifier, limiter, metrics, config.max_body_bytes)
    if config.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_hops,
                                x_proto=config.trusted_proxy_hops)
    hub.start()
    return app


PING_FRAME = b"\x89\x00"


def _serve_stream(hub: Hub, ws, principal, ping_interval: float, wake: threading.Event) -> None:
    """Frames reach the socket from the hub directly or, when they had to wait,
    from this loop; pings go the same way so that nothing interleaves."""
    subscriber = hub.subscribe(principal.id, ws.sock, first=text_frame(json.dumps(
        {"type": "stream.ready", "data": {"user_id": principal.id}})), ready=wake)
    expires_at = float(principal.claims.get("exp", time.time() + 900))
    next_ping = time.time() + ping_interval
    close = None
    try:
        while ws.connected and not subscriber.overflowed:
            now = time.time()
            if now >= expires_at:
                # The stream lives no longer than the token that opened it.
                close = (4001, "token expired")
                break
            if now >= next_ping:
                subscriber.offer(PING_FRAME)
                next_ping = now + ping_interval
            frames = subscriber.take(timeout=min(next_ping, expires_at) - now)
            if frames:
                ws.sock.sendall(frames)
                subscriber.written()
            while ws.connected and ws.receive(timeout=0) is not None:
                pass  # clients have nothing to say on the stream
        if subscriber.overflowed:
            close = (4008, "too slow; reconnect and read history")
    except (simple_websocket.ConnectionClosed, OSError):
        pass
    finally:
        hub.unsubscribe(subscriber)
        try:
            ws.close(*close) if close else ws.close()
        except Exception:
            pass


class _HubCollector:
    def __init__(self, hub: Hub):
        self.hub = hub

    def collect(self):
        users = GaugeMetricFamily("realtime_connected_users", "Users with an open stream here")
        users.add_metric([], self.hub.connected_users)
        yield users
        frames = GaugeMetricFamily("realtime_frames_delivered", "Frames handed to sockets here")
        frames.add_metric([], self.hub.delivered_total)
        yield frames
