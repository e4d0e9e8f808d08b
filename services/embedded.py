"""The embedded platform: the gateway and all five services in one process, on
SQLite and kombu's in-memory bus, in dev mode. For trying it, for development,
for a single small school."""
from __future__ import annotations

import logging
import os
import signal

import gevent
from gevent.pywsgi import WSGIServer

from gateway.app import GatewayConfig, create_app as create_gateway
from gateway.backends import WsgiBackend

from .common.auth import KeySet
from .common.config import SERVICES, Settings
from .common.logs import configure_logging
from .common.web import API_PREFIX
from .common.wsgi import build
from .orgstructure import demo
from .orgstructure.demo import DEMO_ADMIN_PHONE, DEMO_REGION, DEMO_SCHOOL

log = logging.getLogger("sferum.embedded")


def build_platform(env: dict) -> tuple:
    """The gateway and the five services wired in-process: the gateway calls the
    services' WSGI apps directly, and everyone verifies tokens with identity's keys."""
    apps = {"identity": build("identity", Settings.from_env("identity", env))}
    identity = WsgiBackend(apps["identity"])
    keys = KeySet(lambda: identity.get_json(f"{API_PREFIX}/.well-known/jwks.json")[1])
    for name in SERVICES[1:]:
        apps[name] = build(name, Settings.from_env(name, env), keys=keys)
    for app in apps.values():
        runtime = app.extensions["sferum"]
        runtime.migrate()
        runtime.start_workers()
    gateway = create_gateway(GatewayConfig(
        backends={name: WsgiBackend(app) for name, app in apps.items()},
        amqp_url=env["AMQP_URL"], rate_per_second=50, rate_burst=500))
    return gateway, apps


def seed_demo(orgstructure) -> dict | None:
    runtime = orgstructure.extensions["sferum"]
    with runtime.db.connection_context():
        return demo.seed(runtime.outbox)


def run(host: str = "127.0.0.1", port: int = 8080) -> None:
    env = dict(os.environ)
    env.setdefault("SFERUM_DEV", "1")
    env.setdefault("SFERUM_VAR_DIR", "var")
    env["AMQP_URL"] = env.get("AMQP_URL") or "memory://"
    env.pop("DATABASE_URL", None)  # one SQLite file per service under SFERUM_VAR_DIR
    configure_logging(env.get("LOG_LEVEL", "INFO"))
    gateway, apps = build_platform(env)
    seeded = seed_demo(apps["orgstructure"])
    if env["SFERUM_DEV"] == "1":
        log.warning("SFERUM_DEV=1: sign-in codes are not sent anywhere; they are in the log "
                    "and at /api/v1/dev/outbox. Never run production like this.")
    base = f"http://{host}:{port}"
    demo_invites = "".join(f"Invite for a {role} (sign in with another phone, then POST it): "
                           f"{base}/api/v1/invites/{token}/accept\n"
                           for role, token in (seeded or {}).get("invites", {}).items())
    print(f"""
Sferum is running on {base}
  health:   {base}/healthz   readiness: {base}/readyz
  API docs: {base}/api/docs  (OpenAPI: {base}/api/openapi.json)
Demo: "{DEMO_SCHOOL}" in "{DEMO_REGION}"; its admin is {DEMO_ADMIN_PHONE}.
Sign in as the admin:
  curl -X POST {base}/api/v1/auth/otp -H 'Content-Type: application/json' -d '{{"phone": "{DEMO_ADMIN_PHONE}"}}'
  curl '{base}/api/v1/dev/outbox?to=%2B{DEMO_ADMIN_PHONE[1:]}'      # the code that was "sent"
  curl -X POST {base}/api/v1/auth/token -H 'Content-Type: application/json' \\
       -d '{{"phone": "{DEMO_ADMIN_PHONE}", "code": "<code>"}}'
{demo_invites}Stop with Ctrl-C.
""", flush=True)
    server = WSGIServer((host, port), gateway, log=None, error_log=logging.getLogger("sferum.http"))

    def shutdown() -> None:
        # Ctrl-C or a container's SIGTERM: finish what is in flight, then stop cleanly.
        server.stop(timeout=3)

    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, shutdown)
    server.serve_forever()
    gateway.extensions["sferum.gateway"]["hub"].stop()
    for app in apps.values():
        app.extensions["sferum"].stop_workers(timeout=2)
    print("Sferum stopped.", flush=True)
