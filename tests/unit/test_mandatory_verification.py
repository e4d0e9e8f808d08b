"""Mandatory verification (seed 001 §4.8, §4.10; 003 §4): until an admin
confirms their teacher status, a member of the staff cannot create chats or
chat links, invite, moderate or plan calls, in messaging, orgstructure,
moderation and calls alike; the refusal says why and how to ask. The
school's first admin is confirmed by the operator's approval of the
application."""
from datetime import timedelta

import pytest
from support.chats import accept, invitation_to
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for
from services.common.clock import isoformat, utcnow
from services.common import verification


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def refused(response, org_id):
    error = assert_error(response, 403, "verification_required")
    assert "/verifications" in error["message"]
    assert error["details"]["ask"] == {"method": "POST", "path": "/api/v1/verifications", "body": {"org_id": org_id}}
    return error


def test_an_unverified_teacher_can_do_none_of_it_until_the_admin_confirms(embedded, school):
    api, org = embedded.api, school.org_id
    head = school.invite_and_join("teacher", "новый классный руководитель", verified=False)
    unit = api.post(f"/orgs/{org}/units", {"name": "7Г", "grade": 7}, token=school.admin.token).json["id"]
    assert api.put(f"/orgs/{org}/units/{unit}/head", {"user_id": head.id}, token=school.admin.token).status_code == 200
    student = school.invite_and_join("student", "ученик 7Г", unit_id=unit)
    class_chat = accept(api, head, invitation_to(api, head, lambda c: c["purpose"] == "class_students"
                                                 and c["unit_id"] == unit))
    accept(api, student, invitation_to(api, student, lambda c: c["purpose"] == "class_students"))
    message = api.post(f"/chats/{class_chat['id']}/messages", {"text": "Здравствуйте"}, token=student.token).json
    director = school.invite_and_join("director", "новый директор", verified=False)
    # moderation hears of the chat and of the message from messaging's events.
    wait_for(lambda: api.get(f"/chats/{class_chat['id']}/unblock-requests", token=student.token).status_code == 200,
             message="moderation knowing the class chat")
    wait_for(lambda: api.post(f"/messages/{message['id']}/removal", {"rule": 1},
                              token=head.token).status_code != 409, message="moderation knowing the message")
    lesson = {"org_id": org, "kind": "lesson", "chat_id": class_chat["id"], "title": "Дроби",
              "scheduled_at": isoformat(utcnow() + timedelta(days=1))}
    meeting = {"org_id": org, "kind": "meeting", "title": "Педсовет"}
    # calls hears of the school's people, the class chat and its members by events.
    wait_for(lambda: all(api.post("/calls", body, token=who.token).status_code not in (404, 409)
                         for body, who in ((lesson, head), (meeting, director))),
             message="calls knowing the class chat and the director")
    invites_before = api.get(f"/orgs/{org}/invites", params={"limit": 200}, token=school.admin.token).json

    attempts = {
        "create a chat": lambda: api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок",
                                                     "rules": ["Вежливо"]}, token=head.token),
        "a direct chat": lambda: api.post("/chats", {"org_id": org, "kind": "direct", "user_id": student.id},
                                          token=head.token),
        "a chat link": lambda: api.post(f"/chats/{class_chat['id']}/invites", {}, token=head.token),
        "the chat's rules": lambda: api.patch(f"/chats/{class_chat['id']}", {"rules": ["Новое правило"]},
                                              token=head.token),
        "invite to the school": lambda: api.post(f"/orgs/{org}/invites", {"role": "student", "unit_id": unit},
                                                 token=head.token),
        "a violation": lambda: api.post(f"/chats/{class_chat['id']}/violations", {"user_id": student.id, "rule": 1},
                                        token=head.token),
        "a reminder": lambda: api.post(f"/chats/{class_chat['id']}/reminders", token=head.token),
        "the reports": lambda: api.get(f"/chats/{class_chat['id']}/reports", token=head.token),
        "a removal": lambda: api.post(f"/messages/{message['id']}/removal", {"rule": 1}, token=head.token),
        "a lesson": lambda: api.post("/calls", lesson, token=head.token),
        "a meeting": lambda: api.post("/calls", meeting, token=director.token),
    }
    for name, attempt in attempts.items():
        refused(attempt(), org)
    assert api.get(f"/orgs/{org}/invites", params={"limit": 200}, token=school.admin.token).json == invites_before
    assert api.get(f"/chats/{class_chat['id']}", token=head.token).json["rules_version"] == class_chat["rules_version"]
    assert len(api.get("/chats", params={"limit": 200}, token=head.token).json["items"]) == 1
    assert api.get("/calls", params={"chat_id": class_chat["id"]}, token=head.token).json["items"] == []

    # The teacher asks, the admin confirms: everything works at once (the
    # confirmation reaches messaging and moderation as an event).
    school.verify(head)
    assert api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок", "rules": ["Вежливо"]},
                    token=head.token).status_code == 201
    assert api.post(f"/chats/{class_chat['id']}/invites", {}, token=head.token).status_code == 201
    assert api.post(f"/orgs/{org}/invites", {"role": "student", "unit_id": unit}, token=head.token).status_code == 201
    assert api.post(f"/chats/{class_chat['id']}/reminders", token=head.token).status_code == 202
    assert api.get(f"/chats/{class_chat['id']}/reports", token=head.token).status_code == 200
    assert api.post("/calls", lesson, token=head.token).status_code == 201


def test_an_unverified_director_appoints_no_chat_administrators(embedded, school):
    api, org = embedded.api, school.org_id
    director = school.invite_and_join("director", "новый директор", verified=False)
    teachers = invitation_to(api, school.teacher, lambda c: c["purpose"] == "teachers")["chat"]["id"]
    refused(api.post(f"/chats/{teachers}/moderators", {"user_id": school.teacher.id}, token=director.token), org)
    school.verify(director)
    assert api.post(f"/chats/{teachers}/moderators", {"user_id": school.teacher.id},
                    token=director.token).status_code == 201


def test_the_first_admin_is_confirmed_by_the_approval_of_the_application(embedded):
    """Signing in for the first time after the approval, the admin holds the
    badge and creates a chat at once, with no request of their own."""
    api = embedded.api
    school = School(embedded, api, "Школа подтверждённого администратора",
                    region_id=create_region(embedded, "Регион администратора"))
    assert api.get("/me", token=school.admin.token).json["teacher_verified"] is True
    chat = api.post("/chats", {"org_id": school.org_id, "kind": "channel", "title": "Новости", "rules": []},
                    token=school.admin.token)
    assert chat.status_code == 201, chat
    asked = api.post("/verifications", {"org_id": school.org_id}, token=school.admin.token)
    assert_error(asked, 409, "already_requested")
    members = {m["user_id"]: m for m in api.get(f"/orgs/{school.org_id}/members",
                                                token=school.admin.token).json["items"]}
    assert members[school.admin.id]["teacher_verified"] is True
    assert members[school.teacher.id]["teacher_verified"] is True


def test_an_admin_named_in_an_application_who_signs_in_later_is_confirmed_too(embedded):
    api = embedded.api
    region = create_region(embedded, "Регион позднего входа")
    applicant = Person(api, "секретарь")
    admin_phone = "+79005550101"
    made = api.post("/applications", {"region_id": region, "org": {"name": "Школа позднего входа", "kind": "school"},
                                      "admin": {"full_name": "Админ Поздний", "phone": admin_phone}},
                    token=applicant.token).json
    from support.school import operator
    assert api.post(f"/applications/{made['id']}/approve", token=operator(api).token).status_code == 200
    admin = Person(api, "Админ Поздний", admin_phone)
    org_id = wait_for(lambda: [o["org_id"] for o in api.get("/me/orgs", token=admin.token).json["items"]],
                      message="the admin's rights")[0]
    # Messaging learns the new admin from orgstructure's event, not from a
    # request of theirs, so a first try may still be told "no such organisation";
    # a refusal makes nothing. What must never come is verification_required.
    def created():
        answer = api.post("/chats", {"org_id": org_id, "kind": "group", "title": "Администрация", "rules": []},
                          token=admin.token)
        assert answer.status_code in (201, 404), answer
        return answer.status_code == 201
    wait_for(created, message="the admin's first chat")


@pytest.mark.parametrize("roles,verified,required", [
    ({"teacher"}, False, True), ({"teacher"}, True, False), ({"director"}, False, True),
    ({"deputy"}, False, True), ({"admin"}, False, True), ({"admin", "teacher"}, True, False),
    ({"student"}, False, False), ({"parent"}, False, False), (set(), False, False),
    ({"teacher", "parent"}, False, True),
])
def test_the_rule_of_who_must_be_verified(roles, verified, required):
    assert verification.required(roles, verified) is required


def test_the_refusal_names_the_confirmation_it_lacks():
    error = verification.refusal("org-1", "user-1", "create chats")
    assert (error.status, error.code) == (403, "verification_required")
    assert error.headers["X-Sferum-Lacking"] == "verified:org-1:user-1"
    assert error.details["org_id"] == "org-1" and "create chats" in error.message
