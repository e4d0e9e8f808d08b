"""Every routing key a service publishes or binds is in the catalogue."""
import importlib

import pytest

from services.common.config import SERVICES
from devkit import catalogue


@pytest.fixture(scope="module")
def events():
    return catalogue.load()


def test_catalogue_parses(events):
    assert {"org_id", "user_id", "unit_id", "parent_ids"} <= events["orgstructure.member.expelled"][0]
    assert "orgstructure.unit.archived" in events and "calls.participant.left" in events
    assert events["identity.user.registered"] == ({"user_id", "display_name"}, {"phone"})


@pytest.mark.parametrize("service", SERVICES)
def test_published_keys_are_catalogued_and_owned(service, events):
    published = importlib.import_module(f"services.{service}.events").PUBLISHES
    for key in published:
        assert key in events, key
        assert key.split(".")[0] == service, key


@pytest.mark.parametrize("service", SERVICES)
def test_bound_keys_are_catalogued(service, events):
    handlers = importlib.import_module(f"services.{service}.handlers").handlers
    for key in handlers.routing_keys:
        assert key in events, key
        assert key.split(".")[0] != service, f"{service} consumes its own event {key}"


def test_every_process_follows_catalogued_revocations(events):
    """identity's revocations are bound by every process's own queue, not by a service's handlers."""
    from services.common.revocation import RevocationFeed
    from services.identity.events import PUBLISHES

    for key in RevocationFeed.ROUTING_KEYS:
        assert key in events and key in PUBLISHES, key
    assert events["identity.session.revoked"][0] == {"user_id", "session_id", "reason", "until"}
    assert events["identity.signing_key.retired"][0] == {"kid", "emergency"}


def test_envelope_check_finds_problems(events):
    good = {"id": "5f0c6b53-8a47-4f3a-9a4e-2a7f2b3c4d5e", "type": "identity.user.updated", "version": 1,
            "occurred_at": "2026-09-01T08:00:00.000Z", "producer": "identity", "org_id": None,
            "correlation_id": None, "data": {"user_id": "u", "display_name": "d"}}
    assert catalogue.check_envelope(good, events, "identity.user.updated") == []
    bad = dict(good, data={"user_id": "u"}, producer="gateway", occurred_at="yesterday")
    problems = catalogue.check_envelope(bad, events)
    assert len(problems) == 3, problems
    assert catalogue.check_envelope(dict(good, type="identity.user.vanished"), events)
