"""Read-your-writes across services in the distributed mode: every service
and two gateways as their own processes on RabbitMQ and PostgreSQL, where
the lag between orgstructure's answer and identity's or messaging's
projection is real. Their event consumers run in worker processes of their
own, which the tests stop (SIGSTOP) and let go on (SIGCONT) to make the lag
as long as they need; the client's next request goes to the other gateway,
which knows of the joining only from the realtime exchange."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from devkit.distributed import ROOT, Cluster
from devkit.helpers import OPERATOR_PHONE, Api, assert_error, wait_for
from services.common.config import SERVICES
from support.school import Person, School

pytestmark = pytest.mark.integration

SETTLE_WAIT_SECONDS = 3
WITH_OWN_WORKERS = ("identity", "messaging")


@pytest.fixture(scope="module")
def cluster(rabbitmq_server, postgres_server, tmp_path_factory):
    amqp_url = rabbitmq_server.add_vhost(f"ryw-{uuid.uuid4().hex[:8]}")
    databases = {name: postgres_server.create_database(f"r_{name}_{uuid.uuid4().hex[:8]}") for name in SERVICES}
    cluster = Cluster(amqp_url, databases, log_dir=tmp_path_factory.mktemp("logs"),
                      extra_env={"OUTBOX_POLL_MS": "50", "OPERATOR_PHONES": OPERATOR_PHONE,
                                 "OTP_PER_IP_PER_HOUR": "100000",
                                 "GATEWAY_SETTLE_WAIT_SECONDS": str(SETTLE_WAIT_SECONDS)})
    try:
        for name in SERVICES:
            if name in WITH_OWN_WORKERS:
                cluster.start_service(name, RUN_WORKERS=0)
                cluster.start_worker(name)
            else:
                cluster.start_service(name)
        cluster.start_gateway("gateway-1")
        cluster.start_gateway("gateway-2")
        cluster.wait_ready(timeout=90)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def school(cluster):
    env = dict(os.environ, DATABASE_URL=cluster.database_urls["orgstructure"], SECRET_KEY="x", LOG_LEVEL="WARNING")
    created = subprocess.run([sys.executable, "-m", "services", "create-region", "Регион задержек"],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return School(None, Api(cluster.url("gateway-1")), "Школа задержек", region_id=created.split()[1].rstrip(":"))


class Paused:
    """A service's worker process (its event consumer and outbox relay)
    stopped by the operating system, until it is let go on."""

    def __init__(self, cluster, service: str):
        self.pid = dict(cluster.processes)[f"{service}-worker"].pid
        os.kill(self.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        if self.stopped:
            os.kill(self.pid, signal.SIGCONT)
            self.stopped = False

    def resume_after(self, seconds: float) -> None:
        threading.Timer(seconds, self.resume).start()


@pytest.fixture
def pause(cluster):
    paused = []

    def start(service: str) -> Paused:
        paused.append(Paused(cluster, service))
        return paused[-1]

    yield start
    for one in paused:
        one.resume()


def newcomer(cluster, school, role: str, **fields) -> Person:
    """Joins by an invite through the first gateway."""
    api = Api(cluster.url("gateway-1"))
    person = Person(api, f"new {role}")
    accepted = api.post(f"/invites/{school.invite(role, **fields)}/accept", token=person.token)
    assert accepted.json["status"] == "joined", accepted
    return person


def confirmed(api: Api, school: School, teacher: Person) -> None:
    """The teacher asks for the status at once and the school's admin confirms
    it: staff create chats once confirmed."""
    asked = api.post("/verifications", {"org_id": school.org_id}, token=teacher.token)
    assert asked.status_code == 201, asked
    approved = api.post(f"/verifications/{asked.json['id']}/approve", token=school.admin.token)
    assert approved.status_code == 200, approved


def test_the_first_request_after_joining_succeeds_with_the_real_lag(cluster, school):
    other = Api(cluster.url("gateway-2"))
    for _ in range(5):
        teacher = newcomer(cluster, school, "teacher")
        confirmed(other, school, teacher)
        chat = other.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок"},
                          token=teacher.token)
        assert chat.status_code == 201, chat


def test_a_teacher_asks_for_the_status_while_identity_is_behind(cluster, school, pause):
    identity = pause("identity")
    teacher = newcomer(cluster, school, "teacher")
    identity.resume_after(1.0)
    started = time.monotonic()
    asked = Api(cluster.url("gateway-2")).post("/verifications", {"org_id": school.org_id}, token=teacher.token)
    assert asked.status_code == 201, asked
    assert time.monotonic() - started >= 0.8


def test_a_teacher_opens_the_schools_chats_while_messaging_is_behind(cluster, school, pause):
    messaging = pause("messaging")
    teacher = newcomer(cluster, school, "teacher")
    messaging.resume_after(1.0)
    api = Api(cluster.url("gateway-2"))
    mine = api.get("/me/chat-invitations", params={"org_id": school.org_id}, token=teacher.token)
    assert {i["chat"]["purpose"] for i in mine.json["items"]} >= {"staff", "teachers", "school"}
    confirmed(api, school, teacher)
    chat = api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок"}, token=teacher.token)
    assert chat.status_code == 201, chat


def test_when_the_wait_runs_out_it_is_a_409_not_ready(cluster, school, pause):
    identity = pause("identity")
    teacher = newcomer(cluster, school, "teacher")
    api = Api(cluster.url("gateway-2"))
    started = time.monotonic()
    refused = api.post("/verifications", {"org_id": school.org_id}, token=teacher.token)
    took = time.monotonic() - started
    assert_error(refused, 409, "not_ready")
    assert int(refused.headers["Retry-After"]) >= 1
    assert SETTLE_WAIT_SECONDS - 0.5 <= took < SETTLE_WAIT_SECONDS + 5
    # A stranger meanwhile: 404 at once.
    stranger = Person(api, "stranger")
    started = time.monotonic()
    assert_error(api.post("/verifications", {"org_id": school.org_id}, token=stranger.token), 404)
    assert time.monotonic() - started < SETTLE_WAIT_SECONDS - 0.5  # not asked again
    identity.resume()
    wait_for(lambda: api.post("/verifications", {"org_id": school.org_id}, token=teacher.token).status_code == 201,
             message="the request once identity caught up")
