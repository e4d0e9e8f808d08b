"""Every orgstructure endpoint (and identity's verification endpoints) for every
role: admin, director, class head, teacher, student, parent, and the admin of
another school, who must find nothing (404) and change nothing."""
import io
import uuid

import pytest
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for

MEMBERS = ("admin", "director", "class_head", "teacher", "student", "parent")
ROLES = MEMBERS + ("outsider",)


@pytest.fixture(scope="module")
def world(embedded_module):
    api = embedded_module.api
    region = create_region(embedded_module, "Регион прав")
    school = School(embedded_module, api, "Школа прав", region_id=region)
    other = School(embedded_module, api, "Чужая школа", region_id=region)
    people = dict(school.everyone, outsider=other.admin)
    return api, school, people


def roster_file():
    return {"file": (io.BytesIO("class,student\n7В,Пётр Петров\n".encode()), "roster.csv")}


def fresh_student(api, school):
    return school.invite_and_join("student", "fresh student", unit_id=school.class_b)


def fresh_teacher(api, school, verified=True):
    return school.invite_and_join("teacher", "fresh teacher", verified=verified)


def expelled_student(api, school):
    student = fresh_student(api, school)
    assert api.post(f"/orgs/{school.org_id}/members/{student.id}/expel", token=school.admin.token).status_code == 200
    return student


def pending_request(api, school):
    token = school.invite("teacher", requires_approval=True)
    person = Person(api, "applicant")
    api.post(f"/invites/{token}/accept", token=person.token)
    items = api.get(f"/orgs/{school.org_id}/join-requests", params={"status": "pending"},
                    token=school.admin.token).json["items"]
    return [r["id"] for r in items if r["user_id"] == person.id][0]


def pending_verification(api, school):
    teacher = fresh_teacher(api, school, verified=False)
    return api.post("/verifications", {"org_id": school.org_id}, token=teacher.token).json["id"]


def empty_unit(api, school):
    return school.unit(f"архив-{uuid.uuid4().hex[:6]}")


def an_invite(api, school):
    return api.post(f"/orgs/{school.org_id}/invites", {"role": "teacher"}, token=school.admin.token).json["id"]


def a_roster_import(api, school):
    """An import, finished: its background job creates invites, and a snapshot
    taken while it runs would see the school change under it."""
    import_id = api.post(f"/orgs/{school.org_id}/roster-imports", token=school.admin.token,
                         data=roster_file(), content_type="multipart/form-data").json["id"]
    wait_for(lambda: api.get(f"/orgs/{school.org_id}/roster-imports/{import_id}",
                             token=school.admin.token).json["status"] in ("done", "failed"),
             message="the roster import finished")
    return import_id


# (name, allowed roles and their status, a function building (method, path, kwargs) for a school)
CASES = [
    ("get org", {r: 200 for r in MEMBERS}, lambda api, s: ("GET", f"/orgs/{s.org_id}", {})),
    ("patch org", {"admin": 200}, lambda api, s: ("PATCH", f"/orgs/{s.org_id}", {"json": {"address": "ул. Ленина, 1"}})),
    ("list units", {r: 200 for r in MEMBERS}, lambda api, s: ("GET", f"/orgs/{s.org_id}/units", {})),
    ("create unit", {"admin": 201},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/units", {"json": {"name": f"9-{uuid.uuid4().hex[:6]}"}})),
    ("update unit", {"admin": 200},
     lambda api, s: ("PATCH", f"/orgs/{s.org_id}/units/{s.class_b}", {"json": {"grade": 6}})),
    ("archive unit", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/units/{empty_unit(api, s)}/archive", {})),
    ("assign head", {"admin": 200},
     lambda api, s: ("PUT", f"/orgs/{s.org_id}/units/{s.class_b}/head", {"json": {"user_id": s.teacher.id}})),
    ("list members", {r: 200 for r in MEMBERS}, lambda api, s: ("GET", f"/orgs/{s.org_id}/members", {})),
    ("appoint admin", {"admin": 204},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/admins", {"json": {"user_id": fresh_teacher(api, s).id}})),
    ("invite a student", {"admin": 201, "class_head": 201},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/invites", {"json": {"role": "student", "unit_id": s.class_a}})),
    ("invite a teacher", {"admin": 201},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/invites", {"json": {"role": "teacher"}})),
    ("list invites", {"admin": 200}, lambda api, s: ("GET", f"/orgs/{s.org_id}/invites", {})),
    ("revoke invite", {"admin": 200},
     lambda api, s: ("DELETE", f"/orgs/{s.org_id}/invites/{an_invite(api, s)}", {})),
    ("revoke unused", {"admin": 200}, lambda api, s: ("POST", f"/orgs/{s.org_id}/invites/revoke-unused", {})),
    ("list join requests", {"admin": 200}, lambda api, s: ("GET", f"/orgs/{s.org_id}/join-requests", {})),
    ("approve join request", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/join-requests/{pending_request(api, s)}/approve", {})),
    ("reject join request", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/join-requests/{pending_request(api, s)}/reject", {})),
    ("transfer", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/members/{fresh_student(api, s).id}/transfer",
                     {"json": {"unit_id": s.class_a}})),
    ("expel", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/members/{fresh_student(api, s).id}/expel", {})),
    ("dismiss", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/members/{fresh_teacher(api, s).id}/dismiss", {})),
    ("readmit", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/members/{expelled_student(api, s).id}/readmit",
                     {"json": {"role": "student", "unit_id": s.class_b}})),
    ("stats", {"admin": 200, "director": 200}, lambda api, s: ("GET", f"/orgs/{s.org_id}/stats", {})),
    ("upload roster", {"admin": 202},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/roster-imports",
                     {"data": roster_file(), "content_type": "multipart/form-data"})),
    ("roster status", {"admin": 200},
     lambda api, s: ("GET", f"/orgs/{s.org_id}/roster-imports/{a_roster_import(api, s)}", {})),
    ("list verifications", {"admin": 200}, lambda api, s: ("GET", f"/orgs/{s.org_id}/verifications", {})),
    ("approve verification", {"admin": 200},
     lambda api, s: ("POST", f"/verifications/{pending_verification(api, s)}/approve", {})),
    ("reject verification", {"admin": 200},
     lambda api, s: ("POST", f"/verifications/{pending_verification(api, s)}/reject", {})),
    # The school's staff are confirmed already: they are told so.
    ("ask for verification", {"admin": 409, "director": 409, "class_head": 409, "teacher": 409},
     lambda api, s: ("POST", "/verifications", {"json": {"org_id": s.org_id}})),
]


@pytest.mark.parametrize("name,allowed,build", CASES, ids=[case[0] for case in CASES])
def test_role_by_endpoint(world, name, allowed, build):
    api, school, people = world
    method, path, kwargs = build(api, school)
    assert_error(api.request(method, path, **kwargs), 401)
    # Those who are refused go first: what the allowed do may change the state.
    for role in sorted(ROLES, key=lambda r: r in allowed):
        method, path, kwargs = build(api, school)
        response = api.request(method, path, token=people[role].token, **kwargs)
        if role in allowed:
            assert response.status_code == allowed[role], (role, response)
        else:
            expected = 404 if role == "outsider" else 403
            assert_error(response, expected)


OPERATOR_ONLY = [
    ("list applications", lambda api, s, app_id: ("GET", "/applications", {})),
    ("approve application", lambda api, s, app_id: ("POST", f"/applications/{app_id}/approve", {})),
    ("reject application", lambda api, s, app_id: ("POST", f"/applications/{app_id}/reject",
                                                   {"json": {"reason": "нет"}})),
]


@pytest.mark.parametrize("name,build", OPERATOR_ONLY, ids=[case[0] for case in OPERATOR_ONLY])
def test_operator_only_endpoints(world, name, build):
    api, school, people = world
    application = api.post("/applications", {
        "region_id": create_region_id(world), "org": {"name": "Новая школа", "kind": "school"},
        "admin": {"full_name": "Кто-то", "phone": "+79001112233"}}, token=people["teacher"].token).json["id"]
    for role in ROLES:
        method, path, kwargs = build(api, school, application)
        assert_error(api.request(method, path, token=people[role].token, **kwargs), 403)
    method, path, kwargs = build(api, school, application)
    assert api.request(method, path, token=school.operator.token, **kwargs).status_code == 200


def create_region_id(world):
    api, _school, _people = world
    return [r for r in api.get("/regions").json["items"] if r["name"] == "Регион прав"][0]["id"]


def snapshot(api, school):
    token = school.admin.token
    return {
        "org": api.get(f"/orgs/{school.org_id}", token=token).json,
        "units": api.get(f"/orgs/{school.org_id}/units", params={"archived": "true", "limit": 200}, token=token).json,
        "members": api.get(f"/orgs/{school.org_id}/members", params={"limit": 200}, token=token).json,
        "invites": api.get(f"/orgs/{school.org_id}/invites", params={"limit": 200}, token=token).json,
        "requests": api.get(f"/orgs/{school.org_id}/join-requests", params={"limit": 200}, token=token).json,
        "verifications": api.get(f"/orgs/{school.org_id}/verifications", params={"limit": 200}, token=token).json,
    }


def test_another_schools_admin_changes_nothing(world):
    """The outsider calls every endpoint with the first school's ids: 404 each
    time, and the school is exactly as it was."""
    api, school, people = world
    outsider = people["outsider"]
    invite_id = an_invite(api, school)
    request_id = pending_request(api, school)
    verification_id = pending_verification(api, school)
    roster_id = a_roster_import(api, school)
    former = expelled_student(api, school)
    before = snapshot(api, school)
    org, a, b = school.org_id, school.class_a, school.class_b
    calls = [
        ("GET", f"/orgs/{org}", {}), ("PATCH", f"/orgs/{org}", {"json": {"name": "захвачено"}}),
        ("GET", f"/orgs/{org}/units", {}), ("POST", f"/orgs/{org}/units", {"json": {"name": "X"}}),
        ("PATCH", f"/orgs/{org}/units/{a}", {"json": {"name": "X"}}),
        ("POST", f"/orgs/{org}/units/{a}/archive", {}),
        ("PUT", f"/orgs/{org}/units/{a}/head", {"json": {"user_id": outsider.id}}),
        ("GET", f"/orgs/{org}/members", {}), ("POST", f"/orgs/{org}/admins", {"json": {"user_id": outsider.id}}),
        ("POST", f"/orgs/{org}/invites", {"json": {"role": "teacher"}}),
        ("POST", f"/orgs/{org}/invites", {"json": {"role": "student", "unit_id": a}}),
        ("GET", f"/orgs/{org}/invites", {}), ("DELETE", f"/orgs/{org}/invites/{invite_id}", {}),
        ("POST", f"/orgs/{org}/invites/revoke-unused", {}),
        ("GET", f"/orgs/{org}/join-requests", {}),
        ("POST", f"/orgs/{org}/join-requests/{request_id}/approve", {}),
        ("POST", f"/orgs/{org}/join-requests/{request_id}/reject", {}),
        ("POST", f"/orgs/{org}/members/{school.student.id}/transfer", {"json": {"unit_id": b}}),
        ("POST", f"/orgs/{org}/members/{school.student.id}/expel", {}),
        ("POST", f"/orgs/{org}/members/{school.teacher.id}/dismiss", {}),
        ("POST", f"/orgs/{org}/members/{former.id}/readmit", {"json": {"role": "student", "unit_id": b}}),
        ("GET", f"/orgs/{org}/stats", {}),
        ("POST", f"/orgs/{org}/roster-imports", {"data": roster_file(), "content_type": "multipart/form-data"}),
        ("GET", f"/orgs/{org}/roster-imports/{roster_id}", {}),
        ("GET", f"/orgs/{org}/verifications", {}),
        ("POST", f"/verifications/{verification_id}/approve", {}),
        ("POST", f"/verifications/{verification_id}/reject", {}),
        ("POST", "/verifications", {"json": {"org_id": org}}),
        ("GET", f"/users/{school.student.id}", {}),
    ]
    for method, path, kwargs in calls:
        assert_error(api.request(method, path, token=outsider.token, **kwargs), 404)
    after = snapshot(api, school)
    assert after == before
