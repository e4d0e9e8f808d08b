"""The embedded platform: the gateway and all five services in one process, on
SQLite and kombu's in-memory bus, in dev mode. For trying it, for development,
for a single small school."""
from __future__ import annotations

import logging
import os
import secrets
import signal

import gevent
from gevent.pywsgi import WSGIServer

from gateway.app import GatewayConfig, create_app as create_gateway, stop as stop_gateway
from gateway.backends import WsgiBackend
from gateway.internal import DEFAULT_INTERNAL_PORT

from .common.auth import Trust
from .common.config import SERVICES, Settings
from .common.logs import configure_logging
from .common.wsgi import build
from .orgstructure import demo

log = logging.getLogger("sferum.embedded")


def build_platform(env: dict, internal_port: int = DEFAULT_INTERNAL_PORT) -> tuple:
    """The gateway and the five services wired in-process: the gateway calls the
    services' WSGI apps directly, and everyone verifies tokens with identity's
    keys and revocations; the four other services share what they learn of them."""
    apps = {"identity": build("identity", Settings.from_env("identity", env))}
    identity = WsgiBackend(apps["identity"])
    trust = Trust.from_documents(lambda path: identity.get_json(path)[1])
    for name in SERVICES[1:]:
        apps[name] = build(name, Settings.from_env(name, env), trust=trust)
    for app in apps.values():
        runtime = app.extensions["sferum"]
        runtime.migrate()
        runtime.follow_revocations()
        runtime.start_workers()
    gateway = create_gateway(GatewayConfig(
        backends={name: WsgiBackend(app) for name, app in apps.items()},
        amqp_url=env["AMQP_URL"], rate_per_second=50, rate_burst=500,
        stream_ticket_key=env.get("STREAM_TICKET_KEY") or secrets.token_urlsafe(32),
        settle_wait_seconds=float(env.get("GATEWAY_SETTLE_WAIT_SECONDS", "5")), internal_port=internal_port,
        upload_part_max_bytes=int(env.get("GATEWAY_UPLOAD_PART_MAX_BYTES", GatewayConfig.upload_part_max_bytes))))
    return gateway, apps


def stop_platform(gateway, apps: dict, timeout: float = 5.0) -> None:
    """The gateway's loops, then every service's workers: all are asked first
    and waited for after, so the services stop together, not one by one."""
    stop_gateway(gateway)
    runtimes = [app.extensions["sferum"] for app in apps.values()]
    for runtime in runtimes:
        runtime.ask_workers_to_stop()
    for runtime in runtimes:
        runtime.stop_workers(timeout)


def with_janus_events(gateway, calls):
    """Janus's event handler, when Janus is used, reaches the calls service's
    internal path beside the gateway's internal answers."""
    from .calls.app import JANUS_EVENTS_PATH

    if not calls.extensions["sferum.calls.config"].sfu:
        return gateway

    def dispatch(environ, start_response):
        target = calls if environ.get("PATH_INFO") == JANUS_EVENTS_PATH else gateway
        return target(environ, start_response)

    return dispatch


def seed_demo(orgstructure) -> dict | None:
    runtime = orgstructure.extensions["sferum"]
    with runtime.connection():
        return demo.seed(runtime.service)


def run(host: str = "127.0.0.1", port: int = 8080, internal_port: int = DEFAULT_INTERNAL_PORT) -> None:
    env = dict(os.environ)
    env.setdefault("SFERUM_DEV", "1")
    env.setdefault("SFERUM_VAR_DIR", "var")
    env["AMQP_URL"] = env.get("AMQP_URL") or "memory://"
    # Links handed to users (invites, chat links) open on this very platform.
    env.setdefault("PUBLIC_URL", f"http://{host}:{port}")
    env.pop("DATABASE_URL", None)  # one SQLite file per service under SFERUM_VAR_DIR
    configure_logging(env.get("LOG_LEVEL", "INFO"))
    gateway, apps = build_platform(env, internal_port)
    seeded = seed_demo(apps["orgstructure"])
    if env["SFERUM_DEV"] == "1":
        log.warning("SFERUM_DEV=1: sign-in codes are not sent anywhere; they are in the log "
                    "and at /api/v1/dev/outbox. Never run production like this.")
    base = f"http://{host}:{port}"
    print(f"""
Sferum is running on {base}
  web:      {base}/  (sign in as the admin below; in dev mode the page shows where the code is)
  health:   {base}/healthz   readiness and metrics: http://{host}:{internal_port}/readyz, /metrics
  API docs: {base}/api/docs  (OpenAPI: {base}/api/openapi.json)
  {apps["calls"].extensions["sferum.calls.config"].describe()}
{demo.sign_in_help(base, seeded)}Stop with Ctrl-C.
""", flush=True)
    server = WSGIServer((host, port), gateway, log=None, error_log=logging.getLogger("sferum.http"))
    # The same gateway on its internal port: readiness details, metrics and,
    # when Janus is used, the path its event handler posts to.
    internal = WSGIServer((host, internal_port), with_janus_events(gateway, apps["calls"]), log=None,
                          error_log=logging.getLogger("sferum.http"))
    internal.start()

    def shutdown() -> None:
        # Ctrl-C or a container's SIGTERM: finish what is in flight, then stop cleanly.
        internal.stop(timeout=1)
        server.stop(timeout=3)

    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, shutdown)
    server.serve_forever()
    stop_platform(gateway, apps, timeout=2)
    print("Sferum stopped.", flush=True)
