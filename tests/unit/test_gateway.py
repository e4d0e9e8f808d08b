"""The gateway in front of the in-process platform (what `make run` starts)."""
import json
import socket
import threading
import time

import pytest
import websocket
from kombu import Connection, Queue
from werkzeug.serving import make_server

from gateway.app import GatewayConfig, create_app, stop
from gateway.backends import HttpBackend, _still_open
from gateway.internal import DEFAULT_INTERNAL_PORT
from gateway.realtime import Subscriber
from gateway.routes import resolve
from services.common.bus import events_exchange
from services.common.config import SERVICES
from devkit.helpers import Api, assert_error, phone, wait_for


INTERNAL = f"http://localhost:{DEFAULT_INTERNAL_PORT}"


def test_health_readiness_docs_and_sign_in(embedded):
    api = embedded.api
    assert api.get("/healthz").json["status"] == "ok"
    ready = Api(embedded.gateway.test_client(), base_url=INTERNAL).get("/readyz")
    assert ready.status_code == 200
    assert ready.json["services"] == {name: "ok" for name in SERVICES}
    spec = api.get("/api/openapi.json").json
    for path in ("/api/v1/auth/otp", "/api/v1/auth/token", "/api/v1/me", "/api/v1/stream",
                 "/api/v1/.well-known/jwks.json"):
        assert path in spec["paths"], path
    assert "x-unavailable-services" not in spec
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    tokens = api.sign_in(phone(1))
    me = api.get("/me", token=tokens["access_token"])
    assert me.status_code == 200 and me.json["phone"] == phone(1)


def test_every_service_path_routes_to_its_own_service(embedded):
    for name, app in embedded.apps.items():
        spec = app.test_client().get("/openapi.json").get_json()
        for path, operations in spec["paths"].items():
            relative = path.removeprefix("/api/v1/").replace("{", "").replace("}", "")
            for method in operations:
                assert resolve(relative, method.upper())[0] == name, (path, method)


def test_protected_paths_need_a_token_at_the_gateway(embedded):
    api = embedded.api
    for path in ("/me", "/chats", "/calls", "/orgs/x/units", "/reports", "/auth/logout"):
        assert_error(api.get(path), 401)
        assert_error(api.get(path, token="garbage"), 401)
    # Public paths go through without one.
    assert api.get("/.well-known/jwks.json").status_code == 200
    assert api.post("/auth/otp", {"phone": phone(2)}).status_code == 202


def test_unknown_paths_and_methods(embedded):
    assert_error(embedded.api.get("/no-such-thing"), 404)
    assert_error(embedded.api.get("/nothing/here", token="x"), 404)
    token = embedded.api.sign_in(phone(3))["access_token"]
    assert_error(embedded.api.put("/me", {}, token=token), 405)
    # The service names what the resource takes, whatever the method asked.
    for method in ("GET", "TRACE", "PROPFIND"):
        refused = embedded.api.request(method, "/auth/otp")
        assert_error(refused, 405)
        assert set(refused.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert_error(embedded.api.get("/api/v1/stream"), 401)
    assert_error(embedded.api.get("/api/v1/stream", token=token), 426, "upgrade_required")


def test_request_id_is_assigned_forwarded_and_carried_into_events(embedded):
    api = embedded.api
    with Connection("memory://") as connection:
        tap = Queue("test.tap", exchange=events_exchange, routing_key="#")
        tap(connection.default_channel).declare()
        response = api.post("/auth/otp", {"phone": phone(4)}, headers={"X-Request-ID": "req-0123456789"})
        assert response.headers["X-Request-ID"] == "req-0123456789"
        code = api.get("/dev/outbox", params={"to": phone(4)}).json["items"][0]["code"]
        api.post("/auth/token", {"phone": phone(4), "code": code}, headers={"X-Request-ID": "req-abcdefghij"})
        simple = connection.SimpleQueue(tap)
        message = wait_for(lambda: _get(simple), message="identity.user.registered on the bus")
        envelope = json.loads(message.body)
        simple.close()
    assert envelope["type"] == "identity.user.registered"
    assert envelope["correlation_id"] == "req-abcdefghij"
    # A made-up id that is not a plausible request id is replaced.
    assert api.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


def _get(simple_queue):
    try:
        message = simple_queue.get(block=False)
    except Exception:
        return None
    message.ack()
    return message


def test_rate_limits_answer_429_with_retry_after(embedded):
    gateway = create_app(GatewayConfig(backends=embedded.gateway.extensions["sferum.gateway"]["config"].backends,
                                       rate_per_second=0.5, rate_burst=3))
    api = Api(gateway.test_client())
    statuses = [api.get("/.well-known/jwks.json").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    response = api.get("/.well-known/jwks.json")
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    stop(gateway)


def test_a_service_that_is_down_gives_503_and_not_ready():
    backends = {name: HttpBackend("http://127.0.0.1:9", timeout=1) for name in SERVICES}
    gateway = create_app(GatewayConfig(backends=backends))
    api = Api(gateway.test_client())
    response = api.post("/auth/otp", {"phone": phone(5)})
    assert_error(response, 503, "service_unavailable")
    internal = Api(gateway.test_client(), base_url=INTERNAL)
    ready = internal.get("/readyz")
    assert ready.status_code == 503
    assert set(ready.json["services"]) == set(SERVICES)
    assert all(state == "unreachable" for state in ready.json["services"].values())
    spec = api.get("/api/openapi.json").json
    assert sorted(spec["x-unavailable-services"]) == sorted(SERVICES)
    # The gateway itself stays in the load balancer: its own readiness is its realtime feed.
    wait_for(lambda: internal.get("/readyz/self").status_code == 200, message="the gateway's own readiness")
    assert internal.get("/readyz/self").json == {"status": "ok", "realtime": "ok"}
    stop(gateway)


@pytest.mark.parametrize("path,method,expected", [
    ("auth/otp", "POST", ("identity", True)),
    ("auth/logout", "POST", ("identity", False)),
    ("me", "GET", ("identity", False)),
    ("me/orgs", "GET", ("orgstructure", False)),
    ("me/applications", "GET", ("orgstructure", False)),
    ("support", "GET", ("orgstructure", True)),
    ("support", "POST", ("orgstructure", False)),
    ("applications/a1/document", "GET", ("orgstructure", False)),
    ("orgs/o1/units/u1/teachers/t1", "DELETE", ("orgstructure", False)),
    ("orgs/o1/rollover", "POST", ("orgstructure", False)),
    ("me/chat-invitations", "GET", ("messaging", False)),
    ("orgs/o1/verifications", "GET", ("identity", False)),
    ("orgs/o1/moderation-log", "GET", ("moderation", False)),
    ("orgs/o1/members/u1/expel", "POST", ("orgstructure", False)),
    ("regions", "GET", ("orgstructure", True)),
    ("regions", "POST", ("orgstructure", False)),
    ("invites/tok", "GET", ("orgstructure", True)),
    ("invites/tok/accept", "POST", ("orgstructure", False)),
    ("chats/c1/blocks/u1", "DELETE", ("moderation", False)),
    ("chats/c1/messages", "POST", ("messaging", False)),
    ("messages/m1/removal", "POST", ("moderation", False)),
    ("messages/m1", "PATCH", ("messaging", False)),
    ("unblock-requests/r1/objections", "POST", ("moderation", False)),
    ("blocks/b1/appeals", "POST", ("moderation", False)),
    ("appeals/a1/decision", "POST", ("moderation", False)),
    ("orgs/o1/appeals", "GET", ("moderation", False)),
    ("orgs/o1/reports", "GET", ("moderation", False)),
    ("me/blocks", "GET", ("moderation", False)),
    ("me/violations", "GET", ("moderation", False)),
    ("me/reports", "GET", ("moderation", False)),
    ("chats/c1/moderators", "POST", ("messaging", False)),
    ("chats/c1/moderators/u1", "DELETE", ("messaging", False)),
    ("calls/c1/join", "POST", ("calls", False)),
])
def test_route_table(path, method, expected):
    assert resolve(path, method) == expected


def test_realtime_frames_go_straight_to_the_socket_in_order_and_wait_when_it_is_full():
    """A frame is written at once when nothing waits before it; when the socket
    is full, frames queue for the stream's loop and nothing overtakes them."""
    server, client = socket.socketpair()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        subscriber = Subscriber("u1", server, first=b"ready;")
        subscriber.offer(b"one;")  # behind stream.ready, which the loop has not written yet
        assert subscriber.take(timeout=0) == b"ready;one;"
        server.sendall(b"ready;one;")
        subscriber.written()
        subscriber.offer(b"two;")  # nothing waits: straight to the socket
        assert subscriber.take(timeout=0) == b""
        assert client.recv(100) == b"ready;one;two;"

        frames = [f"{n:06d}".encode() * 500 for n in range(200)]  # 3 KB each, far beyond the buffers
        for frame in frames:
            subscriber.offer(frame)
        assert subscriber.frames, "a full socket makes frames wait"
        received = bytearray()
        while len(received) < sum(map(len, frames)):
            pending = subscriber.take(timeout=0)
            if pending:
                server.setblocking(False)
                while pending:
                    try:
                        pending = pending[server.send(pending):]
                    except BlockingIOError:
                        received += client.recv(1 << 20)
                subscriber.written()
            received += client.recv(1 << 20)
        assert bytes(received) == b"".join(frames)
    finally:
        server.close()
        client.close()


def test_a_frame_for_a_closed_socket_is_kept_for_the_loop_that_will_find_out():
    server, client = socket.socketpair()
    subscriber = Subscriber("u1", server)
    client.close()
    server.close()
    subscriber.offer(b"late;")
    assert subscriber.take(timeout=0) == b"late;"


def test_small_answers_are_passed_on_whole_and_large_ones_streamed():
    """A small JSON answer keeps its length (one write to the client); a large
    download is streamed without being held in memory."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    large = b"x" * (200 * 1024)

    class Service(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = large if self.path == "/large" else b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = HttpBackend(f"http://127.0.0.1:{server.server_port}")
        status, headers, content = backend.forward("GET", "/small", b"", {}, None)
        assert (status, content) == (200, b'{"ok": true}')
        assert "content-length" not in {name.lower() for name, _ in headers}  # the gateway sets its own
        status, _headers, content = backend.forward("GET", "/large", b"", {}, None)
        assert not isinstance(content, bytes)
        assert b"".join(content) == large
    finally:
        server.shutdown()
        server.server_close()


class ScriptedService:
    """A service that answers each request by its path, as scripted, and notes
    which connection every request came on."""

    def __init__(self):
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[tuple[int, bytes, bytes]] = []  # (connection number, request line, body)
        self.headers: list[dict[str, str]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading

        number = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                if any(line.lower() == b"transfer-encoding: chunked" for line in lines):
                    body = b""
                    while True:
                        while b"\r\n" not in buffer:
                            buffer += conn.recv(65536)
                        size_line, buffer = buffer.split(b"\r\n", 1)
                        size = int(size_line, 16)
                        while len(buffer) < size + 2:
                            buffer += conn.recv(65536)
                        body, buffer = body + buffer[:size], buffer[size + 2:]
                        if not size:
                            break
                else:
                    length = next((int(line.split(b":")[1]) for line in lines
                                   if line.lower().startswith(b"content-length")), 0)
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    body, buffer = buffer[:length], buffer[length:]
                self.seen.append((number, lines[0], body))
                self.headers.append({name.decode().lower(): value.decode().strip() for name, _, value in
                                     (line.partition(b":") for line in lines[1:])})
                path = lines[0].split()[1].split(b"?")[0]
                if path == b"/chunked":
                    conn.sendall(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
                elif path == b"/continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                elif path == b"/close":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
                    return
                elif path == b"/hang-up":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    return  # as a service does when its keep-alive ends
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body) + 2, b"[" + body + b"]"))

    def close(self):
        self.listener.close()


def test_small_requests_are_written_by_hand_on_kept_alive_connections():
    """Posting a message and most calls: one write, the answer read whole, the
    connection reused; chunked and interim answers are read as HTTP says, and a
    connection the service closed is never reused."""
    import io

    service = ScriptedService()
    backend = HttpBackend(f"http://127.0.0.1:{service.port}")
    try:
        def post(path, body=b'{"text": "hi"}', **headers):
            return backend.forward("POST", path, b"a=1", {"Content-Type": "application/json",
                                                          "Content-Length": str(len(body)), **headers},
                                   io.BytesIO(body) if body else None)

        status, headers, content = post("/chats/c1/messages")
        assert (status, content) == (200, b'[{"text": "hi"}]')
        assert dict(headers) == {"Content-Type": "application/json"}  # hop-by-hop ones are the gateway's
        assert post("/chats/c1/messages", body=b"")[2] == b"[]"
        assert post("/chunked")[0:3:2] == (201, b"hello world")
        assert post("/continue")[2] == b"ok"
        assert [number for number, _, _ in service.seen] == [1, 1, 1, 1]
        assert service.seen[0][1:] == (b"POST /chats/c1/messages?a=1 HTTP/1.1", b'{"text": "hi"}')
        post("/chats/чат 1/messages")  # as the gateway got it: percent-decoded
        assert service.seen[-1][1] == b"POST /chats/%D1%87%D0%B0%D1%82%201/messages?a=1 HTTP/1.1"
        service.seen.pop()

        assert post("/close")[2] == b"bye"
        assert post("/hang-up")[2] == b"ok"
        deadline = time.monotonic() + 5
        while backend.small._idle and time.monotonic() < deadline and _still_open(backend.small._idle[-1][1]):
            time.sleep(0.01)
        assert post("/after")[2] == b'[{"text": "hi"}]'
        # "close" ends connection 1; the service hangs up 2 after answering: "after" opens 3.
        assert [number for number, _, _ in service.seen][-3:] == [1, 2, 3]

        # A body of unknown length (chunked from the client) goes the general way.
        status, _, content = backend.forward("POST", "/chunked", b"", {"Content-Type": "application/json"},
                                             iter([b'{"a":', b' 1}']))
        assert (status, b"".join(content) if not isinstance(content, bytes) else content) == (201, b"hello world")
    finally:
        service.close()


def test_what_the_gateway_forwards_refuses_and_counts():
    """The service hears the client's own headers and the gateway's word on who
    asked; bodies over the limit stop at the gateway, in the JSON error format,
    and every answer is counted (methods HTTP does not name as "other")."""
    service = ScriptedService()
    backends = {name: HttpBackend(f"http://127.0.0.1:{service.port}") for name in SERVICES}
    gateway = create_app(GatewayConfig(backends=backends, max_body_bytes=1024))
    client = gateway.test_client()
    try:
        answer = client.post("/api/v1/auth/otp?via=app", data=b'{"phone": "+79990000001"}', headers={
            "Content-Type": "application/json", "X-Request-ID": "req-0123456789", "Idempotency-Key": "k-1",
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "Accept-Language": "ru"})
        assert answer.status_code == 200 and answer.data == b'[{"phone": "+79990000001"}]'
        assert answer.headers["Content-Length"] == str(len(answer.data))
        assert answer.headers["X-Request-ID"] == "req-0123456789"
        assert service.seen[-1][1] == b"POST /api/v1/auth/otp?via=app HTTP/1.1"
        heard = service.headers[-1]
        assert (heard["x-request-id"], heard["idempotency-key"], heard["accept-language"]) == (
            "req-0123456789", "k-1", "ru")
        assert (heard["x-forwarded-for"], heard["x-forwarded-proto"]) == ("127.0.0.1", "http")
        assert heard["content-length"] == "25" and heard["content-type"] == "application/json"

        requests_before = len(service.seen)
        api = Api(client)
        too_large = api.request("POST", "/auth/otp", data=b"x" * 1025, headers={"Content-Type": "application/json"})
        assert_error(too_large, 413, "payload_too_large")
        assert too_large.headers["X-Request-ID"]
        assert len(service.seen) == requests_before
        # Which methods a resource takes is the service's to say (405 with Allow): any method goes on.
        assert api.request("PROPFIND", "/auth/otp").status_code == 200
        assert service.seen[-1][1] == b"PROPFIND /api/v1/auth/otp HTTP/1.1"

        counted = client.get("/metrics", base_url=INTERNAL).get_data(as_text=True)
        for method, status in (("POST", "200"), ("POST", "413"), ("other", "200")):
            assert (f'http_requests_total{{method="{method}",'
                    f'route="/api/v1/<path:path>",service="gateway",status="{status}"}} 1.0') in counted, status
    finally:
        stop(gateway)
        service.close()


def test_a_service_that_is_down_is_unavailable_not_an_error():
    import io

    from gateway.backends import BackendUnavailable

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    backend = HttpBackend(f"http://127.0.0.1:{port}")
    with pytest.raises(BackendUnavailable):
        backend.forward("POST", "/x", b"", {"Content-Length": "2"}, io.BytesIO(b"{}"))


def test_a_stream_sleeps_between_pings_wakes_for_what_happens_and_ends_with_its_token(embedded_with):
    """The stream's loop waits on one event for a frame that had to wait, the
    client's close and its next ping; the token's end closes it with 4001."""
    platform = embedded_with(ACCESS_TOKEN_TTL=5)
    gateway = platform.gateway
    gateway.extensions["sferum.gateway"]["config"].ping_interval = 0.5
    hub = gateway.extensions["sferum.gateway"]["hub"]
    server = make_server("127.0.0.1", 0, gateway, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{server.server_port}/api/v1/stream"
    try:
        tokens = platform.api.sign_in(phone(5))
        user_id, header = tokens["user"]["id"], [f"Authorization: Bearer {tokens['access_token']}"]
        leaving = websocket.create_connection(url, header=header, timeout=5)
        assert json.loads(leaving.recv())["type"] == "stream.ready"
        wait_for(lambda: hub.connected_users == 1, message="the first stream subscribed")
        leaving.close()
        wait_for(lambda: hub.connected_users == 0, timeout=2, message="a closed stream forgotten before its ping")

        stream = websocket.create_connection(url, header=header, timeout=5)
        assert json.loads(stream.recv())["type"] == "stream.ready"
        opened_at = time.monotonic()
        opcode, _ = stream.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_PING
        assert time.monotonic() - opened_at >= 0.3, "the first ping comes after the interval, not before"
        assert hub.deliver({"type": "message.created", "recipients": [user_id], "data": {"n": 1}}) == 1
        frames = []
        while True:
            opcode, data = stream.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            frames.append((opcode, data))
        assert (websocket.ABNF.OPCODE_TEXT, b'{"type": "message.created", "data": {"n": 1}}') in frames
        assert int.from_bytes(data[:2], "big") == 4001
        assert data[2:] == b"token expired"
        wait_for(lambda: hub.connected_users == 0, message="the expired stream forgotten")
    finally:
        server.shutdown()
