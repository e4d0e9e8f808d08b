"""The calls service's jobs with several replicas on one PostgreSQL database:
every due piece of work is done once, whichever replica takes it: a call
nobody is in ends once (one calls.call.ended), members are reminded of a
planned call once, and each participant's Janus session gets one keepalive
per round. The replicas are two apps of the service in this process, each
with its own connection pool, their jobs run from threads at once."""
from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from kombu import Queue

from devkit.helpers import dev_env, reset_memory_bus
from devkit.media import JANUS_BIN, JanusServer
from services.calls.models import Call, OrgMember, Participant
from services.common.bus import connect, realtime_exchange
from services.common.clock import utcnow
from services.common.config import Settings
from services.common.wsgi import build

pytestmark = pytest.mark.integration

CALLS = 40


@pytest.fixture
def replicas(new_database, tmp_path):
    """`make(**env)`: two replicas of calls on one new database."""
    made = []

    def make(**env):
        reset_memory_bus()
        url = new_database("calls")
        apps = [build("calls", Settings.from_env("calls", dev_env(tmp_path / f"r{n}", DATABASE_URL=url, **env)))
                for n in range(2)]
        apps[0].extensions["sferum"].migrate()
        made.extend(apps)
        return apps

    yield make
    for app in made:
        app.extensions["sferum"].db.close_all()


def at_once(apps, rounds: int = 3) -> None:
    """Both replicas' jobs, from a thread each, started together, a few rounds."""
    start = threading.Barrier(len(apps))
    failures = []

    def work(app):
        runtime = app.extensions["sferum"]
        try:
            with runtime.bound():
                for _ in range(rounds):
                    start.wait(10)
                    app.extensions["sferum.calls.jobs"].tick()
        except Exception as error:  # surfaced below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures


def outbox(app) -> list[dict]:
    runtime = app.extensions["sferum"]
    with runtime.connection():
        return [json.loads(row.body) for row in runtime.kit.Outbox.select()]


def test_calls_nobody_is_in_end_once_whichever_replica_takes_them(replicas):
    apps = replicas(CALL_EMPTY_GRACE_SECONDS=1)
    runtime = apps[0].extensions["sferum"]
    long_ago = utcnow() - timedelta(hours=1)
    with runtime.connection():
        ids = [Call.create(org_id="o" * 32, kind="group", chat_id=f"{n:032d}", host_id="h" * 32, status="active",
                           mode="p2p", started_at=long_ago, empty_since=long_ago, checked_at=long_ago).id
               for n in range(CALLS)]
    at_once(apps)
    ended = Counter(event["data"]["call_id"] for event in outbox(apps[0]) if event["type"] == "calls.call.ended")
    assert ended == Counter({call_id: 1 for call_id in ids})
    with runtime.connection():
        assert {call.status for call in Call.select()} == {"ended"}


def test_members_are_reminded_of_a_planned_call_once(replicas):
    apps = replicas()
    runtime = apps[0].extensions["sferum"]
    frames = connect("memory://").channel()
    queue = Queue("reminders-tap", exchange=realtime_exchange, auto_delete=True)(frames)
    queue.declare()
    with runtime.connection():
        for n in range(CALLS):
            OrgMember.create(org_id="o" * 32, user_id=f"{n:032d}", roles="admin")
        ids = [Call.create(org_id="o" * 32, kind="meeting", host_id=f"{n:032d}", status="scheduled", mode="p2p",
                           scheduled_at=utcnow() - timedelta(seconds=1)).id for n in range(CALLS)]
    at_once(apps)
    reminded = Counter()
    while (message := queue.get(no_ack=True)) is not None:
        frame = json.loads(message.body)
        if frame["type"] == "call.updated" and frame["data"]["change"] == "reminder":
            reminded[frame["data"]["call"]["id"]] += 1
    assert reminded == Counter({call_id: 1 for call_id in ids})


@pytest.mark.media
@pytest.mark.skipif(not JANUS_BIN.exists(), reason="janus is not installed: bash tools/install-servers.sh janus")
def test_each_janus_session_gets_one_keepalive_a_round(replicas):
    janus = JanusServer()
    janus.start()
    try:
        apps = replicas(JANUS_URL=janus.url, JANUS_API_SECRET=janus.api_secret, JANUS_ADMIN_KEY=janus.admin_key,
                        JANUS_KEEPALIVE_SECONDS=30)
        kept = Counter()
        lock = threading.Lock()
        for app in apps:
            media = app.extensions["sferum.calls.media"]

            def counted(participant, keepalive=media.keepalive):
                with lock:
                    kept[participant.janus_session] += 1
                return keepalive(participant)
            media.keepalive = counted
        runtime = apps[0].extensions["sferum"]
        sessions = [apps[0].extensions["sferum.calls.media"].api.create_session().id for _ in range(CALLS)]
        with runtime.connection():
            call = Call.create(org_id="o" * 32, kind="meeting", host_id="h" * 32, status="active", mode="sfu",
                               started_at=utcnow())
            for n, session in enumerate(sessions):
                Participant.create(call=call, user_id=f"{n:032d}", role="participant", state="joined",
                                   janus_session=session, kept_alive_at=utcnow() - timedelta(minutes=1),
                                   seen_at=utcnow())
        at_once(apps, rounds=2)  # the second round finds nothing due: 30 s have not passed
        assert kept == Counter({session: 1 for session in sessions})
    finally:
        janus.close()
