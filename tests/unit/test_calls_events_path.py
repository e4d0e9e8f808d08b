"""The path Janus's event handler posts to, as the calls service's settings
and the embedded platform (`make run`) have it: absent without a secret, and
on the platform's internal port, beside the gateway's readiness and metrics,
when Janus is used."""
from __future__ import annotations

import base64

from werkzeug.test import Client

from services.embedded import with_janus_events

SECRET = "janus-events-secret-for-tests"
PATH = "/internal/janus-events"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_without_a_secret_the_path_does_not_exist_and_the_gateway_has_the_port(embedded_with):
    platform = embedded_with()
    answer = platform.apps["calls"].test_client().post(PATH, json=[], headers=basic("janus", ""))
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
    assert with_janus_events(platform.gateway, platform.apps["calls"]) is platform.gateway


def test_with_janus_the_embedded_internal_port_carries_its_events_to_calls(embedded_with):
    platform = embedded_with(JANUS_URL="http://127.0.0.1:9/janus", JANUS_API_SECRET="a", JANUS_ADMIN_KEY="k",
                             JANUS_EVENTS_SECRET=SECRET)
    port = Client(with_janus_events(platform.gateway, platform.apps["calls"]))
    heard = port.post(PATH, json=[], headers=basic("janus", SECRET))
    assert heard.status_code == 200 and heard.get_json() == {"received": 0, "applied": 0}
    assert port.post(PATH, json=[]).status_code == 401
    assert port.post(PATH, json=[], headers=basic("janus", "guess")).status_code == 401
    assert port.get("/healthz").get_json()["service"] == "gateway"
