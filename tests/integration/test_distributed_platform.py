"""The distributed mode: every service and two gateways as their own gunicorn
processes on real RabbitMQ and PostgreSQL; events read off the wire with pika
and checked against the catalogue; realtime fan-out across gateways."""
import json
import os
import uuid

import pika
import pytest
import requests
import websocket

from services.common.config import SERVICES
from devkit import catalogue
from devkit.helpers import OPERATOR_PHONE, Api, assert_error, phone, wait_for
from devkit.distributed import Cluster
from support.chats import join_official, send
from support.school import School

pytestmark = pytest.mark.integration

PART = 5 << 20  # the smallest part S3 takes


@pytest.fixture(scope="module")
def s3_bucket():
    """An S3-compatible server (moto's) with an empty bucket, for messaging's files."""
    import boto3
    from moto.server import ThreadedMotoServer

    from devkit.distributed import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "sferum-test", "AWS_SECRET_ACCESS_KEY": "sferum-test-secret",
                   "AWS_DEFAULT_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket="sferum-files")
    yield {"FILE_STORAGE": f"s3://sferum-files?endpoint_url={endpoint}", **credentials}, s3
    server.stop()


@pytest.fixture(scope="module")
def cluster(rabbitmq_server, postgres_server, s3_bucket, tmp_path_factory):
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
                                 "OTP_PER_IP_PER_HOUR": "100000", "ERASURE_GRACE_SECONDS": "2",
                                 "UPLOAD_PART_BYTES": str(PART), **s3_bucket[0]})
    try:
        for name in SERVICES:
            cluster.start_service(name)
        cluster.start_gateway("gateway-1")
        cluster.start_gateway("gateway-2")
        cluster.wait_ready(timeout=90)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def school_api(cluster):
    """One client for the school stories: the operator signs in once (codes have a resend cooldown)."""
    return Api(cluster.url("gateway-2"))


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
    ready = Api(cluster.internal_url("gateway-1")).get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["services"] == {name: "ok" for name in SERVICES}
    # The public port answers neither readiness details nor metrics; the internal one answers no API.
    for path in ("/readyz", "/readyz/self", "/metrics"):
        assert_error(api.get(path), 404)
    assert Api(cluster.internal_url("gateway-1")).get("/metrics").status_code == 200
    assert_error(Api(cluster.internal_url("gateway-1")).get("/auth/otp"), 404)
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


def test_the_school_story_on_real_servers_keeps_the_event_contract(cluster, school_api):
    """Registration, structure, invites and movement through the gateway on
    PostgreSQL and RabbitMQ; every event on the wire is checked."""
    region_id = cluster.create_region("Регион на PostgreSQL")
    api = school_api
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


class Stream:
    """A user's realtime socket on one gateway."""

    def __init__(self, cluster, label, person):
        url = cluster.url(label).replace("http://", "ws://") + "/api/v1/stream"
        self.ws = websocket.create_connection(url, header=[f"Authorization: Bearer {person.token}"], timeout=15)
        assert json.loads(self.ws.recv())["type"] == "stream.ready"

    def next(self, wanted=lambda frame: True):
        """The next frame that `wanted` accepts, skipping others (invitations and the like)."""
        while True:
            frame = json.loads(self.ws.recv())
            if wanted(frame):
                return frame

    def close(self):
        self.ws.close()


def test_chats_on_real_servers_reach_members_sockets_only(cluster, s3_bucket, school_api):
    """Official chats from orgstructure's events, consent, a message and a file
    on S3, realtime on both gateways, and an expulsion, on RabbitMQ and PostgreSQL."""
    api = school_api
    school = School(None, api, "Школа с чатами", region_id=cluster.create_region("Регион чатов"))
    chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    parents_chat = join_official(api, school.parent, school.org_id, "class_parents", school.class_a)
    join_official(api, school.head, school.org_id, "class_parents", school.class_a)
    student, classmate_elsewhere, parent = (Stream(cluster, "gateway-2", school.student),
                                            Stream(cluster, "gateway-1", school.other_student),
                                            Stream(cluster, "gateway-2", school.parent))
    content = b"%PDF-1.7\n" + os.urandom(300_000)
    objects = {item["Key"] for item in s3_bucket[1].list_objects_v2(Bucket="sferum-files").get("Contents", [])}
    uploaded = api.post("/files", token=school.head.token, files={"file": ("План.pdf", content, "application/pdf")})
    assert uploaded.status_code == 201, uploaded
    sent = send(api, school.head, chat["id"], "Домашнее задание во вложении", file_ids=[uploaded.json["id"]])
    # A chat id typed with Cyrillic letters, or with bytes that are no UTF-8, is the service's 404.
    assert_error(api.post("/chats/чат/messages", {"text": "Привет"}, token=school.head.token), 404)
    assert_error(api.get("/chats/%C3%BD%F2", token=school.head.token), 404)
    assert_error(api.post("/chats/%C3%BD%F2/messages", {"text": "Привет"}, token=school.head.token), 404)
    frame = student.next(lambda f: f["type"] == "message.created")
    assert frame["data"]["id"] == sent["id"] and frame["data"]["files"][0]["name"] == "План.pdf"
    stored = s3_bucket[1].list_objects_v2(Bucket="sferum-files")["Contents"]
    assert [item["Size"] for item in stored if item["Key"] not in objects] == [len(content)]
    download = requests.get(cluster.url("gateway-2") + f"/api/v1/files/{uploaded.json['id']}",
                            headers={"Authorization": f"Bearer {school.student.token}"}, timeout=30)
    assert download.status_code == 200 and download.content == content
    assert_error(api.get(f"/files/{uploaded.json['id']}", token=school.other_student.token), 404)
    # Sockets of people outside the chat got nothing of it: their first message frame is their own chat's.
    marker = send(api, school.head, parents_chat["id"], "Собрание родителей в четверг")
    assert parent.next(lambda f: f["type"] == "message.created")["data"]["id"] == marker["id"]
    # The classmate of 5Б is in no chat with these messages: an unrelated direct chat proves the socket is live.
    direct = api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.other_student.id},
                      token=school.teacher.token)
    assert direct.status_code == 201, direct
    while True:
        frame = classmate_elsewhere.next()
        assert frame["type"] != "message.created", frame
        if frame["type"] == "chat.invitation" and frame["data"]["chat"]["id"] == direct.json["id"]:
            break
    # Expulsion: the student's socket hears the removal, the student and the parent can no longer read.
    assert api.post(f"/orgs/{school.org_id}/members/{school.student.id}/expel",
                    token=school.admin.token).status_code == 200
    removed = student.next(lambda f: f["type"] == "chat.member.removed")
    assert removed["data"] == {"chat_id": chat["id"], "user_id": school.student.id, "reason": "expelled"}
    wait_for(lambda: api.get(f"/chats/{parents_chat['id']}", token=school.parent.token).status_code == 404,
             message="the parent removed")
    assert_error(api.get(f"/chats/{chat['id']}/messages", token=school.student.token), 404)
    for stream in (student, classmate_elsewhere, parent):
        stream.close()
    # messaging's events on the wire keep the contract.
    catalogue_events = catalogue.load()
    seen = []

    def until_removed(body):
        seen.append(body)
        return (body["type"] == "messaging.chat.member.removed" and body["data"]["user_id"] == school.parent.id)

    tap_events(cluster.amqp_url, 1, until_removed, timeout=60)
    ours = [body for body in seen if body["type"].startswith("messaging.")]
    assert {"messaging.chat.created", "messaging.chat.member.joined", "messaging.message.created",
            "messaging.chat.member.removed"} <= {body["type"] for body in ours}
    problems = {body["id"]: catalogue.check_envelope(body, catalogue_events) for body in ours}
    assert not any(problems.values()), problems


def test_moderation_on_real_servers_keeps_the_event_contract(cluster, school_api):
    """The regulation across the services on RabbitMQ and PostgreSQL: a report,
    a removal by rule, four violations and a block that messaging enforces
    within seconds; moderation's events, and messaging's that moderation
    consumes, checked on the wire."""
    from support.moderation import block, group_chat, in_days, may_post, remove, report, violations

    api = school_api
    school = School(None, api, "Школа с модерацией", region_id=cluster.create_region("Регион модерации"))
    chat = group_chat(api, school.org_id, school.head, [school.student, school.parent])
    rude = send(api, school.student, chat, "Отстаньте все")
    assert report(api, school.parent, rude["id"], rule=1).status_code == 201
    removed = remove(api, school.head, rude["id"], rule=1)
    assert removed.status_code == 201, removed
    wait_for(lambda: rude["id"] not in [m["id"] for m in api.get(f"/chats/{chat}/messages",
                                                                 token=school.parent.token).json["items"]],
             message="messaging hiding the removed message")
    cited = violations(api, school.head, chat, school.student, 3)
    blocked = block(api, school.head, chat, school.student, cited + [removed.json["violation_id"]], in_days(7))
    assert blocked.status_code == 201, blocked
    wait_for(lambda: not may_post(api, school.student, chat), timeout=10,
             message="messaging refusing the blocked member")
    catalogue_events = catalogue.load()
    seen = []

    def until_blocked(body):
        seen.append(body)
        return body["type"] == "moderation.member.blocked" and body["org_id"] == school.org_id

    tap_events(cluster.amqp_url, 1, until_blocked, timeout=60)
    ours = [body for body in seen if body["org_id"] == school.org_id]
    assert {"messaging.chat.created", "messaging.chat.moderator.added", "messaging.message.created",
            "moderation.report.filed", "moderation.message.removed", "moderation.violation.recorded",
            "moderation.report.resolved", "moderation.member.blocked"} <= {body["type"] for body in ours}
    problems = {body["id"]: catalogue.check_envelope(body, catalogue_events) for body in ours}
    assert not any(problems.values()), problems
    filed = next(body for body in ours if body["type"] == "moderation.report.filed")
    assert school.parent.id not in json.dumps(filed)  # never the reporter



def rows_holding(cluster, needles: list[str]) -> list[tuple]:
    """(service, table, column) of every value in every service's PostgreSQL
    database that holds one of the needles, read behind the services' backs."""
    import psycopg2

    found = []
    for service, url in cluster.database_urls.items():
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            for (table,) in cursor.fetchall():
                cursor.execute(f'SELECT * FROM "{table}"')
                columns = [column.name for column in cursor.description]
                for row in cursor.fetchall():
                    found += [(service, table, column) for column, value in zip(columns, row)
                              if isinstance(value, str) and any(needle in value for needle in needles)]
        connection.close()
    return found


def test_a_lesson_in_parts_on_s3_and_an_erasure_through_every_database(cluster, s3_bucket, school_api):
    """A video lesson uploaded in parts through a gateway into an S3 multipart
    upload, then its uploader's data erased on a parent's request: on
    RabbitMQ and PostgreSQL, every service's database is read afterwards."""
    api, s3 = school_api, s3_bucket[1]
    school = School(None, api, "Школа со стиранием", region_id=cluster.create_region("Регион стирания"))
    marker = f"Стираемый-{uuid.uuid4().hex[:8]}"
    child = school.invite_and_join("student", marker, unit_id=school.class_a)
    parent = school.invite_and_join("parent", "родитель стираемого", child_user_id=child.id)
    chat = join_official(api, child, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.head, school.org_id, "class_students", school.class_a)

    lesson = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(PART + 12345)
    upload = api.post("/uploads", {"name": "доклад.mp4", "size": len(lesson)}, token=child.token).json
    assert (upload["parts"], upload["part_size"]) == (2, PART), upload
    for number in (1, 2):
        part = requests.put(cluster.url(f"gateway-{number}") + f"/api/v1/uploads/{upload['id']}/parts/{number}",
                            data=lesson[(number - 1) * PART:number * PART], timeout=60,
                            headers={"Authorization": f"Bearer {child.token}",
                                     "Content-Type": "application/octet-stream"})
        assert part.status_code == 200, part.text
    stored = api.post(f"/uploads/{upload['id']}/complete", token=child.token)
    assert stored.status_code == 201, stored
    assert s3.list_multipart_uploads(Bucket="sferum-files").get("Uploads", []) == []
    said = send(api, child, chat, "Мой доклад", file_ids=[stored.json["id"]])
    download = requests.get(cluster.url("gateway-1") + f"/api/v1/files/{stored.json['id']}", timeout=60,
                            headers={"Authorization": f"Bearer {school.head.token}"})
    assert download.status_code == 200 and download.content == lesson

    assert api.delete(f"/users/{child.id}", token=parent.token).status_code == 202
    wait_for(lambda: api.get("/me", token=child.token).status_code == 401, timeout=30,
             message="the erasure carried out")
    kept = {("identity", "user"), ("identity", "session"), ("identity", "erasurerequest")}

    def leftovers():
        return ([row for row in rows_holding(cluster, [child.id]) if row[:2] not in kept]
                + rows_holding(cluster, [child.phone, marker]))

    wait_for(lambda: not leftovers(), timeout=60, message="every service erasing the student")
    message = next(m for m in api.get(f"/chats/{chat}/messages", token=school.head.token).json["items"]
                   if m["id"] == said["id"])
    assert message["author"]["erased"] and message["files"][0]["id"] == stored.json["id"]
