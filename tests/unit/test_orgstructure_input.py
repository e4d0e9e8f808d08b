"""Roster import, and bad input to orgstructure: a clear 4xx, nothing changed."""
import io

import pytest
from support.school import School, create_region

from devkit.helpers import assert_error, wait_for


@pytest.fixture(scope="module")
def school(embedded_module):
    return School(embedded_module, embedded_module.api, "Школа ввода")


def upload(api, school, content: bytes, name="roster.csv"):
    return api.post(f"/orgs/{school.org_id}/roster-imports", token=school.admin.token,
                    data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def finished(api, school, job_id):
    def done():
        job = api.get(f"/orgs/{school.org_id}/roster-imports/{job_id}", token=school.admin.token).json
        return job if job["status"] in ("done", "failed") else None
    return wait_for(done, message="the roster import to finish")


def units(api, school):
    return {u["name"]: u["id"] for u in api.get(f"/orgs/{school.org_id}/units", token=school.admin.token).json["items"]}


def test_roster_import_creates_classes_and_personal_invites(embedded_module, school):
    api = embedded_module.api
    content = ("class;grade;student;parent\n"
               "6А;6;Иван Соколов;Мария Соколова\n"
               "6А;6;Ольга Белова;\n"
               "6Б;6;Пётр Орлов;Сергей Орлов\n").encode()
    job = upload(api, school, content)
    assert job.status_code == 202 and job.json["total_rows"] == 3
    result = finished(api, school, job.json["id"])
    assert result["status"] == "done" and result["errors"] == [] and result["processed_rows"] == 3
    rows = result["result"]["rows"]
    assert [(r["line"], r["class"], r["student"]) for r in rows] == [
        (2, "6А", "Иван Соколов"), (3, "6А", "Ольга Белова"), (4, "6Б", "Пётр Орлов")]
    assert {"6А", "6Б"} <= set(units(api, school))
    # The parent of a roster student may accept first: linked once the child joins.
    from support.school import Person
    parent, child = Person(api, "Мария Соколова"), Person(api, "Иван Соколов")
    assert api.post(f"/invites/{rows[0]['parent_invite_token']}/accept", token=parent.token).json["status"] == "joined"
    assert api.post(f"/invites/{rows[0]['student_invite_token']}/accept", token=child.token).json["status"] == "joined"
    mine = [o for o in api.get("/me/orgs", token=parent.token).json["items"] if o["org_id"] == school.org_id]
    assert mine[0]["children"] == [child.id]
    # Personal invites are single-use.
    assert_error(api.post(f"/invites/{rows[0]['student_invite_token']}/accept", token=Person(api, "x").token), 410)


def test_a_roster_with_errors_creates_nothing(embedded_module, school):
    api = embedded_module.api
    before = units(api, school)
    content = ("class,grade,student,parent\n"
               "7А,7,Анна Новикова,\n"
               ",7,Без класса,\n"
               "7Б,15,Борис Ветров,\n"
               "7В,7,,Родитель без ребёнка\n").encode()
    result = finished(api, school, upload(api, school, content).json["id"])
    assert result["status"] == "failed"
    assert [(e["line"], e["error"]) for e in result["errors"]] == [
        (3, "class is empty"), (4, "grade is not a number from 1 to 12"), (5, "student is empty")]
    assert units(api, school) == before


@pytest.mark.parametrize("content,code", [
    (b"", "malformed_csv"),
    (b"name,surname\nA,B\n", "malformed_csv"),
    ("class,student\n".encode(), "malformed_csv"),
    (b"\xff\xfe\x00garbage", "malformed_csv"),
    (b"class,student\n" + b"5A,x\n" * 3001, "too_many_rows"),
    (b"class,student\n" + b"5A," + b"x" * (1024 * 1024) + b"\n", "payload_too_large"),
])
def test_malformed_and_oversized_files_are_refused(embedded_module, school, content, code):
    api = embedded_module.api
    before = units(api, school)
    response = upload(api, school, content)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code, code)
    assert units(api, school) == before


def test_upload_without_a_file(embedded_module, school):
    api = embedded_module.api
    response = api.post(f"/orgs/{school.org_id}/roster-imports", token=school.admin.token,
                        data={}, content_type="multipart/form-data")
    assert_error(response, 422)


def invites(api, school):
    return api.get(f"/orgs/{school.org_id}/invites", params={"limit": 200}, token=school.admin.token).json


BAD_INVITES = [
    {"role": "owner"},
    {"role": "admin"},
    {},
    {"role": "student"},
    {"role": "student", "unit_id": "no-such-unit"},
    {"role": "teacher", "expires_at": "2020-01-01T00:00:00Z"},
    {"role": "teacher", "expires_at": "2099-01-01T00:00:00Z"},
    {"role": "teacher", "expires_at": "tomorrow"},
    {"role": "teacher", "max_uses": -1},
    {"role": "teacher", "max_uses": 0},
    {"role": "teacher", "max_uses": "many"},
    {"role": "parent"},
    {"role": "parent", "child_user_id": "not-a-student"},
    {"role": "teacher", "requires_approval": "perhaps"},
    {"role": "teacher", "unexpected": 1},
]


@pytest.mark.parametrize("body", BAD_INVITES)
def test_bad_invites(embedded_module, school, body):
    api = embedded_module.api
    before = invites(api, school)
    response = api.post(f"/orgs/{school.org_id}/invites", body, token=school.admin.token)
    assert response.status_code in (404, 422), response
    assert_error(response, response.status_code)
    assert invites(api, school) == before


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/applications", {}),
    ("POST", "/applications", {"region_id": "nowhere", "org": {"name": "A", "kind": "school"},
                               "admin": {"full_name": "B", "phone": "+79001234567"}}),
    ("POST", "/applications", {"region_id": "r", "org": {"name": "A", "kind": "university"},
                               "admin": {"full_name": "B", "phone": "+79001234567"}}),
    ("POST", "/applications", {"region_id": "r", "org": {"name": "", "kind": "school"},
                               "admin": {"full_name": "B", "phone": "+79001234567"}}),
    ("POST", "/applications", {"region_id": "r", "org": {"name": "A", "kind": "school"},
                               "admin": {"full_name": "B", "phone": "12"}}),
    ("POST", "/orgs/{org}/units", {"name": ""}),
    ("POST", "/orgs/{org}/units", {"name": "1А", "kind": "staff_room"}),
    ("POST", "/orgs/{org}/units", {"name": "1А", "grade": 99}),
    ("POST", "/orgs/{org}/units", {"name": "1А", "academic_year": "2026"}),
    ("PATCH", "/orgs/{org}", {"journal_url": "javascript:alert(1)"}),
    ("PATCH", "/orgs/{org}", {"name": ""}),
    ("PATCH", "/orgs/{org}", {"region_id": "elsewhere"}),
    ("PUT", "/orgs/{org}/units/{unit}/head", {}),
    ("PUT", "/orgs/{org}/units/{unit}/head", {"user_id": "nobody"}),
    ("POST", "/orgs/{org}/members/{student}/transfer", {}),
    ("POST", "/orgs/{org}/members/{student}/transfer", {"unit_id": "no-such-unit"}),
    ("POST", "/orgs/{org}/members/nobody/expel", None),
    ("POST", "/orgs/{org}/members/nobody/dismiss", None),
    ("GET", "/orgs/{org}/members?role=king", None),
    ("GET", "/orgs/{org}/members?limit=0", None),
    ("GET", "/orgs/{org}/members?cursor=%%%", None),
    ("GET", "/orgs/{org}/stats?from=yesterday", None),
    ("POST", "/verifications", {}),
    ("POST", "/verifications", {"org_id": "no-such-org"}),
])
def test_bad_input_gets_a_json_4xx(embedded_module, school, method, path, body):
    api = embedded_module.api
    path = path.format(org=school.org_id, unit=school.class_a, student=school.student.id)
    region = create_region(embedded_module, "Регион ввода")
    if body and body.get("region_id") == "r":
        body = dict(body, region_id=region)
    response = api.request(method, path, json=body, token=school.admin.token)
    assert 400 <= response.status_code < 500, response
    assert_error(response, response.status_code)
