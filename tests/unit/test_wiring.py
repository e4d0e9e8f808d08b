"""Each app of a service is wired to its own database, outbox and realtime
publisher: two apps of one service in one process share nothing, whatever
the threads they serve requests and jobs on."""
import threading

from support.apps import messaging_app

from services.common.auth import Principal
from devkit.helpers import reset_memory_bus

TEACHER = "t" * 32


def a_chat(runtime, title):
    from services.messaging import chats, official
    from services.messaging.models import VerifiedTeacher

    with runtime.connection(), runtime.db.atomic():
        official.member_joined(runtime.service, "org", TEACHER, ["teacher"], None)
        VerifiedTeacher.create(org_id="org", user_id=TEACHER)  # only a confirmed teacher creates chats
        return chats.create(runtime.service, Principal(id=TEACHER, session_id=None), "org", "group", title,
                            [], []).id


def test_two_apps_of_one_service_in_one_process_stay_independent(tmp_path):
    reset_memory_bus()
    first, first_runtime = messaging_app(tmp_path / "first")
    second, second_runtime = messaging_app(tmp_path / "second")
    chats = {"first": a_chat(first_runtime, "Первая"), "second": a_chat(second_runtime, "Вторая")}
    auth = {"Authorization": f"Bearer {TEACHER}"}
    failures = []

    def post(app, chat_id, label):
        client = app.test_client()
        for n in range(15):
            answer = client.post(f"/api/v1/chats/{chat_id}/messages", json={"text": f"{label} {n}"}, headers=auth)
            if answer.status_code != 201:
                failures.append((label, answer.status_code, answer.get_json()))

    # Requests of both apps at the same time, on threads of their own.
    threads = [threading.Thread(target=post, args=(app, chats[label], label))
               for app, label in ((first, "first"), (second, "second")) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []

    for app, label, other in ((first, "first", "second"), (second, "second", "first")):
        client = app.test_client()
        listed = client.get("/api/v1/chats", headers=auth).get_json()["items"]
        assert [chat["id"] for chat in listed] == [chats[label]]
        history = client.get(f"/api/v1/chats/{chats[label]}/messages?limit=100", headers=auth).get_json()["items"]
        assert len(history) == 30 and {m["text"].split()[0] for m in history} == {label}
        assert client.get(f"/api/v1/chats/{chats[other]}", headers=auth).status_code == 404

    for runtime, label in ((first_runtime, "first"), (second_runtime, "second")):
        # Each app's events are in its own outbox, its pushes on its own publisher.
        with runtime.connection():
            written = [row.routing_key for row in runtime.kit.Outbox.select()]
        assert written.count("messaging.message.created") == 30
        texts = [data["text"] for event_type, data in runtime.pushes if event_type == "message.created"]
        assert len(texts) == 30 and {text.split()[0] for text in texts} == {label}

    # A job of one app, on its own thread, sees that app's database only.
    seen = {}

    def job(runtime, label):
        from services.messaging.models import Chat

        with runtime.connection():
            seen[label] = [chat.title for chat in Chat.select().where(Chat.kind == "group")]

    jobs = [threading.Thread(target=job, args=(runtime, label))
            for runtime, label in ((first_runtime, "first"), (second_runtime, "second"))]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join(10)
    assert seen == {"first": ["Первая"], "second": ["Вторая"]}
    for runtime in (first_runtime, second_runtime):
        runtime.stop_workers()


def test_the_models_are_bound_only_inside_a_unit_of_work(tmp_path):
    """Outside a request, a handler or a job no database is behind the models:
    code that forgot to say whose database it means fails loudly."""
    import pytest

    from services.messaging.models import Chat

    reset_memory_bus()
    _app, runtime = messaging_app(tmp_path)
    with pytest.raises(AttributeError, match="uninitialized"):
        Chat.select().count()
    with runtime.connection():
        assert Chat.select().count() == 0
