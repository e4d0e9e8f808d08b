"""What only the platform's own probes and scrapers reach: readiness details
and metrics are answered on the gateway's internal port (INTERNAL_PORT), a
second listener of the same process that the Kubernetes Service and the
ingress never route to; the public port answers them 404. `/healthz` (the
process lives, nothing more) is answered on both."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from services.common.cache import Recent
from services.common.errors import error_body

from .backends import BackendUnavailable

DEFAULT_INTERNAL_PORT = 9080
INTERNAL_PATHS = frozenset(("/readyz", "/readyz/self", "/metrics"))
ON_BOTH = frozenset(("/healthz",))
# The services' readiness, asked of each at most this often by a gateway process.
READINESS_SECONDS = 2.0

_NOT_FOUND = json.dumps(error_body("not_found", "Not found.")).encode()


class InternalPort:
    """WSGI: requests that arrived on the internal port reach only the
    internal paths (and /healthz); those that arrived on any other port reach
    everything but them. The port is the listener's own (SERVER_PORT), which
    no header of the client changes."""

    def __init__(self, app, internal_port: int):
        self.app = app
        self.internal_port = str(internal_port)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path not in ON_BOTH and (path in INTERNAL_PATHS) != (environ.get("SERVER_PORT") == self.internal_port):
            start_response("404 Not Found", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(_NOT_FOUND)))])
            return [_NOT_FOUND]
        return self.app(environ, start_response)


class ServiceReadiness:
    """Each service's `/readyz`, asked of all of them at once and at most every
    `ttl` seconds however often the gateway is asked."""

    def __init__(self, backends: dict, ttl: float = READINESS_SECONDS):
        self.backends = backends
        self._states = Recent(self._probe, ttl)

    def states(self) -> dict[str, str]:
        return self._states.get()

    def _probe(self) -> dict[str, str]:
        def probe(item):
            name, backend = item
            try:
                status, body = backend.get_json("/readyz", timeout=3.0)
                return name, "ok" if status == 200 else body.get("status", f"status {status}")
            except BackendUnavailable:
                return name, "unreachable"

        with ThreadPoolExecutor(max_workers=len(self.backends)) as pool:
            return dict(pool.map(probe, self.backends.items()))
