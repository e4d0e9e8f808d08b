"""The gateway: the only thing clients talk to. It checks access tokens before
forwarding, assigns request ids, limits request rates, routes /api/v1 to the
services (gateway.proxy), serves the merged OpenAPI document and the realtime
stream."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

import simple_websocket
from flask import Flask, Response, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from services.common.auth import TokenVerifier, Trust, bearer_token
from services.common.bodies import install_body_limits
from services.common.config import DEFAULT_PORTS, SERVICES
from services.common.errors import Unauthorized, error_response, register_error_handlers
from services.common.logs import configure_logging
from services.common.metrics import Metrics
from services.common.revocation import KEY_RETIRED, SESSION_ENDED, Revocations
from services.common.settling import ANNOUNCEMENT
from services.common.web import API_PREFIX, install_metrics, install_request_id

from .backends import HttpBackend
from .internal import DEFAULT_INTERNAL_PORT, READINESS_SECONDS, InternalPort, ServiceReadiness
from .openapi import MergedSpec
from .proxy import ApiProxy
from .ratelimit import RateLimiter
from .settling import Settler, Settling
from .realtime import Hub, text_frame
from .streams import StreamAdmission
from .web import StreamTickets, install as install_web, stream_principal

log = logging.getLogger(__name__)


@dataclass
class GatewayConfig:
    backends: dict
    amqp_url: str = "memory://"
    issuer: str = "sferum-identity"
    audience: str = "sferum"
    rate_per_second: float = 20.0
    rate_burst: int = 200
    max_body_bytes: int = 64 * 1024 * 1024
    # A part of a large file (PUT /uploads/{id}/parts/{n}): at least messaging's UPLOAD_PART_BYTES.
    upload_part_max_bytes: int = 16 * 1024 * 1024
    ping_interval: float = 25
    trusted_proxy_hops: int = 0
    log_level: str = "INFO"
    stream_ticket_key: str = ""
    # Read-your-writes (settling.py): how long an announced fact counts as on
    # its way, and how long a request lacking one is asked again before 409.
    settling_window_seconds: float = 120.0
    settle_wait_seconds: float = 5.0
    max_streams_per_user: int = 10
    stream_rate_per_second: float = 1.0
    stream_rate_burst: int = 20
    internal_port: int = DEFAULT_INTERNAL_PORT
    readiness_seconds: float = READINESS_SECONDS
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
            upload_part_max_bytes=int(env.get("GATEWAY_UPLOAD_PART_MAX_BYTES", str(16 * 1024 * 1024))),
            ping_interval=float(env.get("GATEWAY_PING_INTERVAL", "25")),
            trusted_proxy_hops=int(env.get("TRUSTED_PROXY_HOPS", "0")),
            log_level=env.get("LOG_LEVEL", "INFO"),
            stream_ticket_key=env.get("STREAM_TICKET_KEY", ""),
            settling_window_seconds=float(env.get("GATEWAY_SETTLING_WINDOW_SECONDS", "120")),
            settle_wait_seconds=float(env.get("GATEWAY_SETTLE_WAIT_SECONDS", "5")),
            max_streams_per_user=int(env.get("GATEWAY_MAX_STREAMS_PER_USER", "10")),
            stream_rate_per_second=float(env.get("GATEWAY_STREAM_RATE_PER_SECOND", "1")),
            stream_rate_burst=int(env.get("GATEWAY_STREAM_RATE_BURST", "20")),
            internal_port=int(env.get("INTERNAL_PORT") or DEFAULT_INTERNAL_PORT),
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
    app.json.ensure_ascii = False
    register_error_handlers(app)
    install_request_id(app)

    identity = config.backends["identity"]
    trust = Trust.from_documents(lambda path: identity.get_json(path)[1])
    verifier = TokenVerifier(trust, config.issuer, config.audience)
    limiter = RateLimiter(config.rate_per_second, config.rate_burst)
    spec = MergedSpec(config.backends)
    readiness = ServiceReadiness(config.backends, config.readiness_seconds)
    metrics = Metrics()
    hub = Hub(config.amqp_url, delivered_metric=metrics.gauge(
        "realtime_frames_delivered", "Frames handed to sockets by live gateway processes"))
    streams = StreamAdmission(config.max_streams_per_user, config.stream_rate_per_second, config.stream_rate_burst,
                              metrics.gauge("realtime_connected_users", "Users with an open stream, "
                                            "once for each live gateway process they are connected to"))
    streams.install(app)
    if not config.stream_ticket_key:
        log.warning("STREAM_TICKET_KEY is not set: a browser's stream ticket works only on the gateway "
                    "process that issued it; set the same key on every gateway worker and replica")
    tickets = StreamTickets(config.stream_ticket_key)
    # A stream lives no longer than the session and the key of the token that opened it.
    trust.revocations.listen(
        session=lambda user_id, session_id: hub.end_streams(SESSION_ENDED, user_id=user_id, session_id=session_id),
        key=lambda key_id: hub.end_streams(KEY_RETIRED, key_id=key_id))
    settler = Settler(Settling(config.settling_window_seconds), config.settle_wait_seconds,
                      retried=metrics.gauge("settling_requests_retried",
                                            "Requests asked again while a fact they lacked was on its way"),
                      not_ready=metrics.gauge("settling_requests_not_ready",
                                              "Of those, answered 409 not_ready when the wait ran out"))
    hub.watch(ANNOUNCEMENT, settler.settling.note_envelope)
    app.extensions["sferum.gateway"] = {"hub": hub, "config": config, "verifier": verifier, "trust": trust,
                                        "settler": settler, "streams": streams}
    request_metrics = install_metrics(app, metrics, "gateway")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "service": "gateway"})

    @app.get("/readyz")
    def readyz():
        services = readiness.states()
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

    @app.route(f"{API_PREFIX}/stream")
    def stream_over_http():
        if not (bearer_token(request.headers) or request.args.get("ticket")):
            raise Unauthorized()
        return error_response(426, "upgrade_required", "Open this path as a WebSocket.",
                              headers={"Upgrade": "websocket"})

    @app.route(f"{API_PREFIX}/stream", websocket=True)
    def stream():
        principal = stream_principal(tickets, verifier, request.headers, request.args)
        streams.admit(principal.id)
        # One event wakes the stream's loop for everything: a frame that had to
        # wait (set by the hub), and a message or the close from the client
        # (set by the socket's reader), so an idle stream sleeps until its next ping.
        wake = threading.Event()
        ws = simple_websocket.Server(request.environ, max_message_size=64 * 1024, event_class=lambda: wake)
        _serve_stream(hub, ws, principal, config.ping_interval, wake, trust.revocations)
        return _UpgradedResponse(ws.mode)

    install_web(app, identity=identity, verifier=verifier, limiter=limiter, tickets=tickets)
    install_body_limits(app)
    app.wsgi_app = ApiProxy(app.wsgi_app, config.backends, verifier, limiter, request_metrics,
                            config.max_body_bytes, settler, config.upload_part_max_bytes)
    if config.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_hops,
                                x_proto=config.trusted_proxy_hops)
    # Outermost: the port a request came in on decides what it may reach.
    app.wsgi_app = InternalPort(app.wsgi_app, config.internal_port)
    hub.start()
    trust.revocations.follow(config.amqp_url, "gateway")
    return app


def stop(app: Flask) -> None:
    """Stops the gateway's own loops: its realtime feed and its feed of revocations."""
    parts = app.extensions["sferum.gateway"]
    parts["hub"].stop()
    parts["trust"].revocations.stop_following()


PING_FRAME = b"\x89\x00"


def _serve_stream(hub: Hub, ws, principal, ping_interval: float, wake: threading.Event,
                  revocations: Revocations) -> None:
    """Frames reach the socket from the hub directly or, when they had to wait,
    from this loop; pings go the same way so that nothing interleaves."""
    subscriber = hub.subscribe(principal.id, ws.sock, first=text_frame(json.dumps(
        {"type": "stream.ready", "data": {"user_id": principal.id}})), ready=wake,
        session_id=principal.session_id, key_id=principal.key_id)
    # Taken back between the token's check and the subscription: no listener found this stream.
    refusal = revocations.refusal(principal.session_id, principal.key_id)
    if refusal is not None:
        subscriber.end(refusal)
    expires_at = float(principal.claims.get("exp", time.time() + 900))
    next_ping = time.time() + ping_interval
    close = None
    try:
        while ws.connected and not subscriber.overflowed and subscriber.ended is None:
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
        elif subscriber.ended is not None:
            close = (4001, subscriber.ended)
    except (simple_websocket.ConnectionClosed, OSError):
        pass
    finally:
        hub.unsubscribe(subscriber)
        try:
            ws.close(*close) if close else ws.close()
        except Exception:
            pass
