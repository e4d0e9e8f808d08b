"""One person voting many times at once (a double tap, a phone retrying) on
PostgreSQL: every attempt is answered 200 with a consistent poll, none is
an error, and what stays is exactly one of the choices, whole; in a
single-choice poll the database itself holds one vote per person."""
import threading

import peewee
import pytest

from devkit.helpers import TokensAreUserIds
from services.common.auth import Principal

pytestmark = pytest.mark.integration

ATTEMPTS = 8


@pytest.fixture
def messaging(service_on_postgres):
    from services.messaging import chats, official, polls
    from services.messaging.models import VerifiedTeacher

    runtime = service_on_postgres("messaging")
    runtime.app.extensions["sferum.verifier"] = TokensAreUserIds()
    teacher = Principal(id="t" * 32, session_id=None)
    runtime.student = "s" * 32
    with runtime.connection(), runtime.db.atomic():
        official.member_joined(runtime.service, "org", teacher.id, ["teacher"], None)
        VerifiedTeacher.create(org_id="org", user_id=teacher.id)  # staff create chats once confirmed
        official.member_joined(runtime.service, "org", runtime.student, ["student"], None)
        chat = chats.create(runtime.service, teacher, "org", "group", "Кружок", [], [])
        chats.join(runtime.service, chats.Chat.get_by_id(chat.id), runtime.student, role="member", via="link")
        options = [f"Вариант {n}" for n in range(ATTEMPTS)]
        runtime.single = polls.create(runtime.service, teacher, chat.id, "Когда?", options, False, False, None)
        runtime.multiple = polls.create(runtime.service, teacher, chat.id, "Что взять?", options, True, False, None)
    return runtime


def vote_at_once(messaging, poll_id: str, choices: list[list[str]]) -> list:
    """Every choice sent at the same moment, each from its own connection."""
    start = threading.Barrier(len(choices))
    answers = [None] * len(choices)

    def vote(index):
        client = messaging.app.test_client()
        start.wait()
        answers[index] = client.post(f"/api/v1/polls/{poll_id}/votes", json={"option_ids": choices[index]},
                                     headers={"Authorization": f"Bearer {messaging.student}"})

    threads = [threading.Thread(target=vote, args=(n,)) for n in range(len(choices))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def stored_votes(messaging, poll_id: str) -> list[str]:
    from services.messaging.models import Vote

    with messaging.connection():
        return sorted(v.option_id for v in Vote.select().where(Vote.poll == poll_id, Vote.user_id == messaging.student))


def test_parallel_votes_in_a_single_choice_poll_leave_one(messaging):
    options = [option["id"] for option in messaging.single["options"]]
    answers = vote_at_once(messaging, messaging.single["id"], [[option] for option in options])
    assert [answer.status_code for answer in answers] == [200] * ATTEMPTS, [a.get_json() for a in answers]
    for answer in answers:
        shown = answer.get_json()
        assert len(shown["my_option_ids"]) == 1 and shown["total_voters"] == 1
        assert sum(option["votes"] for option in shown["options"]) == 1
    kept = stored_votes(messaging, messaging.single["id"])
    assert len(kept) == 1 and kept[0] in options


def test_parallel_votes_in_a_multiple_choice_poll_leave_one_whole_choice(messaging):
    options = [option["id"] for option in messaging.multiple["options"]]
    choices = [sorted({options[n], options[(n + 1) % ATTEMPTS], options[(n * 3) % ATTEMPTS]})
               for n in range(ATTEMPTS)]
    answers = vote_at_once(messaging, messaging.multiple["id"], choices)
    assert [answer.status_code for answer in answers] == [200] * ATTEMPTS, [a.get_json() for a in answers]
    for answer, choice in zip(answers, choices):
        shown = answer.get_json()
        assert sorted(shown["my_option_ids"]) == choice and shown["total_voters"] == 1
    assert stored_votes(messaging, messaging.multiple["id"]) in choices


def test_the_database_refuses_a_second_vote_in_a_single_choice_poll(messaging):
    from services.messaging.models import Vote

    first, second = (option["id"] for option in messaging.single["options"][:2])
    with messaging.connection():
        Vote.create(poll=messaging.single["id"], option=first, user_id=messaging.student, slot=0)
        with pytest.raises(peewee.IntegrityError), messaging.db.atomic():
            Vote.create(poll=messaging.single["id"], option=second, user_id=messaging.student, slot=0)


def test_the_upgrade_keeps_each_persons_latest_vote_in_a_single_choice_poll(new_database):
    """Votes the race left behind: the step that adds the database's rule keeps
    the latest of them, and numbers the votes of multiple-choice polls."""
    from services.common.db import KitModels, migrate, open_database

    db = open_database(new_database("votes"))
    kit = KitModels(db)
    migrate(db, kit, "services.messaging.migrations", until="0002_chats")
    with db.connection_context():
        db.execute_sql("INSERT INTO chat (id, org_id, kind, title, rules, rules_version, last_seq, created_at) "
                       "VALUES ('c', 'org', 'group', 'Кружок', '[]', 1, 0, now())")
        for poll, multiple in (("single", False), ("multiple", True)):
            db.execute_sql("INSERT INTO poll (id, chat_id, created_by, question, multiple, anonymous, created_at) "
                           "VALUES (%s, 'c', 't', 'Когда?', %s, false, now())", (poll, multiple))
            for position in range(3):
                db.execute_sql("INSERT INTO polloption (id, poll_id, position, text) VALUES (%s, %s, %s, %s)",
                               (f"{poll}-{position}", poll, position, f"Вариант {position}"))
        for poll, option, user, minute in (("single", 0, "s", 1), ("single", 2, "s", 3), ("single", 1, "s", 2),
                                           ("single", 0, "u", 1), ("multiple", 1, "s", 1), ("multiple", 2, "s", 1)):
            db.execute_sql("INSERT INTO vote (poll_id, option_id, user_id, created_at) "
                           "VALUES (%s, %s, %s, timestamp '2026-09-01 08:00' + %s * interval '1 minute')",
                           (poll, f"{poll}-{option}", user, minute))
    migrate(db, kit, "services.messaging.migrations")
    with db.connection_context():
        kept = db.execute_sql("SELECT poll_id, user_id, option_id, slot FROM vote ORDER BY 1, 2, 3").fetchall()
    db.close()
    assert kept == [("multiple", "s", "multiple-1", 1), ("multiple", "s", "multiple-2", 2),
                    ("single", "s", "single-2", 0), ("single", "u", "single-0", 0)]
