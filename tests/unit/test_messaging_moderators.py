"""What messaging does for moderation, through the gateway: chat administrators
appointed by a director or an admin (by consent: a member moderates at once,
anyone else is invited as moderator), and students' flagged messages held for
a moderator's review where the chat asks for it."""
import pytest
from support.chats import accept, created, invitation_to, invitations, join_official, send, texts
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for
from services.messaging.handlers import handlers


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def group_chat(api, creator, members, title="Кружок"):
    chat = created(api.post("/chats", {"org_id": creator_org(api, creator), "kind": "group", "title": title,
                                       "invite_user_ids": [p.id for p in members]}, token=creator.token))
    for person in members:
        accept(api, person, invitation_to(api, person, lambda c: c["id"] == chat["id"]))
    return chat["id"]


def creator_org(api, person):
    return api.get("/me/orgs", token=person.token).json["items"][0]["org_id"]


def roles_in(api, reader, chat_id):
    return {m["user_id"]: m["role"] for m in api.get(f"/chats/{chat_id}/members", token=reader.token).json["items"]}


def test_who_appoints_chat_administrators(embedded, school):
    api = embedded.api
    chat_id = group_chat(api, school.head, [school.teacher, school.student, school.parent])
    other = School(embedded, api, "Школа № 9", region_id=create_region(embedded, "Другой регион"))
    nobody = Person(api, "nobody")
    refused = {school.head: 403, school.teacher: 403, school.student: 403, school.parent: 403,
               nobody: 404, other.admin: 404, other.director: 404}
    for person, status in refused.items():
        assert_error(api.post(f"/chats/{chat_id}/moderators", {"user_id": school.teacher.id}, token=person.token),
                     status)
        assert_error(api.delete(f"/chats/{chat_id}/moderators/{school.teacher.id}", token=person.token), status)
    assert_error(api.post(f"/chats/{chat_id}/moderators", {"user_id": school.teacher.id}), 401)
    assert roles_in(api, school.head, chat_id)[school.teacher.id] == "member"
    # A member of the chat moderates at once, appointed by the director or an admin.
    appointed = created(api.post(f"/chats/{chat_id}/moderators", {"user_id": school.teacher.id},
                                 token=school.director.token))
    assert appointed == {"chat_id": chat_id, "user_id": school.teacher.id, "status": "moderator"}
    assert roles_in(api, school.head, chat_id)[school.teacher.id] == "moderator"
    assert api.get(f"/chats/{chat_id}", token=school.teacher.token).json["my_role"] == "moderator"
    # Someone not in the chat is invited as its moderator, and moderates once they join (2.3).
    invited = created(api.post(f"/chats/{chat_id}/moderators", {"user_id": school.director.id},
                               token=school.admin.token))
    assert invited["status"] == "invited" and school.director.id not in roles_in(api, school.head, chat_id)
    invitation = invitation_to(api, school.director, lambda c: c["id"] == chat_id)
    assert invitation["role"] == "moderator"
    assert accept(api, school.director, invitation)["my_role"] == "moderator"
    # The appointment ends: back to a member; the creator's own role is not the admin's to take.
    assert api.delete(f"/chats/{chat_id}/moderators/{school.teacher.id}", token=school.admin.token).status_code == 204
    assert roles_in(api, school.head, chat_id)[school.teacher.id] == "member"
    assert_error(api.delete(f"/chats/{chat_id}/moderators/{school.head.id}", token=school.admin.token), 404)
    assert roles_in(api, school.head, chat_id)[school.head.id] == "moderator"


def test_chat_administrators_are_teachers_of_the_school(embedded, school):
    api = embedded.api
    chat_id = group_chat(api, school.head, [school.student])
    other = School(embedded, api, "Школа № 9", region_id=create_region(embedded, "Другой регион"))
    for user_id in (school.student.id, school.parent.id, other.head.id, "nobody-at-all"):
        error = assert_error(api.post(f"/chats/{chat_id}/moderators", {"user_id": user_id},
                                      token=school.admin.token), 422)
        assert "user_id" in error["details"]["fields"]
    for body in ({}, {"user_id": ""}, {"user_id": "x" * 33}, {"user_id": 5}):
        assert_error(api.post(f"/chats/{chat_id}/moderators", body, token=school.admin.token), 422)
    direct = created(api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.admin.id},
                              token=school.teacher.token))
    assert_error(api.post(f"/chats/{direct['id']}/moderators", {"user_id": school.teacher.id},
                          token=school.admin.token), 422, "direct_chat")
    assert roles_in(api, school.head, chat_id) == {school.head.id: "moderator", school.student.id: "member"}
    assert [i for i in invitations(api, school.student) if i["chat"]["id"] == chat_id] == []


def test_an_appointment_to_an_official_chat_is_a_place_in_it_while_it_lasts(embedded, school):
    """A teacher appointed to 5А's parents' chat is invited to moderate it,
    and leaves it when the appointment ends or when they leave the school."""
    api = embedded.api
    parents = join_official(api, school.head, school.org_id, "class_parents", school.class_a)["id"]
    assert created(api.post(f"/chats/{parents}/moderators", {"user_id": school.teacher.id},
                            token=school.admin.token))["status"] == "invited"
    invitation = invitation_to(api, school.teacher, lambda c: c["id"] == parents)
    assert accept(api, school.teacher, invitation)["my_role"] == "moderator"
    assert api.delete(f"/chats/{parents}/moderators/{school.teacher.id}", token=school.admin.token).status_code == 204
    assert_error(api.get(f"/chats/{parents}", token=school.teacher.token), 404)
    created(api.post(f"/chats/{parents}/moderators", {"user_id": school.teacher.id}, token=school.admin.token))
    accept(api, school.teacher, invitation_to(api, school.teacher, lambda c: c["id"] == parents))
    assert api.post(f"/orgs/{school.org_id}/members/{school.teacher.id}/dismiss",
                    token=school.admin.token).status_code == 200
    wait_for(lambda: school.teacher.id not in roles_in(api, school.head, parents), message="the teacher gone")


def test_a_students_flagged_message_waits_for_review_where_the_chat_says_so(embedded, school):
    api = embedded.api
    chat_id = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    other_student = school.invite_and_join("student", "classmate", unit_id=school.class_a)
    join_official(api, other_student, school.org_id, "class_students", school.class_a)
    # Without the setting nothing is held back.
    assert send(api, school.student, chat_id, "лох")["held"] is False
    assert_error(api.patch(f"/chats/{chat_id}", {"hold_flagged": True}, token=school.student.token), 403)
    assert api.patch(f"/chats/{chat_id}", {"hold_flagged": True}, token=school.head.token).json["hold_flagged"]
    held = send(api, school.student, chat_id, "смотри vk.com/id1")
    fine = send(api, school.student, chat_id, "Добрый день")
    by_staff = send(api, school.head, chat_id, "Материалы: https://example.org/book")
    assert (held["held"], fine["held"], by_staff["held"]) == (True, False, False)
    seen = {"author": texts(api, school.student, chat_id), "moderator": texts(api, school.head, chat_id),
            "classmate": texts(api, other_student, chat_id)}
    assert "смотри vk.com/id1" in seen["author"] and "смотри vk.com/id1" in seen["moderator"]
    assert "смотри vk.com/id1" not in seen["classmate"] and "Добрый день" in seen["classmate"]
    assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "ответ", "reply_to": held["id"]},
                          token=other_student.token), 422)
    listed = next(c for c in api.get("/chats", token=other_student.token).json["items"] if c["id"] == chat_id)
    assert listed["last_message"]["id"] == by_staff["id"]
    # Moderation releases it: everyone sees it from now on.
    runtime = embedded.apps["messaging"].extensions["sferum"]
    with runtime.connection(), runtime.db.atomic():
        handlers.by_type["moderation.message.released"](runtime.service, {
            "type": "moderation.message.released", "data": {"message_id": held["id"], "chat_id": chat_id}})
    assert "смотри vk.com/id1" in texts(api, other_student, chat_id)
