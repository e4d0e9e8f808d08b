"""A subject teacher's chat with a class in one step (issue 16, point 10):
a chat made for a class invites its students, their parents or both (never
adds them: consent, rule 2.3), and those who come to the class later; a chat
link can be limited to one class; the class head has an official chat with
the class's subject teachers that follows orgstructure's teaching
assignments (`orgstructure.unit.teacher.assigned / unassigned`, published
here as orgstructure publishes them)."""
from __future__ import annotations

import pytest
from support.chats import accept, created, invitation_to, invitations, join_official
from support.events import publish
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for


@pytest.fixture(scope="module")
def world(embedded_module):
    platform = embedded_module
    region = create_region(platform, "Регион классов")
    a = School(platform, platform.api, "Школа № 12", region_id=region)
    b = School(platform, platform.api, "Школа № 14", region_id=region)
    a.platform, a.other = platform, b
    for person in (a.teacher, a.head, a.admin):  # messaging knows the school once they hold its invitations
        join_official(platform.api, person, a.org_id, "school")
    return a


def assign(school, teacher, unit_id, subject="Математика"):
    publish(school.platform, "orgstructure.unit.teacher.assigned",
            {"org_id": school.org_id, "unit_id": unit_id, "user_id": teacher.id, "subject": subject},
            org_id=school.org_id)


def unassign(school, teacher, unit_id):
    publish(school.platform, "orgstructure.unit.teacher.unassigned",
            {"org_id": school.org_id, "unit_id": unit_id, "user_id": teacher.id}, org_id=school.org_id)


def teachers_chat(school, person):
    return invitation_to(school.api, person, lambda chat: chat["purpose"] == "class_teachers"
                         and chat["unit_id"] == school.class_a)


def invited_to(api, person, chat_id) -> bool:
    return any(inv["chat"]["id"] == chat_id for inv in invitations(api, person))


def my_chat_ids(api, person) -> set[str]:
    return {chat["id"] for chat in api.get("/chats", params={"limit": 200}, token=person.token).json["items"]}


def test_the_class_head_and_the_class_teachers_have_their_official_chat(world):
    api, school = world.api, world
    # The class head moderates it from the start.
    head_side = accept(api, school.head, teachers_chat(school, school.head))
    assert head_side["my_role"] == "moderator" and head_side["official"] and head_side["title"] == "5А: учителя класса"
    assert not invited_to(api, school.teacher, head_side["id"])
    assign(school, school.teacher, school.class_a)
    joined = accept(api, school.teacher, teachers_chat(school, school.teacher))
    assert joined["id"] == head_side["id"] and joined["my_role"] == "member"
    # Not teaching the class any more: out of its teachers' chat.
    unassign(school, school.teacher, school.class_a)
    wait_for(lambda: head_side["id"] not in my_chat_ids(api, school.teacher), message="the teacher leaving the chat")
    assert api.get(f"/chats/{head_side['id']}", token=school.head.token).json["member_count"] == 1
    # Students and parents never belong there.
    for person in (school.student, school.parent):
        assert not invited_to(api, person, head_side["id"])


def test_a_dismissed_teacher_leaves_the_class_teachers_chat(world):
    api, school = world.api, world
    teacher = school.invite_and_join("teacher", "физик")
    assign(school, teacher, school.class_a, "Физика")
    chat = accept(api, teacher, teachers_chat(school, teacher))
    assert api.post(f"/orgs/{school.org_id}/members/{teacher.id}/dismiss", token=school.admin.token).status_code == 200
    wait_for(lambda: chat["id"] not in my_chat_ids(api, teacher), message="the dismissed teacher leaving")
    # A later assignment of someone who left the school invites nobody.
    assign(school, teacher, school.class_a, "Физика")
    assert chat["id"] not in my_chat_ids(api, teacher) and not invited_to(api, teacher, chat["id"])


@pytest.mark.parametrize("audience,students,parents", [("students", True, False), ("parents", False, True),
                                                        ("both", True, True)])
def test_a_subject_teachers_chat_with_a_class_in_one_step(world, audience, students, parents):
    api, school = world.api, world
    assign(school, school.teacher, school.class_a, "История")
    chat = wait_for(lambda: (lambda r: r.json if r.status_code == 201 else None)(api.post("/chats", {
        "org_id": school.org_id, "kind": "group", "title": f"История, 5А ({audience})", "unit_id": school.class_a,
        "audience": audience}, token=school.teacher.token)), message="the teacher's assignment reaching messaging")
    assert chat["member_count"] == 1 and chat["unit_id"] == school.class_a and chat["audience"] == audience
    assert invited_to(api, school.student, chat["id"]) == students
    assert invited_to(api, school.parent, chat["id"]) == parents
    assert not invited_to(api, school.other_student, chat["id"])  # of 5Б
    assert not invited_to(api, school.head, chat["id"]) and not invited_to(api, school.director, chat["id"])


def test_those_who_come_to_the_class_later_are_invited_once(world):
    api, school = world.api, world
    chat = created(api.post("/chats", {"org_id": school.org_id, "kind": "channel", "title": "Новости 5А",
                                       "unit_id": school.class_a, "audience": "both"}, token=school.head.token))
    newcomer = school.invite_and_join("student", "новенький", unit_id=school.class_a)
    invitation_to(api, newcomer, lambda preview: preview["id"] == chat["id"])
    mother = school.invite_and_join("parent", "мама новенького", child_user_id=newcomer.id)
    invitation_to(api, mother, lambda preview: preview["id"] == chat["id"])
    # A student moved from 5Б is invited; one who declined is not asked again.
    declined = next(inv for inv in invitations(api, newcomer) if inv["chat"]["id"] == chat["id"])
    assert api.post(f"/chat-invitations/{declined['id']}/decline", token=newcomer.token).status_code == 204
    assert api.post(f"/orgs/{school.org_id}/members/{school.other_student.id}/transfer", {"unit_id": school.class_a},
                    token=school.admin.token).status_code == 200
    invitation_to(api, school.other_student, lambda preview: preview["id"] == chat["id"])
    assert not invited_to(api, newcomer, chat["id"])
    assert api.post(f"/orgs/{school.org_id}/members/{school.other_student.id}/transfer", {"unit_id": school.class_b},
                    token=school.admin.token).status_code == 200
    wait_for(lambda: not invited_to(api, school.other_student, chat["id"]), message="the invitation withdrawn")


def chats_of(school) -> dict:
    return {label: my_chat_ids(school.api, person) for label, person in school.everyone.items()} | {
        "invited": sorted(inv["chat"]["id"] for inv in invitations(school.api, school.student))}


BAD_CLASS_CHATS = [
    ("a teacher of another class", "stranger", lambda s: {}, 403, "not_teaching_this_class"),
    ("another school's class", "director", lambda s: {"unit_id": s.other.class_a}, 422, None),
    ("no such class", "director", lambda s: {"unit_id": "no-such-class"}, 422, None),
    ("an audience without a class", "director", lambda s: {"unit_id": None}, 422, None),
    ("an unknown audience", "director", lambda s: {"audience": "everyone"}, 422, None),
    ("a direct chat", "director", lambda s: {"kind": "direct", "user_id": s.student.id}, 422, None),
    ("a student", "student", lambda s: {}, 403, None),
    ("a parent", "parent", lambda s: {"audience": "parents"}, 403, None),
    ("another school's admin", "outsider", lambda s: {}, 404, None),
]


@pytest.mark.parametrize("name,who,change,status,code", BAD_CLASS_CHATS, ids=[case[0] for case in BAD_CLASS_CHATS])
def test_who_may_address_a_class_and_bad_input_change_nothing(world, name, who, change, status, code):
    api, school = world.api, world
    person = {"director": school.director, "student": school.student, "parent": school.parent,
              "outsider": school.other.admin}.get(who) or school.invite_and_join("teacher", "учитель другого класса")
    request = {"org_id": school.org_id, "kind": "group", "title": "Для класса", "unit_id": school.class_a,
               "audience": "students", **change(school)}
    before = chats_of(school)
    assert_error(api.post("/chats", request, token=person.token), status, code)
    assert chats_of(school) == before


def test_a_chat_link_limited_to_one_class(world):
    api, school = world.api, world
    chat = created(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок 5А"},
                            token=school.head.token))
    link = created(api.post(f"/chats/{chat['id']}/invites", {"unit_id": school.class_a}, token=school.head.token))
    assert link["unit_id"] == school.class_a
    for person in (school.other_student, school.director):  # of 5Б; staff not teaching 5А
        assert_error(api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1},
                              token=person.token), 403, "not_in_this_class")
    assert_error(api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1},
                          token=school.other.student.token), 404, "not_found")
    assert api.get(f"/chats/{chat['id']}", token=school.head.token).json["member_count"] == 1
    for person in (school.student, school.parent):
        assert created(api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1},
                                token=person.token), 200)["id"] == chat["id"]
    both = created(api.post(f"/chats/{chat['id']}/invites", {"unit_id": school.class_b, "roles": ["parent"]},
                            token=school.head.token))
    assert_error(api.post(f"/chat-invites/{both['token']}/accept", {"accepted_rules_version": 1},
                          token=school.other_student.token), 403, "role_not_invited")


@pytest.mark.parametrize("unit", ["another school's class", "no such class", ""])
def test_a_link_for_a_class_that_is_not_the_schools_is_refused(world, unit):
    api, school = world.api, world
    chat = created(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Ссылки"},
                            token=school.head.token))
    unit_id = {"another school's class": school.other.class_a, "no such class": "no-such-class"}.get(unit, unit)
    assert_error(api.post(f"/chats/{chat['id']}/invites", {"unit_id": unit_id}, token=school.head.token), 422)
    # No link was made: a new one is the only one its moderator can revoke.
    made = created(api.post(f"/chats/{chat['id']}/invites", {}, token=school.head.token))
    assert api.delete(f"/chats/{chat['id']}/invites/{made['id']}", token=school.head.token).status_code == 204


def test_classes_made_before_their_teachers_chat_existed_get_it(world):
    from services.messaging import official
    from services.messaging.models import Chat

    runtime = world.platform.apps["messaging"].extensions["sferum"]
    unit = world.unit("6В")
    with runtime.connection():
        wait_for(lambda: Chat.select().where(Chat.unit_id == unit, Chat.purpose == "class_teachers").exists(),
                 message="the class's chats")
        Chat.delete().where(Chat.unit_id == unit, Chat.purpose == "class_teachers").execute()
        assert official.ensure_every_class_has_its_chats(runtime.service) == 1
        assert Chat.select().where(Chat.unit_id == unit, Chat.purpose == "class_teachers").count() == 1
        assert official.ensure_every_class_has_its_chats(runtime.service) == 0


def test_rules_of_who_addresses_a_class_and_who_belongs_to_one():
    from services.messaging.directory import may_address_class, of_unit

    assert may_address_class({"admin", "teacher"}, False, False) and may_address_class({"deputy"}, False, False)
    assert may_address_class({"teacher"}, True, False) and may_address_class({"teacher"}, False, True)
    assert not may_address_class({"teacher"}, False, False)
    assert not may_address_class({"student"}, True, True) and not may_address_class({"parent"}, False, True)
    assert of_unit({"student"}, "5a", "5a", set(), False, False)
    assert not of_unit({"student"}, "5a", "5b", {"5a"}, False, False)
    assert of_unit({"parent"}, "5a", None, {"5b", "5a"}, False, False)
    assert of_unit({"teacher"}, "5a", None, set(), False, True) and of_unit({"teacher"}, "5a", None, set(), True, False)
    assert not of_unit({"director", "teacher"}, "5a", None, set(), False, False)
    assert not of_unit({"parent"}, "5a", None, set(), True, True)


def test_a_person_of_no_school_cannot_address_a_class(world):
    api, school = world.api, world
    nobody = Person(api, "никто")
    assert_error(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "x",
                                     "unit_id": school.class_a, "audience": "students"}, token=nobody.token), 404)
    assert_error(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "x",
                                     "unit_id": school.class_a, "audience": "students"}), 401)
