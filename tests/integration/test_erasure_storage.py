"""Erasures on a real database: identity's job runs on every replica at once,
and every due erasure is carried out once, without one replica waiting for
another (PostgreSQL, FOR UPDATE SKIP LOCKED)."""
import json
import time
from datetime import timedelta

import pytest
from support.races import while_first_is_uncommitted

from devkit.helpers import dev_env, reset_memory_bus
from services.common.clock import utcnow
from services.common.config import Settings
from services.common.wsgi import build

pytestmark = pytest.mark.integration


@pytest.fixture
def replicas(new_database, tmp_path):
    """Two replicas of identity on one PostgreSQL database."""
    reset_memory_bus()
    url = new_database("erasure")
    apps = [build("identity", Settings.from_env("identity", dev_env(tmp_path / name, DATABASE_URL=url)))
            for name in ("one", "two")]
    for app in apps:
        app.extensions["sferum"].migrate()
    yield apps
    for app in apps:
        app.extensions["sferum"].db.close_all()


def due_erasures(app, count: int) -> list[str]:
    from services.identity.models import ErasureRequest, Session, User

    runtime = app.extensions["sferum"]
    with runtime.connection(), runtime.db.atomic():
        users = [User.create(phone=f"+7900555{n:04d}", display_name=f"ученик {n}") for n in range(count)]
        for user in users:
            Session.create(user=user, user_agent="телефон")
            ErasureRequest.create(user_id=user.id, requested_by=user.id, erase_at=utcnow() - timedelta(seconds=1))
    return [user.id for user in users]


def test_two_replicas_carry_out_every_due_erasure_once_without_waiting_for_each_other(replicas):
    from services.identity import erasure
    from services.identity.models import ErasureRequest, User

    first, second = replicas
    ids = due_erasures(first, 6)
    done = {}

    def erase(app, **kwargs):
        return erasure.erase_due(app.extensions["sferum"].service, app.extensions["identity"].tokens, **kwargs)

    def on_second():
        started = time.monotonic()
        with second.extensions["sferum"].connection():
            done["second"] = erase(second)
        done["second_took"] = time.monotonic() - started

    while_first_is_uncommitted(first.extensions["sferum"], lambda: done.update(first=erase(first, limit=2)),
                               on_second, hold_seconds=3)
    assert (done["first"], done["second"]) == (2, 4)
    assert done["second_took"] < 2, "the second replica waited for the first"
    runtime = first.extensions["sferum"]
    with runtime.connection():
        assert {r.user_id: r.status for r in ErasureRequest.select()} == dict.fromkeys(ids, "erased")
        assert all((u.phone, u.display_name) == (None, "") and u.erased_at for u in User.select())
        published = [json.loads(row.body) for row in runtime.kit.Outbox.select()]
        erased = [event["data"]["user_id"] for event in published if event["type"] == "identity.user.erased"]
        revoked = [event["data"]["user_id"] for event in published if event["type"] == "identity.session.revoked"]
        assert sorted(erased) == sorted(revoked) == sorted(ids)
        assert erase(first, now=utcnow() + timedelta(days=1)) == 0
