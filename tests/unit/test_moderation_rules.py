"""The regulation's decisions as plain functions (services/moderation/rules.py),
without a database: what a month is, when a block may be imposed, when an
early unblock and an objection are allowed. And the one job that forgets old
messages' texts."""
from datetime import datetime, timedelta

import pytest

from services.moderation import rules
from services.moderation.rules import RequestFacts, month_after

NOW = datetime(2026, 1, 31, 10, 30)


@pytest.mark.parametrize("moment,latest", [
    (datetime(2026, 5, 15, 8, 0), datetime(2026, 6, 15, 8, 0)),
    (datetime(2026, 1, 31, 10, 30), datetime(2026, 2, 28, 10, 30)),
    (datetime(2028, 1, 31, 10, 30), datetime(2028, 2, 29, 10, 30)),  # a leap year
    (datetime(2026, 3, 31, 23, 59), datetime(2026, 4, 30, 23, 59)),
    (datetime(2026, 12, 20, 0, 0), datetime(2027, 1, 20, 0, 0)),
])
def test_a_month_is_the_same_day_of_the_next_month_or_its_last_day(moment, latest):
    assert month_after(moment) == latest


def test_a_block_needs_more_than_three_cited_violations():
    until = NOW + timedelta(days=7)
    assert rules.why_not_block(3, until, NOW).code == "not_enough_violations"
    assert rules.why_not_block(0, until, NOW).details == {"cited": 0, "needed": 4}
    assert rules.why_not_block(4, until, NOW) is None
    assert rules.why_not_block(12, until, NOW) is None


def test_a_block_ends_in_the_future_and_at_most_a_month_ahead():
    assert rules.why_not_block(4, NOW, NOW).code == "until_in_the_past"
    assert rules.why_not_block(4, NOW - timedelta(seconds=1), NOW).code == "until_in_the_past"
    assert rules.why_not_block(4, datetime(2026, 2, 28, 10, 30), NOW) is None
    refusal = rules.why_not_block(4, datetime(2026, 2, 28, 10, 30, 1), NOW)
    assert refusal.code == "block_too_long" and refusal.details == {"latest": datetime(2026, 2, 28, 10, 30)}
    # The time is checked before the count: a block that could never be is said so first.
    assert rules.why_not_block(1, NOW + timedelta(days=40), NOW).code == "block_too_long"


def test_early_unblock_needs_an_apology_a_closed_window_and_no_objection():
    window_ends = NOW + timedelta(hours=24)
    quiet = RequestFacts(window_ends, objections=0, open=True)
    assert rules.why_not_unblock_early(None, NOW).code == "no_unblock_request"
    assert rules.why_not_unblock_early(RequestFacts(window_ends, 0, open=False), window_ends).code == \
        "no_unblock_request"
    assert rules.why_not_unblock_early(quiet, NOW).code == "objection_window_open"
    assert rules.why_not_unblock_early(quiet, window_ends - timedelta(seconds=1)).code == "objection_window_open"
    assert rules.why_not_unblock_early(quiet, window_ends) is None
    objected = RequestFacts(window_ends, objections=1, open=True)
    assert rules.why_not_unblock_early(objected, NOW).code == "objected"
    assert rules.why_not_unblock_early(objected, window_ends + timedelta(days=30)).code == "objected"


def test_objections_come_from_others_while_the_window_is_open():
    window_ends = NOW + timedelta(hours=24)
    request = RequestFacts(window_ends, objections=0, open=True)
    assert rules.why_not_object(request, "parent", "student", NOW) is None
    assert rules.why_not_object(request, "student", "student", NOW).code == "own_request"
    assert rules.why_not_object(request, "parent", "student", window_ends).code == "window_closed"
    assert rules.why_not_object(RequestFacts(window_ends, 0, open=False), "parent", "student", NOW).code == \
        "request_closed"


def test_moderators_act_on_members_not_on_themselves_or_each_other():
    assert rules.why_not_act_on("student", "teacher", subject_moderates=False) is None
    assert rules.why_not_act_on("teacher", "teacher", subject_moderates=True).code == "own_conduct"
    assert rules.why_not_act_on("head", "teacher", subject_moderates=True).code == "subject_moderates"


def test_who_is_who():
    assert rules.rule_text(["a", "b"], 2) == "b"
    assert rules.rule_text(["a", "b"], 0) is None and rules.rule_text(["a", "b"], 3) is None
    assert rules.oversees({"admin", "teacher"}) and rules.oversees({"director"})
    assert not rules.oversees({"teacher", "deputy"})
    assert rules.is_student({"student"}) and not rules.is_student({"student", "teacher"})
    assert not rules.is_student({"parent"})


def test_old_messages_texts_are_forgotten_and_reports_keep_their_excerpt(tmp_path):
    from devkit.helpers import dev_env, reset_memory_bus
    from services.common.clock import utcnow
    from services.common.config import Settings
    from services.common.wsgi import build
    from services.moderation import flags
    from services.moderation.models import Message, Report

    reset_memory_bus()
    runtime = build("moderation", Settings.from_env("moderation", dev_env(tmp_path))).extensions["sferum"]
    runtime.migrate()
    with runtime.connection(), runtime.db.atomic():
        for message_id, days in (("old", 31), ("recent", 29)):
            Message.create(message_id=message_id, chat_id="chat", org_id="org", author_id="student",
                           text=f"текст {message_id}", created_at=utcnow() - timedelta(days=days))
        Report.create(org_id="org", chat_id="chat", message_id="old", author_id="student", reporter_id="parent",
                      source="member", reason="грубо", excerpt="текст old")
        assert flags.forget_old_texts(30) == 1
        assert {m.message_id: m.text for m in Message.select()} == {"old": "", "recent": "текст recent"}
        assert Report.get().excerpt == "текст old"
        assert flags.forget_old_texts(30) == 0
