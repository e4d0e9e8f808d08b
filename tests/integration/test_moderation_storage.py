"""moderation's storage on real databases: the job that ends due blocks runs
on every replica at once without ending any block twice or waiting for
another replica (PostgreSQL, FOR UPDATE SKIP LOCKED), and the moderation log
cannot be changed or emptied, whatever the code tries (PostgreSQL and SQLite),
not even by erasing a person's data, which separates the log from the
person by dropping their pseudonym and key."""
import json
import time
import uuid
from datetime import timedelta

import peewee
import pytest
from support.races import while_first_is_uncommitted

from devkit.helpers import dev_env, reset_memory_bus
from services.common.clock import utcnow
from services.common.config import Settings
from services.common.wsgi import build

pytestmark = pytest.mark.integration


def moderation(database_url: str, var_dir):
    runtime = build("moderation", Settings.from_env("moderation", dev_env(var_dir, DATABASE_URL=database_url))
                    ).extensions["sferum"]
    runtime.migrate()
    return runtime


@pytest.fixture
def replicas(new_database, tmp_path):
    """Two replicas of moderation on one PostgreSQL database."""
    reset_memory_bus()
    url = new_database("mod")
    made = [moderation(url, tmp_path / "one"), moderation(url, tmp_path / "two")]
    yield made
    for runtime in made:
        runtime.db.close_all()


def due_blocks(runtime, count: int) -> list[str]:
    from services.moderation.models import Block

    with runtime.connection(), runtime.db.atomic():
        return [Block.create(org_id="org", chat_id=f"chat{n}", user_id=f"user{n}", blocked_by="teacher",
                             until=utcnow() - timedelta(seconds=1)).id for n in range(count)]


def test_two_replicas_end_every_due_block_once_without_waiting_for_each_other(replicas):
    from services.moderation import blocks
    from services.moderation.models import Block, LogEntry

    first, second = replicas
    ids = due_blocks(first, 12)
    ended = {}

    def on_first():
        ended["first"] = blocks.expire_due(first.service, limit=5)

    def on_second():
        started = time.monotonic()
        with second.connection():
            ended["second"] = blocks.expire_due(second.service)
        ended["second_took"] = time.monotonic() - started

    # The first replica holds its five blocks uncommitted while the second runs.
    while_first_is_uncommitted(first, on_first, on_second, hold_seconds=3)
    assert (ended["first"], ended["second"]) == (5, 7)
    assert ended["second_took"] < 2, "the second replica waited for the first"
    with first.connection():
        assert {b.id: (b.status, b.end_reason) for b in Block.select()} == {i: ("ended", "expired") for i in ids}
        unblocked = [json.loads(row.body)["data"]["block_id"] for row in first.kit.Outbox.select()
                     if row.routing_key == "moderation.member.unblocked"]
        assert sorted(unblocked) == sorted(ids)
        assert LogEntry.select().where(LogEntry.action == "block_expired").count() == 12
        assert blocks.expire_due(first.service) == 0


def test_a_block_due_to_end_and_unblocked_early_at_the_same_moment_ends_once(replicas):
    """The job on one replica ends a due block while, on the other, the
    moderator unblocks it early: one end, one event, one log entry."""
    from services.common.auth import Principal
    from services.common.errors import NotFound
    from services.moderation import blocks
    from services.moderation.models import (Block, Chat, ChatMember, LogEntry, Moderator, OrgMember,
                                            UnblockRequest, VerifiedTeacher)

    first, second = replicas
    chat_id, past = uuid.uuid4().hex, utcnow() - timedelta(seconds=1)
    with first.connection(), first.db.atomic():
        OrgMember.create(org_id="org", user_id="teacher", roles="teacher")
        VerifiedTeacher.create(org_id="org", user_id="teacher")  # staff moderate once confirmed
        OrgMember.create(org_id="org", user_id="student", roles="student")
        Chat.create(chat_id=chat_id, org_id="org", kind="group", title="Кружок", rules='["Вежливо"]')
        for user_id in ("teacher", "student"):
            ChatMember.create(chat_id=chat_id, user_id=user_id)
        Moderator.create(chat_id=chat_id, user_id="teacher")
        block = Block.create(org_id="org", chat_id=chat_id, user_id="student", blocked_by="teacher", until=past)
        request = UnblockRequest.create(org_id="org", chat_id=chat_id, block_id=block.id, user_id="student",
                                        apology="Простите", window_ends_at=past)
    outcome = {}

    def expire():
        outcome["expired"] = blocks.expire_due(first.service)

    def unblock():
        with second.connection():
            try:
                blocks.unblock_early(second.service, Principal(id="teacher", session_id=None), chat_id, "student")
                outcome["unblocked"] = "yes"
            except NotFound as refused:
                outcome["unblocked"] = refused.code

    while_first_is_uncommitted(first, expire, unblock, hold_seconds=1)
    assert outcome == {"expired": 1, "unblocked": "not_blocked"}
    with first.connection():
        assert Block.get_by_id(block.id).end_reason == "expired"
        assert UnblockRequest.get_by_id(request.id).outcome == "block_ended"
        assert [row.routing_key for row in first.kit.Outbox.select().order_by(first.kit.Outbox.id)] == [
            "moderation.unblock_request.closed", "moderation.member.unblocked"]
        assert [entry.action for entry in LogEntry.select()] == ["block_expired"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'moderation.db'}"
    return request.getfixturevalue("new_database")("log")


def test_the_log_cannot_be_changed_or_emptied(database_url, tmp_path):
    from services.moderation import log
    from services.moderation.models import LogEntry

    reset_memory_bus()
    runtime = moderation(database_url, tmp_path)
    with runtime.connection(), runtime.db.atomic():
        entry = log.write(org_id="org", chat_id="chat", action="member_blocked", actor_id="teacher",
                          subject_id="student", rules=[{"number": 1, "text": "Вежливо"}], note="четыре нарушения")
    attempts = [lambda: LogEntry.update(note="ничего не было").where(LogEntry.id == entry.id).execute(),
                lambda: LogEntry.delete().where(LogEntry.id == entry.id).execute(),
                lambda: LogEntry.delete().execute()]
    if database_url.startswith("postgresql"):
        attempts.append(lambda: runtime.db.execute_sql("TRUNCATE logentry"))
    for attempt in attempts:
        with runtime.connection():
            with pytest.raises(peewee.DatabaseError, match="append-only"):
                with runtime.db.atomic():
                    attempt()
    with runtime.connection():
        assert [(e.id, e.note) for e in LogEntry.select()] == [(entry.id, entry.note)]
        assert log.views(list(LogEntry.select()))[0]["note"] == "четыре нарушения"
        # Adding stays possible.
        with runtime.db.atomic():
            log.write(org_id="org", chat_id="chat", action="block_expired", actor_id=None, subject_id="student")
        assert LogEntry.select().count() == 2
    runtime.db.close()


def test_erasing_a_person_leaves_every_entry_as_it_was_and_no_way_back_to_them(database_url, tmp_path):
    from services.moderation import erasure, log
    from services.moderation.models import LogEntry, LogPerson

    reset_memory_bus()
    runtime = moderation(database_url, tmp_path)
    with runtime.connection(), runtime.db.atomic():
        log.write(org_id="org", chat_id="chat", action="member_blocked", actor_id="teacher", subject_id="student",
                  rules=[{"number": 1, "text": "Вежливо"}], note="четыре нарушения")
        log.write(org_id="org", chat_id="chat", action="unblock_requested", actor_id="student",
                  subject_id="student", note="Простите меня, Маша Иванова")
    with runtime.connection():
        before = [(e.id, e.actor_id, e.subject_id, e.rules, e.note, e.refs, e.created_at)
                  for e in LogEntry.select().order_by(LogEntry.id)]
        # Pseudonyms, not ids; notes sealed, not readable in the table.
        assert "student" not in {e[1] for e in before} | {e[2] for e in before}
        assert not any("Маша" in e[4] or "нарушения" in e[4] for e in before)
        with runtime.db.atomic():
            erasure.erase(runtime.service, "student")
        after = [(e.id, e.actor_id, e.subject_id, e.rules, e.note, e.refs, e.created_at)
                 for e in LogEntry.select().order_by(LogEntry.id)]
        assert after == before
        assert [row.user_id for row in LogPerson.select()] == ["teacher"]
        shown = {entry["action"]: entry for entry in log.views(list(LogEntry.select()))}
        assert shown["unblock_requested"]["actor"]["erased"] and shown["unblock_requested"]["note"] == ""
        assert shown["member_blocked"]["subject"]["erased"] and shown["member_blocked"]["note"] == "четыре нарушения"
        assert shown["member_blocked"]["actor"]["id"] == "teacher"
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with runtime.db.atomic():
                LogEntry.delete().execute()
    runtime.db.close()


def test_screening_reads_the_chat_its_moderators_and_the_flood_window_in_one_query(database_url, tmp_path):
    """Every message of the platform is screened with hand-written statements,
    a run of messages at a time: on both databases a burst opens one flooding
    report, whether its messages come one by one or in one run; a moderator's
    message is never screened, a dismissed moderator's is; a message
    delivered twice is stored once, and one in a chat not known yet is stored
    and not screened."""
    from services.common.filters import Filters
    from services.moderation import flags
    from services.moderation.models import Chat, Message, Moderator, OrgMember, Report

    reset_memory_bus()
    runtime = moderation(database_url, tmp_path)
    filters = Filters(flood_messages=3, flood_seconds=30)
    chat_id, start = uuid.uuid4().hex, utcnow()
    with runtime.connection(), runtime.db.atomic():
        OrgMember.create(org_id="org", user_id="teacher", roles="teacher")
        OrgMember.create(org_id="org", user_id="student", roles="student")
        OrgMember.create(org_id="org", user_id="pupil", roles="student")
        OrgMember.create(org_id="org", user_id="teacher2", roles="teacher")
        Chat.create(chat_id=chat_id, org_id="org", kind="group", title="Кружок", rules='["Вежливо"]')
        Moderator.create(chat_id=chat_id, user_id="teacher")
        Moderator.create(chat_id=chat_id, user_id="teacher2")

    def posted(author: str, text: str, seconds: float, message_id: str | None = None, chat: str = chat_id) -> dict:
        return {"message_id": message_id or uuid.uuid4().hex, "chat_id": chat, "org_id": "org", "author_id": author,
                "text": text, "created_at": (start + timedelta(seconds=seconds)).isoformat()}

    def run(*messages: dict) -> None:
        with runtime.connection(), runtime.db.atomic():
            flags.messages_posted(runtime.service, filters, list(messages))

    def post(author: str, text: str, seconds: float, message_id: str | None = None) -> str:
        message = posted(author, text, seconds, message_id)
        run(message)
        return message["message_id"]

    def reports() -> list[tuple[str, str]]:
        with runtime.connection():
            return sorted((r.author_id, r.flags) for r in Report.select())

    for n in range(4):
        post("teacher", f"казино {n}", n)  # a moderator's messages: no stop word, no flooding
    assert reports() == []
    first = post("student", "раз", 0)
    post("student", "два", 40)  # outside the first one's window
    assert post("student", "раз", 0, message_id=first) == first  # delivered again
    assert reports() == []
    post("student", "три", 45)
    assert reports() == []
    post("student", "четыре", 46)  # the third within 30 s
    assert reports() == [("student", '{"flooding": ["3 in 30 s"]}')]
    post("student", "пять", 47)  # the same burst: its report is open already
    assert reports() == [("student", '{"flooding": ["3 in 30 s"]}')]
    with runtime.connection(), runtime.db.atomic():
        OrgMember.delete().where(OrgMember.user_id == "teacher").execute()  # dismissed
    post("teacher", "казино", 100)
    assert reports() == [("student", '{"flooding": ["3 in 30 s"]}'), ("teacher", '{"stop_word": ["казино"]}')]
    with runtime.connection():
        assert Message.select().where(Message.author_id == "student").count() == 5

    # In one run: a burst of another student's with a message delivered twice,
    # the moderator's, and one in a chat moderation does not know yet.
    twice = posted("pupil", "раз", 200)
    run(posted("teacher2", "казино", 200), twice, posted("pupil", "два", 201), twice,
        posted("pupil", "три", 202), posted("pupil", "четыре", 203), posted("pupil", "казино", 300, chat="new" * 10))
    with runtime.connection():
        assert Message.select().where(Message.author_id == "pupil").count() == 5
        assert sorted((r.author_id, r.flags) for r in Report.select().where(Report.author_id == "pupil")) == [
            ("pupil", '{"flooding": ["3 in 30 s"]}')]
        assert not Report.select().where(Report.author_id == "teacher2").exists()
    runtime.db.close()
