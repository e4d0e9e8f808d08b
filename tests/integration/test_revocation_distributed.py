"""Revocations on the distributed platform: identity, messaging and the gateway
as gunicorn processes of two workers each, on RabbitMQ and PostgreSQL. A
logout and an emergency key rotation reach every worker within seconds:
requests through the gateway and straight to a service are refused (their
verifications were cached before), the streams they opened are closed, and a
gateway started afterwards refuses them too."""
import json
import subprocess
import sys
import uuid

import jwt
import pytest
import requests
import websocket

from devkit.distributed import ROOT, Cluster
from devkit.helpers import Api, phone, wait_for
from services.common.revocation import KEY_RETIRED, SESSION_ENDED

pytestmark = pytest.mark.integration

SERVICES_HERE = ("identity", "messaging")
TRIES = 12  # requests per check, so that both workers of a process are asked


@pytest.fixture(scope="module")
def cluster(rabbitmq_server, postgres_server, tmp_path_factory):
    amqp_url = rabbitmq_server.add_vhost(f"revoke-{uuid.uuid4().hex[:8]}")
    databases = {name: postgres_server.create_database(f"r_{name}_{uuid.uuid4().hex[:8]}")
                 for name in SERVICES_HERE}
    cluster = Cluster(amqp_url, databases, log_dir=tmp_path_factory.mktemp("logs"),
                      extra_env={"OUTBOX_POLL_MS": "50", "OTP_PER_IP_PER_HOUR": "100000",
                                 "OTP_RESEND_COOLDOWN": "0"})
    try:
        for name in SERVICES_HERE:
            cluster.start_service(name, workers=2)
        cluster.wait_ready(SERVICES_HERE, timeout=90)
        start_gateway(cluster, "gateway")
        yield cluster
    finally:
        cluster.close()


def start_gateway(cluster, label):
    """A gateway of two workers; ready when its own feeds are (the services it
    would also wait for do not all run here)."""
    cluster.start_gateway(label, workers=2)
    wait_for(lambda: _ready_self(cluster.internal_url(label)), timeout=90, message=f"{label} ready")


def _ready_self(url) -> bool:
    try:
        return requests.get(url + "/readyz/self", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def apis(cluster, gateway="gateway"):
    return {"gateway": Api(cluster.url(gateway)), "messaging": Api(cluster.url("messaging")),
            "identity": Api(cluster.url("identity"))}


ASKED = (("gateway", "/chats"), ("gateway", "/me"), ("messaging", "/chats"), ("identity", "/me"))


def answers(cluster, token) -> list:
    by = apis(cluster)
    return [by[where].get(path, token=token) for where, path in ASKED for _ in range(TRIES)]


def accepted_everywhere(cluster, token) -> None:
    """Every worker asked has verified the token (and keeps it in its cache)."""
    assert {answer.status_code for answer in answers(cluster, token)} == {200}


def refused_everywhere(cluster, token, code) -> bool:
    return all(a.status_code == 401 and a.json["error"]["code"] == code for a in answers(cluster, token))


def open_streams(cluster, token, count=4) -> list:
    url = cluster.url("gateway").replace("http://", "ws://") + "/api/v1/stream"
    streams = []
    for _ in range(count):
        stream = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=15)
        assert json.loads(stream.recv())["type"] == "stream.ready"
        streams.append(stream)
    return streams


def closed_with(stream) -> tuple[int, str]:
    while True:
        opcode, data = stream.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def test_a_logout_reaches_every_worker_and_closes_the_sessions_streams(cluster):
    gateway = apis(cluster)["gateway"]
    leaving = gateway.sign_in(phone(800_001))
    staying = gateway.sign_in(phone(800_001))
    accepted_everywhere(cluster, leaving["access_token"])
    streams = open_streams(cluster, leaving["access_token"])

    assert gateway.post("/auth/logout", token=leaving["access_token"]).status_code == 204
    wait_for(lambda: refused_everywhere(cluster, leaving["access_token"], "session_revoked"), timeout=10,
             message="every worker refusing the logged-out session")
    for stream in streams:
        assert closed_with(stream) == (4001, SESSION_ENDED)
    accepted_everywhere(cluster, staying["access_token"])


def test_a_gateway_started_after_a_logout_refuses_the_session(cluster):
    gateway = apis(cluster)["gateway"]
    tokens = gateway.sign_in(phone(800_002))
    assert gateway.post("/auth/logout", token=tokens["access_token"]).status_code == 204
    start_gateway(cluster, "gateway-late")
    late = apis(cluster, "gateway-late")["gateway"]
    for _ in range(TRIES):
        refused = late.get("/chats", token=tokens["access_token"])
        assert refused.status_code == 401 and refused.json["error"]["code"] == "session_revoked"
    fresh = gateway.sign_in(phone(800_003))
    assert late.get("/chats", token=fresh["access_token"]).status_code == 200
    cluster.stop("gateway-late")


def test_an_emergency_rotation_retires_the_old_key_in_every_worker(cluster):
    gateway = apis(cluster)["gateway"]
    old = gateway.sign_in(phone(800_004))
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    accepted_everywhere(cluster, old["access_token"])
    streams = open_streams(cluster, old["access_token"])

    rotated = subprocess.run([sys.executable, "-m", "services", "rotate-keys", "--emergency"], cwd=ROOT,
                             env=cluster.env(DATABASE_URL=cluster.database_urls["identity"]),
                             capture_output=True, text=True, check=True).stdout
    assert f"retired at once: {old_kid}" in rotated, rotated
    wait_for(lambda: refused_everywhere(cluster, old["access_token"], "invalid_token"), timeout=10,
             message="every worker refusing the retired key's tokens")
    for stream in streams:
        assert closed_with(stream) == (4001, KEY_RETIRED)
    # Both identity workers sign with the new key at once, and everyone knows it.
    for n in range(4):
        fresh = gateway.sign_in(phone(800_010 + n))
        assert jwt.get_unverified_header(fresh["access_token"])["kid"] != old_kid
        accepted_everywhere(cluster, fresh["access_token"])
