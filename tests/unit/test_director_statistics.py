"""Statistics the director can use weekly (seed 000 §2.2, 002 §2.1): active
users by role by day and by week, messages, calls and call minutes by class
and group, new joins and pending requests; a weekly digest posted in the
staff channel. Figures never identify a student: counts only, and counts of
people below five are suppressed (null)."""
from datetime import date, timedelta

import pytest
from support.chats import accept, invitation_to, join_official, send, texts
from support.school import Person

from devkit.helpers import wait_for
from services.common.clock import utcnow
from services.orgstructure import stats


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def report(api, school, **params):
    answer = api.get(f"/orgs/{school.org_id}/stats", params=params or None, token=school.director.token)
    assert answer.status_code == 200, answer
    return answer.json


def today_of(found):
    return next(day for day in found["days"] if day["day"] == utcnow().date().isoformat())


def test_active_users_by_role_with_small_counts_suppressed(embedded, school):
    api, org = embedded.api, school.org_id
    class_chat = join_official(api, school.head, org, "class_students", school.class_a)["id"]
    students = [school.student] + [school.invite_and_join("student", f"ученик {n}", unit_id=school.class_a)
                                   for n in range(5)]
    for student in students[:4]:
        accept(api, student, invitation_to(api, student, lambda c: c["purpose"] == "class_students"))
    for student in students[:4]:
        send(api, student, class_chat, "Здравствуйте")
    send(api, school.head, class_chat, "Доброе утро")

    def counted():
        found = report(api, school)
        return found if sum(week["messages"] for week in found["weeks"]) == 5 else None
    found = wait_for(counted, message="five messages counted")
    assert found["suppressed_below"] == 5
    # Four active students and one active teacher: too few to show; five people active in all.
    day = today_of(found)["active"]
    assert (day["student"], day["teacher"], day["all"]) == (None, None, 5)
    assert found["weeks"][-1]["active"]["all"] == 5
    # The fifth student writes: now five students are shown.
    accept(api, students[4], invitation_to(api, students[4], lambda c: c["purpose"] == "class_students"))
    send(api, students[4], class_chat, "И я здесь")
    wait_for(lambda: today_of(report(api, school))["active"]["student"] == 5, message="five active students")
    # By class: the class's messages, the other class's none.
    units = {unit["unit_id"]: unit for unit in report(api, school)["units"]}
    assert units[school.class_a]["messages"] == 6 and school.class_b not in units
    members = {unit["unit_id"]: unit["members"] for unit in report(api, school)["members_by_unit"]}
    assert members[school.class_a] == 6 and members[school.class_b] is None
    assert report(api, school)["members_by_role"]["student"] == 7


def test_pending_requests_and_joins_are_counted_and_suppressed(embedded, school):
    api, org = embedded.api, school.org_id
    assert report(api, school)["pending_requests"] == 0
    token = school.invite("teacher", requires_approval=True)
    for n in range(5):
        api.post(f"/invites/{token}/accept", token=Person(api, f"кандидат {n}").token)
    assert report(api, school)["pending_requests"] == 5
    assert report(api, school)["weeks"][-1]["joins"] == len(school.everyone) + 1


def test_the_weekly_digest_is_posted_once_in_the_staff_channel(embedded, school):
    api, org = embedded.api, school.org_id
    staff = join_official(api, school.director, org, "staff")["id"]
    runtime = embedded.apps["orgstructure"].extensions["sferum"]
    next_week = utcnow().date() + timedelta(days=7)
    with runtime.connection():
        assert stats.send_digests(runtime.service, next_week) >= 1
        # Twice for the same week: nothing more.
        assert stats.send_digests(runtime.service, next_week) == 0
    runtime.relay_what_was_written()
    monday = stats.week_of(utcnow().date())
    digest = wait_for(lambda: [t for t in texts(api, school.director, staff) if t.startswith("Статистика за неделю")],
                      message="the digest in the staff channel")
    assert len(digest) == 1 and f"{monday:%d.%m}" in digest[0]
    assert "Числа меньше 5 не показываются" in digest[0]
    # Counts only: nobody is named.
    for person in [*school.everyone.values(), school.other_student]:
        assert person.label not in digest[0]


def test_a_school_approved_after_the_week_gets_no_digest_of_it(embedded, school):
    runtime = embedded.apps["orgstructure"].extensions["sferum"]
    with runtime.connection():
        assert stats.send_digests(runtime.service, utcnow().date()) == 0


@pytest.mark.parametrize("count,shown", [(0, 0), (1, None), (4, None), (5, 5), (300, 300)])
def test_the_rule_of_suppression(count, shown):
    assert stats.shown(count) == shown


def test_weeks_start_on_monday():
    assert stats.week_of(date(2026, 9, 6)) == date(2026, 8, 31)
    assert stats.week_of(date(2026, 9, 7)) == date(2026, 9, 7)


def test_what_a_batch_of_events_counts():
    """A plain rule of the events alone: a message counts for the school and
    for its chat's class; a call that took place counts with its minutes, a
    call never answered does not; writing and joining make people active."""
    def event(kind, occurred_at, **data):
        return {"type": kind, "occurred_at": occurred_at, "data": {"org_id": "org", **data}}

    increments, actives = stats.counted([
        event("messaging.message.created", "2026-09-01T08:00:00Z", chat_id="class-chat", author_id="u1"),
        event("messaging.message.created", "2026-09-01T09:00:00Z", chat_id="staff-chat", author_id="u1"),
        event("calls.call.ended", "2026-09-03T10:00:00Z", chat_id="class-chat", started_at="2026-09-03T09:00:00Z",
              ended_at="2026-09-03T09:29:40Z"),
        event("calls.call.ended", "2026-09-03T11:00:00Z", chat_id="class-chat", started_at=None),
        event("calls.participant.joined", "2026-09-04T00:00:01Z", user_id="u2", at="2026-09-03T23:59:59Z"),
        event("messaging.chat.member.joined", "2026-09-05T12:00:00Z", chat_id="class-chat", user_id="u3"),
        {"type": "messaging.message.created", "occurred_at": "2026-09-01T08:00:00Z",
         "data": {"chat_id": "class-chat", "author_id": "u1"}},  # no school: not counted
    ], {"class-chat": "class-5a"})
    week = date(2026, 8, 31)
    assert increments == {("org", "", week, "messages"): 2, ("org", "class-5a", week, "messages"): 1,
                          ("org", "", week, "calls"): 1, ("org", "class-5a", week, "calls"): 1,
                          ("org", "", week, "call_minutes"): 30, ("org", "class-5a", week, "call_minutes"): 30}
    assert actives == {("org", date(2026, 9, 1), "u1"), ("org", date(2026, 9, 3), "u2"),
                       ("org", date(2026, 9, 5), "u3")}
    assert stats.chats_to_place([
        event("messaging.message.created", "2026-09-01T08:00:00Z", chat_id="a", author_id="u1"),
        event("messaging.chat.member.joined", "2026-09-01T08:00:00Z", chat_id="b", user_id="u1"),
        event("calls.call.ended", "2026-09-01T08:00:00Z", chat_id="c", started_at=None)]) == {"a", "c"}
