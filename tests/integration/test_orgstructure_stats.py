"""The weekly counters on PostgreSQL, where every message of every school is
counted with a hand-written upsert."""
import pytest

pytestmark = pytest.mark.integration


def test_counts_add_up_per_organisation_week_and_metric(service_on_postgres):
    from services.orgstructure import stats
    from services.orgstructure.models import WeeklyStat

    runtime = service_on_postgres("orgstructure")
    with runtime.connection(), runtime.db.atomic():
        for at in ("2026-09-01T08:00:00Z", "2026-09-06T20:00:00Z", "2026-09-07T08:00:00Z"):
            stats.count("org-a", "messages", at)
        stats.count("org-a", "call_minutes", "2026-09-01T09:00:00Z", amount=45)
        stats.count("org-a", "call_minutes", "2026-09-02T09:00:00Z", amount=40)
        stats.count("org-b", "messages", "2026-09-01T08:00:00Z")
        stats.count(None, "messages", "2026-09-01T08:00:00Z")  # no organisation: not counted
    with runtime.connection():
        rows = {(r.organisation_id, r.week.isoformat(), r.metric): r.value for r in WeeklyStat.select()}
    assert rows == {("org-a", "2026-08-31", "messages"): 2, ("org-a", "2026-09-07", "messages"): 1,
                    ("org-a", "2026-08-31", "call_minutes"): 85, ("org-b", "2026-08-31", "messages"): 1}
