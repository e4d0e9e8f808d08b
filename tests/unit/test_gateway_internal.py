"""Readiness details and metrics are the operator's: the gateway answers them
only on its internal port, which the ingress never reaches, and asks the
services for their readiness at most every few seconds; a service probes the
broker at most as often. /healthz stays public."""
import socket
import threading

from gateway.app import GatewayConfig, create_app, stop
from gateway.backends import HttpBackend
from gateway.internal import DEFAULT_INTERNAL_PORT, ServiceReadiness
from services.common.config import SERVICES, Settings
from services.common.wsgi import build
from devkit.helpers import Api, assert_error, dev_env, phone, reset_memory_bus, wait_for

PUBLIC = "http://sferum.example.org"
INTERNAL = f"http://10.0.0.7:{DEFAULT_INTERNAL_PORT}"


def test_readiness_and_metrics_only_on_the_internal_port(embedded):
    public, internal = Api(embedded.gateway.test_client()), Api(embedded.gateway.test_client(), base_url=INTERNAL)
    for api in (public, internal):
        assert api.get("/healthz").json == {"status": "ok", "service": "gateway"}
    for path in ("/readyz", "/readyz/self", "/metrics"):
        assert_error(public.get(path), 404, "not_found")
        # Whatever the client claims to have called.
        assert_error(public.get(path, headers={"Host": f"gateway:{DEFAULT_INTERNAL_PORT}",
                                              "X-Forwarded-Port": str(DEFAULT_INTERNAL_PORT)}), 404)
    assert internal.get("/readyz").json["services"] == {name: "ok" for name in SERVICES}
    assert internal.get("/readyz/self").status_code == 200
    metrics = embedded.gateway.test_client().get("/metrics", base_url=INTERNAL)
    assert metrics.status_code == 200 and b"realtime_connected_users" in metrics.data
    # The internal port serves nothing else: no API, no documents.
    token = public.sign_in(phone(1))["access_token"]
    assert public.get("/me", token=token).status_code == 200
    for path in ("/api/v1/me", "/api/openapi.json", "/api/v1/stream"):
        assert_error(internal.get(path, token=token), 404)


class CountingService:
    """Answers /readyz with 200 and counts how often it was asked."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.asked = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            while conn.recv(65536):
                self.asked += 1
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n'
                             b'{"status": "ok"}')

    def close(self):
        self.listener.close()


def test_the_gateway_asks_the_services_once_for_many_readiness_checks():
    services = {name: CountingService() for name in SERVICES}
    gateway = create_app(GatewayConfig(backends={name: HttpBackend(s.url) for name, s in services.items()},
                                       readiness_seconds=60))
    internal = Api(gateway.test_client(), base_url=INTERNAL)
    try:
        wait_for(lambda: internal.get("/readyz").status_code == 200, message="the realtime feed")
        checks = [threading.Thread(target=internal.get, args=("/readyz",)) for _ in range(20)]
        for check in checks:
            check.start()
        for check in checks:
            check.join()
        assert {name: s.asked for name, s in services.items()} == {name: 1 for name in SERVICES}
    finally:
        stop(gateway)
        for service in services.values():
            service.close()


def test_readiness_is_asked_again_once_the_last_answer_is_old():
    service = CountingService()
    readiness = ServiceReadiness({"identity": HttpBackend(service.url)}, ttl=0.2)
    try:
        assert readiness.states() == {"identity": "ok"}
        assert readiness.states() == {"identity": "ok"} and service.asked == 1
        wait_for(lambda: readiness.states() and service.asked == 2, message="a second probe")
    finally:
        service.close()


def test_a_service_probes_the_broker_once_for_many_readiness_checks(tmp_path):
    """Each probe opens a connection to the broker; here, to a listener that
    counts connections and closes them (a broker that is not answering)."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections = []

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    reset_memory_bus()
    broker = f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}//"
    app = build("calls", Settings.from_env("calls", dev_env(tmp_path, AMQP_URL=broker)))
    app.extensions["sferum"].migrate()
    try:
        first = app.test_client().get("/readyz")
        assert first.status_code == 503 and first.get_json()["checks"]["broker"].startswith("error")
        opened = len(connections)
        assert opened >= 1
        for _ in range(10):
            assert app.test_client().get("/readyz").get_json()["checks"]["broker"].startswith("error")
        assert len(connections) == opened
    finally:
        listener.close()
