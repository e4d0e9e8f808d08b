"""The distributed mode: every service and two gateways as their own gunicorn
processes on real RabbitMQ and PostgreSQL; events read off the wire with pika
and checked against the catalogue; realtime fan-out across gateways."""
import json
import os
import subprocess
import sys
import uuid

import pika
import pytest
import websocket

from services.common.config import SERVICES
from services.common.testing import catalogue
from services.common.testing.helpers import OPERATOR_PHONE, Api, assert_error, phone, wait_for
from services.distributed import ROOT, Cluster
from support.school import School

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(rabbitmq_server, postgres_server, tmp_path_factory):
    vhost = f"dist-{uuid.uuid4().hex[:8]}"
    amqp_url = rabbitmq_server.add_vhost(vhost)
    databases = {name: postgres_server.create_database(f"d_{name}_{uuid.uuid4().hex[:8]}")
                 for name in SERVICES}
    # A queue bound to everything before anyone publishes: the contract tap.
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare("sferum.events", "topic", durable=True)
    channel.queue_declare("contract-tap", durable=True)
    channel.queue_bind("contract-tap", "sferum.events", "#")
    connection.close()
    cluster = Cluster(amqp_url, databases, log_dir=tmp_path_factory.mktemp("logs"),
                      extra_env={"OUTBOX_POLL_MS": "50", "OPERATOR_PHONES": OPERATOR_PHONE,
                                 "OTP_PER_IP_PER_HOUR": "100000"})
    try:
        for name in SERVICES:
            cluster.start_service(name)
        cluster.start_gateway("gateway-1")
        cluster.start_gateway("gateway-2")
        cluster.wait_ready(timeout=90)
        yield cluster
    finally:
        cluster.close()


def tap_events(amqp_url, count, wanted, timeout=30):
    """The first `count` events on the contract tap for which `wanted(body)` holds."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    received = []

    def more():
        method, properties, body = channel.basic_get("contract-tap", auto_ack=True)
        if method and wanted(json.loads(body)):
            received.append((method.routing_key, properties, json.loads(body)))
        return len(received) >= count

    try:
        wait_for(more, timeout=timeout, interval=0.02, message=f"{count} events on the wire")
    finally:
        connection.close()
    return received


def test_readiness_docs_and_sign_in_through_the_gateway(cluster):
    api = Api(cluster.url("gateway-1"))
    assert api.get("/healthz").json["status"] == "ok"
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["services"] == {name: "ok" for name in SERVICES}
    spec = api.get("/api/openapi.json").json
    assert {"/api/v1/auth/otp", "/api/v1/auth/token", "/api/v1/me"} <= set(spec["paths"])
    tokens = api.sign_in(phone(101))
    assert api.get("/me", token=tokens["access_token"]).json["phone"] == phone(101)
    assert_error(api.get("/me"), 401)


def test_published_events_keep_the_contract(cluster):
    api = Api(cluster.url("gateway-1"))
    api.post("/auth/otp", {"phone": phone(102)})
    code = api.get("/dev/outbox", params={"to": phone(102)}).json["items"][0]["code"]
    signed_in = api.post("/auth/token", {"phone": phone(102), "code": code},
                         headers={"X-Request-ID": "contract-request-1"})
    token = signed_in.json["access_token"]
    api.patch("/me", {"display_name": "Мария Ивановна"}, token=token,
              headers={"X-Request-ID": "contract-request-2"})
    events = catalogue.load()
    user_id = signed_in.json["user"]["id"]
    received = tap_events(cluster.amqp_url, 2, lambda body: body["data"].get("user_id") == user_id)
    assert [body["type"] for _key, _props, body in received] == [
        "identity.user.registered", "identity.user.updated"]
    for routing_key, properties, body in received:
        assert catalogue.check_envelope(body, events, routing_key) == []
        assert properties.delivery_mode == 2 and properties.content_type == "application/json"
        assert properties.message_id == body["id"]
    assert [body["correlation_id"] for *_, body in received] == ["contract-request-1", "contract-request-2"]
    assert received[1][2]["data"]["display_name"] == "Мария Ивановна"


def test_realtime_reaches_the_recipient_on_either_gateway_and_nobody_else(cluster):
    api = Api(cluster.url("gateway-1"))
    x = api.sign_in(phone(103))
    y = api.sign_in(phone(104))

    def open_stream(label, tokens):
        url = cluster.url(label).replace("http://", "ws://") + "/api/v1/stream"
        ws = websocket.create_connection(url, header=[f"Authorization: Bearer {tokens['access_token']}"],
                                         timeout=10)
        ready = json.loads(ws.recv())
        assert ready == {"type": "stream.ready", "data": {"user_id": tokens["user"]["id"]}}
        return ws

    x_on_1, x_on_2, y_on_2 = open_stream("gateway-1", x), open_stream("gateway-2", x), open_stream("gateway-2", y)
    connection = pika.BlockingConnection(pika.URLParameters(cluster.amqp_url))
    channel = connection.channel()

    def push(recipients, data):
        channel.basic_publish("sferum.realtime", "", json.dumps(
            {"recipients": recipients, "type": "message.created", "data": data}))

    push([x["user"]["id"]], {"text": "for X only"})
    push([y["user"]["id"]], {"text": "marker for Y"})
    connection.close()
    for ws in (x_on_1, x_on_2):
        assert json.loads(ws.recv()) == {"type": "message.created", "data": {"text": "for X only"}}
    # Y's first frame is Y's own marker: X's frame never reached Y's socket.
    assert json.loads(y_on_2.recv()) == {"type": "message.created", "data": {"text": "marker for Y"}}
    for ws in (x_on_1, x_on_2, y_on_2):
        ws.close()


def test_stream_refuses_missing_and_bad_tokens(cluster):
    url = cluster.url("gateway-2").replace("http://", "ws://") + "/api/v1/stream"
    for header in ([], ["Authorization: Bearer nonsense"]):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, header=header, timeout=10)
        assert refused.value.status_code == 401


def test_the_school_story_on_real_servers_keeps_the_event_contract(cluster):
    """Registration, structure, invites and movement through the gateway on
    PostgreSQL and RabbitMQ; every event on the wire is checked."""
    env = dict(os.environ, DATABASE_URL=cluster.database_urls["orgstructure"], SECRET_KEY="x",
               LOG_LEVEL="WARNING")
    created = subprocess.run([sys.executable, "-m", "services", "create-region", "Регион на PostgreSQL"],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    region_id = created.split()[1].rstrip(":")
    api = Api(cluster.url("gateway-2"))
    school = School(None, api, "Школа на PostgreSQL", region_id=region_id)
    moved = api.post(f"/orgs/{school.org_id}/members/{school.student.id}/transfer",
                     {"unit_id": school.class_b}, token=school.admin.token)
    assert moved.status_code == 200
    expelled = api.post(f"/orgs/{school.org_id}/members/{school.student.id}/expel", token=school.admin.token)
    assert expelled.json["parent_ids"] == [school.parent.id]
    catalogue_events = catalogue.load()
    seen = []

    def until_expelled(body):
        seen.append(body)
        return body["type"] == "orgstructure.member.expelled" and body["org_id"] == school.org_id

    tap_events(cluster.amqp_url, 1, until_expelled, timeout=60)
    problems = {body["id"]: catalogue.check_envelope(body, catalogue_events) for body in seen}
    assert not any(problems.values()), problems
    ours = [body for body in seen if body["data"].get("org_id") == school.org_id]
    assert {"orgstructure.application.approved", "orgstructure.org.created", "orgstructure.unit.created",
            "orgstructure.unit.head_assigned", "orgstructure.member.joined", "orgstructure.parent.linked",
            "orgstructure.member.transferred", "orgstructure.member.expelled"} <= {b["type"] for b in ours}
    assert all(body["org_id"] == school.org_id for body in ours)
