"""Whoever left a school by expulsion or dismissal comes back only by an
admin's decision, through the gateway: the link they joined by (or any
other) now makes a join request, the admin approves or rejects it or
re-admits them explicitly, their personal invites die when they leave, and
the history of where they were stays."""
import io

import pytest
from support.chats import join_official
from support.school import Person, School

from devkit.helpers import assert_error, wait_for


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def join(api, token, person) -> dict:
    response = api.post(f"/invites/{token}/accept", token=person.token)
    assert response.status_code == 200, response
    return response.json


def pending_requests(api, school) -> list[dict]:
    return api.get(f"/orgs/{school.org_id}/join-requests", params={"status": "pending"},
                   token=school.admin.token).json["items"]


def history(platform, user_id: str) -> list[tuple]:
    from services.orgstructure.models import Placement

    runtime = platform.apps["orgstructure"].extensions["sferum"]
    with runtime.connection():
        return [(p.unit_id, p.role, p.end_reason) for p in
                Placement.select().where(Placement.user_id == user_id).order_by(Placement.started_at, Placement.id)]


def test_an_expelled_student_asks_again_and_the_admin_decides(embedded, school):
    api, org = embedded.api, school.org_id
    class_link = school.invite("student", unit_id=school.class_a)  # reusable, for the whole class
    student = Person(api, "student who leaves")
    assert join(api, class_link, student)["status"] == "joined"
    assert api.post(f"/orgs/{org}/members/{student.id}/expel", token=school.admin.token).status_code == 200

    assert join(api, class_link, student) == {"status": "pending", "org_id": org}
    assert join(api, class_link, student)["status"] == "pending"  # asking twice is one request
    assert school.roles(student) == set()
    assert_error(api.get(f"/orgs/{org}", token=student.token), 404)
    requests = [r for r in pending_requests(api, school) if r["user_id"] == student.id]
    assert [(r["role"], r["left_reason"]) for r in requests] == [("student", "expelled")]
    # Another classmate still joins by the same link at once.
    classmate = Person(api, "classmate")
    assert join(api, class_link, classmate)["status"] == "joined"

    approved = api.post(f"/orgs/{org}/join-requests/{requests[0]['id']}/approve", token=school.admin.token)
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    school.wait_roles(student, {"student"})
    assert history(embedded, student.id) == [(school.class_a, "student", "expelled"),
                                             (school.class_a, "student", None)]
    # Back in the class's chat, by the platform's invitation as at first.
    join_official(api, student, org, "class_students", school.class_a)


def test_a_dismissed_teacher_is_refused_then_readmitted(embedded, school):
    api, org, admin = embedded.api, school.org_id, school.admin
    staff_link = school.invite("teacher")
    teacher = Person(api, "teacher who leaves")
    join(api, staff_link, teacher)
    school.wait_roles(teacher, {"teacher"})
    assert api.post(f"/orgs/{org}/members/{teacher.id}/dismiss", token=admin.token).status_code == 200

    assert join(api, staff_link, teacher)["status"] == "pending"
    request = next(r for r in pending_requests(api, school) if r["user_id"] == teacher.id)
    assert request["left_reason"] == "dismissed"
    rejected = api.post(f"/orgs/{org}/join-requests/{request['id']}/reject", token=admin.token)
    assert rejected.json["status"] == "rejected"
    assert school.roles(teacher) == set()
    # A fresh link changes nothing either.
    assert join(api, school.invite("teacher"), teacher)["status"] == "pending"
    assert school.roles(teacher) == set()

    readmitted = api.post(f"/orgs/{org}/members/{teacher.id}/readmit", {"role": "teacher"}, token=admin.token)
    assert readmitted.status_code == 200, readmitted
    assert readmitted.json["roles"] == ["teacher"] and readmitted.json["user_id"] == teacher.id
    school.wait_roles(teacher, {"teacher"})
    # The request still open is decided by the re-admission.
    assert [r for r in pending_requests(api, school) if r["user_id"] == teacher.id] == []
    staff_room = next(u["id"] for u in api.get(f"/orgs/{org}/units", token=admin.token).json["items"]
                      if u["kind"] == "staff_room")
    assert history(embedded, teacher.id) == [(staff_room, "staff", "dismissed"), (staff_room, "staff", None)]
    assert_error(api.post(f"/orgs/{org}/members/{teacher.id}/readmit", {"role": "teacher"}, token=admin.token),
                 409, "already_member")


def test_a_student_is_readmitted_into_another_class(embedded, school):
    api, org, student = embedded.api, school.org_id, school.student
    assert api.post(f"/orgs/{org}/members/{student.id}/expel", token=school.admin.token).status_code == 200
    wait_for(lambda: api.get(f"/users/{school.admin.id}", token=student.token).status_code == 404,
             message="identity learning the student left")
    back = api.post(f"/orgs/{org}/members/{student.id}/readmit", {"role": "student", "unit_id": school.class_b},
                    token=school.admin.token)
    assert back.status_code == 200 and back.json["unit_id"] == school.class_b, back
    school.wait_roles(student, {"student"})
    assert history(embedded, student.id) == [(school.class_a, "student", "expelled"),
                                             (school.class_b, "student", None)]
    join_official(api, student, org, "class_students", school.class_b)


def test_parents_who_left_with_their_child_ask_too(embedded, school):
    api, org = embedded.api, school.org_id
    assert api.post(f"/orgs/{org}/members/{school.student.id}/expel", token=school.admin.token).json[
        "parent_ids"] == [school.parent.id]
    token = school.invite("parent", child_user_id=school.other_student.id)
    assert join(api, token, school.parent)["status"] == "pending"
    request = next(r for r in pending_requests(api, school) if r["user_id"] == school.parent.id)
    assert (request["role"], request["left_reason"]) == ("parent", "expelled")
    assert api.post(f"/orgs/{org}/join-requests/{request['id']}/approve", token=school.admin.token).status_code == 200
    mine = [o for o in api.get("/me/orgs", token=school.parent.token).json["items"] if o["org_id"] == org]
    assert [(o["roles"], o["children"]) for o in mine] == [(["parent"], [school.other_student.id])]


def test_personal_invites_die_with_the_leaving(embedded, school):
    api, org, admin = embedded.api, school.org_id, school.admin
    for_the_parent = school.invite("parent", child_user_id=school.student.id)
    content = "class,student,parent\n5А,Пётр Петров,Мария Петрова\n".encode()
    job = api.post(f"/orgs/{org}/roster-imports", token=admin.token,
                   data={"file": (io.BytesIO(content), "roster.csv")}, content_type="multipart/form-data").json
    done = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(
        api.get(f"/orgs/{org}/roster-imports/{job['id']}", token=admin.token).json), message="the roster import")
    row = done["result"]["rows"][0]
    roster_student = Person(api, "Пётр Петров")
    join(api, row["student_invite_token"], roster_student)
    class_link = school.invite("student", unit_id=school.class_a)
    for token in (for_the_parent, row["parent_invite_token"], class_link):
        assert api.get(f"/invites/{token}").status_code == 200

    for student in (school.student, roster_student):
        assert api.post(f"/orgs/{org}/members/{student.id}/expel", token=admin.token).status_code == 200
    for token in (for_the_parent, row["parent_invite_token"]):
        assert_error(api.get(f"/invites/{token}"), 410)
        assert_error(api.post(f"/invites/{token}/accept", token=Person(api, "someone").token), 410)
    listed = {i["id"]: i for i in api.get(f"/orgs/{org}/invites", params={"limit": 200}, token=admin.token).json["items"]}
    assert sum(invite["revoked"] for invite in listed.values()) >= 3  # the roster student's own one as well
    # The class's link is everyone's: it stays.
    assert api.get(f"/invites/{class_link}").status_code == 200


BAD_READMISSIONS = [
    ({}, 422),
    ({"role": "admin"}, 422),
    ({"role": "king"}, 422),
    ({"role": "student"}, 422),
    ({"role": "student", "unit_id": "no-such-unit"}, 404),
    ({"role": "parent"}, 422),
    ({"role": "parent", "child_user_id": "not-a-student"}, 422),
    ({"role": "teacher", "unit_id": "CLASS"}, 422),
    ({"role": "student", "unit_id": "OTHER_SCHOOLS_CLASS"}, 404),
]


def test_bad_readmissions_change_nothing(embedded, school):
    api, org, admin = embedded.api, school.org_id, school.admin
    other = School(embedded, api, "Другая школа")
    expelled = school.other_student
    assert api.post(f"/orgs/{org}/members/{expelled.id}/expel", token=admin.token).status_code == 200
    before = api.get(f"/orgs/{org}/members", params={"limit": 200}, token=admin.token).json
    for body, status in BAD_READMISSIONS:
        body = {key: {"CLASS": school.class_a, "OTHER_SCHOOLS_CLASS": other.class_a}.get(value, value)
                for key, value in body.items()}
        assert_error(api.post(f"/orgs/{org}/members/{expelled.id}/readmit", body, token=admin.token), status)
    # Not someone who left: never here, or here now, or another school's former member.
    assert_error(api.post(f"/orgs/{org}/members/{other.admin.id}/readmit", {"role": "teacher"},
                          token=admin.token), 404)
    assert_error(api.post(f"/orgs/{org}/members/{school.teacher.id}/readmit", {"role": "teacher"},
                          token=admin.token), 409, "already_member")
    assert api.post(f"/orgs/{other.org_id}/members/{other.student.id}/expel",
                    token=other.admin.token).status_code == 200
    assert_error(api.post(f"/orgs/{org}/members/{other.student.id}/readmit",
                          {"role": "student", "unit_id": school.class_b}, token=admin.token), 404)
    assert api.get(f"/orgs/{org}/members", params={"limit": 200}, token=admin.token).json == before
    assert school.roles(expelled) == set() and other.roles(other.student) == set()
