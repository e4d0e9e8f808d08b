"""Support (seed 000 §3.2–3.3, 004 §2.2): the operator configures where users
turn for help (`SUPPORT_EMAIL`, `SUPPORT_PHONE`, `SUPPORT_URL`); `GET /support`
shows it to anyone, and every school's announcements channel says it in its
description."""
import pytest
from support.chats import invitation_to
from support.school import School

from services.common.support import Support

SUPPORT = {"SUPPORT_EMAIL": "info@sferum.ru", "SUPPORT_PHONE": "8 800 100-00-00",
           "SUPPORT_URL": "https://sferum.ru/?p=instructions"}


def test_support_is_shown_to_anyone_and_in_every_schools_announcements_channel(embedded_with):
    platform = embedded_with(**SUPPORT)
    api = platform.api
    assert api.get("/support").json == {"email": "info@sferum.ru", "phone": "8 800 100-00-00",
                                        "instructions_url": "https://sferum.ru/?p=instructions", "configured": True}
    school = School(platform, api)
    channel = invitation_to(api, school.student, lambda chat: chat["purpose"] == "school")
    accepted = api.post(f"/chat-invitations/{channel['id']}/accept",
                        {"accepted_rules_version": channel["chat"]["rules_version"]}, token=school.student.token)
    description = accepted.json["description"]
    assert "info@sferum.ru" in description and "8 800 100-00-00" in description
    assert "https://sferum.ru/?p=instructions" in description
    # Other chats say nothing of it.
    staff = invitation_to(api, school.teacher, lambda chat: chat["purpose"] == "staff")
    joined = api.post(f"/chat-invitations/{staff['id']}/accept",
                      {"accepted_rules_version": staff["chat"]["rules_version"]}, token=school.teacher.token)
    assert joined.json["description"] == ""


def test_a_new_contact_reaches_the_schools_channels_at_the_next_start(embedded_with, tmp_path):
    from services.messaging import official
    from services.messaging.models import Chat

    platform = embedded_with()
    assert platform.api.get("/support").json["configured"] is False
    School(platform, platform.api)
    runtime = platform.apps["messaging"].extensions["sferum"]
    with runtime.connection():
        assert official.describe_school_channels("Поддержка: help@example.org") == 1
        assert official.describe_school_channels("Поддержка: help@example.org") == 0
        assert [chat.description for chat in Chat.select().where(Chat.purpose == "school")] == [
            "Поддержка: help@example.org"]


@pytest.mark.parametrize("env", [{"SUPPORT_URL": "javascript:alert(1)"}, {"SUPPORT_URL": "sferum.ru"},
                                 {"SUPPORT_EMAIL": "not an address"}])
def test_a_bad_support_setting_stops_the_start(env):
    with pytest.raises(ValueError):
        Support.from_env(env)
