"""The weekly counters and the active days on PostgreSQL, where every message
of every school is counted, a batch of events with hand-written statements."""
import pytest

pytestmark = pytest.mark.integration


def message(org_id, chat_id, author_id, at):
    return {"type": "messaging.message.created", "occurred_at": at,
            "data": {"org_id": org_id, "chat_id": chat_id, "author_id": author_id}}


def test_batches_add_up_per_organisation_unit_week_and_metric(service_on_postgres):
    from services.orgstructure import stats
    from services.orgstructure.models import Activity, ChatUnit, WeeklyStat

    runtime = service_on_postgres("orgstructure")
    with runtime.connection(), runtime.db.atomic():
        ChatUnit.create(chat_id="class-chat", organisation_id="org-a", unit_id="class-5a")
    call = {"type": "calls.call.ended", "occurred_at": "2026-09-02T10:00:00Z",
            "data": {"org_id": "org-a", "chat_id": "class-chat", "started_at": "2026-09-02T09:00:00Z",
                     "ended_at": "2026-09-02T09:45:00Z"}}
    batches = [
        # The same counters and the same active day twice in one batch, and a message without a school.
        [message("org-a", "class-chat", "u1", "2026-09-01T08:00:00Z"),
         message("org-a", "class-chat", "u1", "2026-09-01T08:01:00Z"),
         message("org-a", "staff-chat", "u2", "2026-09-06T20:00:00Z"),
         message(None, "class-chat", "u1", "2026-09-01T08:00:00Z"), call],
        # The next batch adds to the same rows and starts a new week.
        [message("org-a", "class-chat", "u1", "2026-09-07T08:00:00Z"),
         message("org-a", "class-chat", "u3", "2026-09-01T09:00:00Z"),
         message("org-b", "other-chat", "u9", "2026-09-01T08:00:00Z"),
         {"type": "messaging.chat.member.joined", "occurred_at": "2026-09-01T10:00:00Z",
          "data": {"org_id": "org-a", "chat_id": "class-chat", "user_id": "u4"}}],
    ]
    for batch in batches:
        with runtime.connection(), runtime.db.atomic():
            stats.count(batch)
    with runtime.connection():
        rows = {(r.organisation_id, r.unit_id, r.week.isoformat(), r.metric): r.value for r in WeeklyStat.select()}
        active = {(r.organisation_id, r.day.isoformat(), r.user_id) for r in Activity.select()}
    assert rows == {("org-a", "", "2026-08-31", "messages"): 4, ("org-a", "class-5a", "2026-08-31", "messages"): 3,
                    ("org-a", "", "2026-09-07", "messages"): 1, ("org-a", "class-5a", "2026-09-07", "messages"): 1,
                    ("org-a", "", "2026-08-31", "calls"): 1, ("org-a", "class-5a", "2026-08-31", "calls"): 1,
                    ("org-a", "", "2026-08-31", "call_minutes"): 45,
                    ("org-a", "class-5a", "2026-08-31", "call_minutes"): 45,
                    ("org-b", "", "2026-08-31", "messages"): 1}
    assert active == {("org-a", "2026-09-01", "u1"), ("org-a", "2026-09-06", "u2"), ("org-a", "2026-09-07", "u1"),
                      ("org-a", "2026-09-01", "u3"), ("org-a", "2026-09-01", "u4"), ("org-b", "2026-09-01", "u9")}
