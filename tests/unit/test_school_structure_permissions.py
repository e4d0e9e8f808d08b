"""Every endpoint of the school's structure added for the regulations (teaching
assignments, roles that change, the applicant's view, the school year,
support) for every role: student, parent, teacher, class head, admin,
director, the operator, another school's admin and member, and no token.
Another school's people find nothing (404) and change nothing."""
import io

import pytest
from support.school import Person, School, create_region, numbers

from devkit.helpers import assert_error, phone

MEMBERS = ("admin", "director", "class_head", "teacher", "student", "parent")
STRANGERS = ("other_admin", "other_member")
EVERYONE = MEMBERS + ("operator",) + STRANGERS
PDF = b"%PDF-1.4\n% the director's order\n"


@pytest.fixture(scope="module")
def world(embedded_module):
    api = embedded_module.api
    region = create_region(embedded_module, "Регион структуры")
    school = School(embedded_module, api, "Школа структуры", region_id=region)
    other = School(embedded_module, api, "Чужая школа структуры", region_id=region)
    people = dict(school.everyone, operator=school.operator, other_admin=other.admin, other_member=other.teacher)
    return api, school, other, people


def assigned_teacher(api, school) -> str:
    """A teacher of the school, assigned to teach 5Б now."""
    teacher = school.invite_and_join("teacher", "subject teacher")
    assert api.post(f"/orgs/{school.org_id}/units/{school.class_b}/teachers", {"user_id": teacher.id,
                                                                              "subject": "История"},
                    token=school.admin.token).status_code == 201
    return teacher.id


def deputy(api, school) -> str:
    """A teacher who is also the deputy now."""
    teacher = school.invite_and_join("teacher", "future deputy")
    assert api.post(f"/orgs/{school.org_id}/members/{teacher.id}/roles", {"role": "deputy"},
                    token=school.admin.token).status_code == 200
    return teacher.id


# (name, allowed callers and their status, a function building (method, path, kwargs) for a school)
CASES = [
    ("list teachers", {role: 200 for role in MEMBERS + ("operator",)},
     lambda api, s: ("GET", f"/orgs/{s.org_id}/units/{s.class_a}/teachers", {})),
    ("assign a teacher", {"admin": 201},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/units/{s.class_a}/teachers",
                     {"json": {"user_id": s.invite_and_join("teacher", "to assign").id, "subject": "Химия"}})),
    ("unassign a teacher", {"admin": 204},
     lambda api, s: ("DELETE", f"/orgs/{s.org_id}/units/{s.class_b}/teachers/{assigned_teacher(api, s)}", {})),
    ("role history", {"admin": 200},
     lambda api, s: ("GET", f"/orgs/{s.org_id}/members/{s.teacher.id}/roles", {})),
    ("grant a role", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/members/{s.invite_and_join('teacher', 'to promote').id}/roles",
                     {"json": {"role": "deputy"}})),
    ("revoke a role", {"admin": 200},
     lambda api, s: ("DELETE", f"/orgs/{s.org_id}/members/{deputy(api, s)}/roles/deputy", {})),
    ("plan the school year", {"admin": 200},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/rollover", {"json": {"dry_run": True}})),
    # The class head sends invites to their own class's students and parents.
    ("send an invite by SMS", {"admin": 201, "class_head": 201},
     lambda api, s: ("POST", f"/orgs/{s.org_id}/invites", {"json": {"role": "student", "unit_id": s.class_a,
                                                                    "send_to": {"phone": phone(next(numbers))}}})),
    ("weekly statistics", {"admin": 200, "director": 200},
     lambda api, s: ("GET", f"/orgs/{s.org_id}/stats", {})),
    ("my applications", dict.fromkeys(EVERYONE, 200), lambda api, s: ("GET", "/me/applications", {})),
]


@pytest.mark.parametrize("name,allowed,build", CASES, ids=[case[0] for case in CASES])
def test_role_by_endpoint(world, name, allowed, build):
    api, school, _other, people = world
    method, path, kwargs = build(api, school)
    assert_error(api.request(method, path, **kwargs), 401)
    # Those who are refused go first: what the allowed do may change the state.
    for role in sorted(EVERYONE, key=lambda r: r in allowed):
        method, path, kwargs = build(api, school)
        response = api.request(method, path, token=people[role].token, **kwargs)
        if role in allowed:
            assert response.status_code == allowed[role], (role, response)
        else:
            assert_error(response, 404 if role in STRANGERS else 403)


def test_archiving_a_school_is_the_operators_of_its_region(embedded_module, world):
    api, _school, _other, people = world
    school = School(embedded_module, api, "Школа под архив", region_id=create_region(embedded_module, "Регион архива"))
    path = f"/orgs/{school.org_id}/archive"
    assert_error(api.post(path), 401)
    for role in MEMBERS:
        assert_error(api.post(path, token=school.everyone[role].token), 403)
    for role in STRANGERS:
        assert_error(api.post(path, token=people[role].token), 404)
    archived = api.post(path, token=school.operator.token)
    assert archived.status_code == 200 and archived.json["archived"] is True
    assert_error(api.post(path, token=school.operator.token), 409, "org_archived")


def application(api, applicant: Person, region_id: str) -> str:
    made = api.post("/applications", {"region_id": region_id, "org": {"name": "Заявленная школа", "kind": "school"},
                                      "admin": {"full_name": "Заявитель", "phone": applicant.phone}},
                    token=applicant.token)
    assert made.status_code == 201, made
    return made.json["id"]


def test_an_applications_document_is_the_applicants_and_the_region_operators(embedded_module, world):
    """The applicant attaches and opens it; the operator of the region opens it;
    nobody else finds the application (404), and no token is 401."""
    api, school, _other, people = world
    applicant = Person(api, "заявитель")
    region = [r["id"] for r in api.get("/regions").json["items"] if r["name"] == "Регион структуры"][0]
    app_id = application(api, applicant, region)
    path = f"/applications/{app_id}/document"

    def upload(token=None):
        return api.post(path, token=token, data={"file": (io.BytesIO(PDF), "приказ.pdf")},
                        content_type="multipart/form-data")

    assert_error(upload(), 401)
    assert_error(api.get(path), 401)
    for role in MEMBERS + STRANGERS + ("operator",):
        assert_error(upload(people[role].token), 404)
    assert_error(api.get(path, token=applicant.token), 404, "no_document")
    assert upload(applicant.token).status_code == 201
    for role in MEMBERS + STRANGERS:
        assert_error(api.get(path, token=people[role].token), 404)
    for who in (applicant, school.operator):
        opened = api.get(path, token=who.token)
        assert opened.status_code == 200 and opened.body == PDF
        assert opened.headers["Content-Disposition"].startswith("attachment")
        assert opened.headers["X-Content-Type-Options"] == "nosniff"


def test_my_applications_are_mine_only(world):
    api, school, _other, people = world
    applicant = Person(api, "другой заявитель")
    region = [r["id"] for r in api.get("/regions").json["items"] if r["name"] == "Регион структуры"][0]
    app_id = application(api, applicant, region)
    assert_error(api.get("/me/applications"), 401)
    for role in EVERYONE:
        mine = api.get("/me/applications", token=people[role].token)
        assert mine.status_code == 200 and app_id not in {a["id"] for a in mine.json["items"]}
    assert [a["id"] for a in api.get("/me/applications", token=applicant.token).json["items"]] == [app_id]


def test_support_is_public(world):
    api, _school, _other, people = world
    assert api.get("/support").status_code == 200
    for role in EVERYONE:
        assert api.get("/support", token=people[role].token).status_code == 200


def snapshot(api, school):
    token = school.admin.token
    return {
        "members": api.get(f"/orgs/{school.org_id}/members", params={"limit": 200}, token=token).json,
        "units": api.get(f"/orgs/{school.org_id}/units", params={"archived": "true", "limit": 200},
                         token=token).json,
        "teachers": {unit: api.get(f"/orgs/{school.org_id}/units/{unit}/teachers", token=token).json
                     for unit in (school.class_a, school.class_b)},
        "roles": {person.id: api.get(f"/orgs/{school.org_id}/members/{person.id}/roles", token=token).json
                  for person in (school.admin, school.teacher, school.head)},
        "org": api.get(f"/orgs/{school.org_id}", token=token).json,
    }


def test_another_schools_people_change_nothing(world):
    """With the first school's ids: 404 every time, and the school is exactly as it was."""
    api, school, _other, people = world
    taught = assigned_teacher(api, school)
    org, a, b = school.org_id, school.class_a, school.class_b
    before = snapshot(api, school)
    calls = [
        ("GET", f"/orgs/{org}/units/{a}/teachers", {}),
        ("POST", f"/orgs/{org}/units/{a}/teachers", {"json": {"user_id": school.teacher.id}}),
        ("POST", f"/orgs/{org}/units/{a}/teachers", {"json": {"user_id": people["other_member"].id}}),
        ("DELETE", f"/orgs/{org}/units/{b}/teachers/{taught}", {}),
        ("GET", f"/orgs/{org}/members/{school.teacher.id}/roles", {}),
        ("POST", f"/orgs/{org}/members/{school.teacher.id}/roles", {"json": {"role": "admin"}}),
        ("DELETE", f"/orgs/{org}/members/{school.admin.id}/roles/admin", {}),
        ("DELETE", f"/orgs/{org}/members/{school.head.id}/roles/teacher", {}),
        ("POST", f"/orgs/{org}/rollover", {"json": {"dry_run": True}}),
        ("POST", f"/orgs/{org}/rollover", {"json": {"dry_run": False}}),
        ("POST", f"/orgs/{org}/archive", {}),
    ]
    for who in STRANGERS:
        for method, path, kwargs in calls:
            assert_error(api.request(method, path, token=people[who].token, **kwargs), 404)
    assert snapshot(api, school) == before
