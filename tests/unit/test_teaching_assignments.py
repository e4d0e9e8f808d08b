"""Teaching assignments (seed 001 §6.1, 000 §2.3–2.4): an admin attaches the
subject teachers to classes and groups; members lists show them; the class
head's official chat with the class's teachers follows them; a dismissed
teacher, or one who teaches no more, loses them. Bad input changes nothing."""
import pytest
from support.chats import accept, invitation_to, invitations

from devkit.helpers import assert_error, wait_for


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def teachers_of(api, school, unit_id, token=None):
    answer = api.get(f"/orgs/{school.org_id}/units/{unit_id}/teachers", token=token or school.admin.token)
    assert answer.status_code == 200, answer
    return answer.json["items"]


def assign(api, school, unit_id, person, subject="Математика"):
    return api.post(f"/orgs/{school.org_id}/units/{unit_id}/teachers", {"user_id": person.id, "subject": subject},
                    token=school.admin.token)


def teachers_chat(api, school, person, unit_id):
    return invitation_to(api, person, lambda chat: chat["purpose"] == "class_teachers" and chat["unit_id"] == unit_id)


def in_chat(api, person, chat_id) -> bool:
    return any(chat["id"] == chat_id for chat in api.get("/chats", params={"limit": 200}, token=person.token).json["items"])


def test_an_assigned_teacher_is_listed_shown_and_invited_to_the_class_teachers_chat(embedded, school):
    api, org = embedded.api, school.org_id
    assigned = assign(api, school, school.class_a, school.teacher)
    assert assigned.status_code == 201, assigned
    assert (assigned.json["user_id"], assigned.json["subject"]) == (school.teacher.id, "Математика")
    # Every member of the school sees who teaches the class.
    for person in school.everyone.values():
        [row] = teachers_of(api, school, school.class_a, person.token)
        assert (row["user_id"], row["display_name"], row["subject"]) == (school.teacher.id, "teacher", "Математика")
    # A second assignment of the same teacher changes the subject only.
    again = assign(api, school, school.class_a, school.teacher, "Алгебра")
    assert again.status_code == 200 and again.json["subject"] == "Алгебра"
    assert len(teachers_of(api, school, school.class_a)) == 1
    # Members lists show what a teacher teaches, and the class's people include its teachers.
    members = {m["user_id"]: m for m in api.get(f"/orgs/{org}/members", token=school.admin.token).json["items"]}
    assert members[school.teacher.id]["teaching"] == [{"unit_id": school.class_a, "subject": "Алгебра"}]
    assert members[school.head.id]["teaching"] == []
    of_class = api.get(f"/orgs/{org}/members", params={"unit_id": school.class_a}, token=school.admin.token).json
    assert school.teacher.id in {m["user_id"] for m in of_class["items"]}

    # The class head's chat with the class's teachers: the head moderates it, the teacher is invited.
    head_invitation = teachers_chat(api, school, school.head, school.class_a)
    assert head_invitation["role"] == "moderator" and head_invitation["chat"]["title"] == "5А: учителя класса"
    chat = accept(api, school.head, head_invitation)
    teacher_invitation = teachers_chat(api, school, school.teacher, school.class_a)
    assert teacher_invitation["role"] == "member"
    accept(api, school.teacher, teacher_invitation)
    assert in_chat(api, school.teacher, chat["id"])
    # Students and parents have nothing to do with it.
    for person in (school.student, school.parent):
        assert not any(inv["chat"]["purpose"] == "class_teachers" for inv in invitations(api, person))

    # Taken back: the teacher leaves the class's teachers' chat.
    removed = api.delete(f"/orgs/{org}/units/{school.class_a}/teachers/{school.teacher.id}", token=school.admin.token)
    assert removed.status_code == 204
    assert teachers_of(api, school, school.class_a) == []
    wait_for(lambda: not in_chat(api, school.teacher, chat["id"]), message="the teacher out of the class's chat")
    assert in_chat(api, school.head, chat["id"])
    assert_error(api.delete(f"/orgs/{org}/units/{school.class_a}/teachers/{school.teacher.id}",
                            token=school.admin.token), 404)


def test_a_dismissed_teacher_loses_their_classes(embedded, school):
    api, org = embedded.api, school.org_id
    teacher = school.invite_and_join("teacher", "учитель на уход")
    assert assign(api, school, school.class_a, teacher, "Физика").status_code == 201
    assert assign(api, school, school.class_b, teacher, "Физика").status_code == 201
    chat = accept(api, teacher, teachers_chat(api, school, teacher, school.class_b))
    assert api.post(f"/orgs/{org}/members/{teacher.id}/dismiss", token=school.admin.token).status_code == 200
    for unit_id in (school.class_a, school.class_b):
        assert teacher.id not in {row["user_id"] for row in teachers_of(api, school, unit_id)}
    wait_for(lambda: not in_chat(api, teacher, chat["id"]), message="the dismissed teacher out of the chat")


def test_a_teacher_who_teaches_no_more_loses_their_classes(embedded, school):
    """A director who taught literature becomes an admin and stops being the
    director: nothing is left to teach with."""
    api, org = embedded.api, school.org_id
    assert assign(api, school, school.class_b, school.director, "Литература").status_code == 201
    assert api.post(f"/orgs/{org}/members/{school.director.id}/roles", {"role": "admin"},
                    token=school.admin.token).status_code == 200
    assert teachers_of(api, school, school.class_b) != []
    revoked = api.delete(f"/orgs/{org}/members/{school.director.id}/roles/director", token=school.admin.token)
    assert revoked.status_code == 200 and revoked.json["roles"] == ["admin"]
    assert teachers_of(api, school, school.class_b) == []


@pytest.mark.parametrize("body,status,code", [
    ({}, 422, None),
    ({"user_id": ""}, 422, None),
    ({"user_id": "x" * 33}, 422, None),
    ({"user_id": "STUDENT"}, 422, "not_a_teacher"),
    ({"user_id": "PARENT"}, 422, "not_a_teacher"),
    ({"user_id": "nobody-here"}, 422, "not_a_teacher"),
    ({"user_id": "TEACHER", "subject": "x" * 101}, 422, None),
    ({"user_id": "TEACHER", "subject": "Мате\u202eматика"}, 422, None),
    ({"user_id": "TEACHER", "subject": 7}, 422, None),
])
def test_bad_input_assigns_nobody(embedded, school, body, status, code):
    api = embedded.api
    people = {"STUDENT": school.student.id, "PARENT": school.parent.id, "TEACHER": school.teacher.id}
    body = {key: people.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    response = api.post(f"/orgs/{school.org_id}/units/{school.class_a}/teachers", body, token=school.admin.token)
    assert_error(response, status, code)
    assert teachers_of(api, school, school.class_a) == []


def test_the_staff_room_an_archived_class_and_unknown_units_have_no_subject_teachers(embedded, school):
    api, org = embedded.api, school.org_id
    units = api.get(f"/orgs/{org}/units", token=school.admin.token).json["items"]
    staff_room = next(unit["id"] for unit in units if unit["kind"] == "staff_room")
    assert_error(assign(api, school, staff_room, school.teacher), 409, "unit_not_editable")
    empty = api.post(f"/orgs/{org}/units", {"name": "9Я", "grade": 9}, token=school.admin.token).json["id"]
    assert api.post(f"/orgs/{org}/units/{empty}/archive", token=school.admin.token).status_code == 200
    assert_error(assign(api, school, empty, school.teacher), 409, "unit_not_editable")
    assert_error(assign(api, school, "no-such-unit", school.teacher), 404)
    assert_error(api.get(f"/orgs/{org}/units/no-such-unit/teachers", token=school.admin.token), 404)
    assert teachers_of(api, school, empty) == []


def test_archiving_a_class_ends_its_teaching(embedded, school):
    api, org = embedded.api, school.org_id
    unit = api.post(f"/orgs/{org}/units", {"name": "9Ю", "grade": 9}, token=school.admin.token).json["id"]
    assert assign(api, school, unit, school.teacher).status_code == 201
    assert api.post(f"/orgs/{org}/units/{unit}/archive", token=school.admin.token).status_code == 200
    assert teachers_of(api, school, unit) == []
    members = {m["user_id"]: m for m in api.get(f"/orgs/{org}/members", token=school.admin.token).json["items"]}
    assert members[school.teacher.id]["teaching"] == []
