"""A user holds a bounded number of open streams in a gateway process and
opens them at a bounded rate; the stream says so with 429 before the
WebSocket handshake, and the count of connected users follows the streams."""
import json
import threading

import pytest
import websocket
from werkzeug.serving import make_server

from gateway.app import GatewayConfig, create_app, stop
from gateway.internal import DEFAULT_INTERNAL_PORT
from devkit.helpers import phone, wait_for


@pytest.fixture
def gateway_with(embedded):
    started = []

    def start(**settings):
        backends = embedded.gateway.extensions["sferum.gateway"]["config"].backends
        gateway = create_app(GatewayConfig(backends=backends, **settings))
        server = make_server("127.0.0.1", 0, gateway, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((gateway, server))
        return gateway, f"ws://127.0.0.1:{server.server_port}/api/v1/stream"

    yield start
    for gateway, server in started:
        server.shutdown()
        stop(gateway)


def open_stream(url, token):
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=10)
    assert json.loads(ws.recv())["type"] == "stream.ready"
    return ws


def refusal(url, token):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=10)
    return refused.value


def connected_users(gateway) -> float:
    scrape = gateway.test_client().get("/metrics", base_url=f"http://localhost:{DEFAULT_INTERNAL_PORT}")
    line = next(line for line in scrape.get_data(as_text=True).splitlines()
                if line.startswith("realtime_connected_users "))
    return float(line.split()[1])


def test_a_user_holds_at_most_the_streams_allowed(embedded, gateway_with):
    gateway, url = gateway_with(max_streams_per_user=2)
    streams = gateway.extensions["sferum.gateway"]["streams"]
    anna, boris = (embedded.api.sign_in(phone(n)) for n in (1, 2))
    first, second = open_stream(url, anna["access_token"]), open_stream(url, anna["access_token"])
    third = refusal(url, anna["access_token"])
    assert third.status_code == 429
    assert json.loads(third.resp_body)["error"]["code"] == "too_many_streams"
    assert int(third.resp_headers["retry-after"]) >= 1
    # Somebody else's streams are theirs to count.
    other = open_stream(url, boris["access_token"])
    assert connected_users(gateway) == 2
    first.close()
    wait_for(lambda: streams.streams_of(anna["user"]["id"]) == 1, message="the closed stream let go")
    open_stream(url, anna["access_token"]).close()
    for ws in (second, other):
        ws.close()
    wait_for(lambda: connected_users(gateway) == 0, message="nobody connected")


def test_opening_streams_is_rate_limited_per_user(embedded, gateway_with):
    gateway, url = gateway_with(stream_rate_per_second=0.01, stream_rate_burst=3)
    anna, boris = (embedded.api.sign_in(phone(n)) for n in (3, 4))
    for _ in range(3):
        open_stream(url, anna["access_token"]).close()
    refused = refusal(url, anna["access_token"])
    assert refused.status_code == 429
    assert json.loads(refused.resp_body)["error"]["code"] == "rate_limited"
    assert int(refused.resp_headers["retry-after"]) >= 1
    open_stream(url, boris["access_token"]).close()
