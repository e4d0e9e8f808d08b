"""Roles change, not only grow (seed 000 §2.1, the movement of the staff): an
admin gives an employee another role of the staff or takes one back, with
events and history; the school never ends with no admin, and a refused
change changes nothing."""
import pytest
from support.chats import invitation_to, accept

from devkit.helpers import assert_error, wait_for


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def roles_of(api, school, person):
    answer = api.get(f"/orgs/{school.org_id}/members/{person.id}/roles", token=school.admin.token)
    assert answer.status_code == 200, answer
    return answer.json


def everyones_roles(api, school):
    """Who holds which roles, and teaches what (names reach orgstructure by events, at their own pace)."""
    members = api.get(f"/orgs/{school.org_id}/members", params={"limit": 200}, token=school.admin.token).json
    return {m["user_id"]: (m["roles"], m["teaching"]) for m in members["items"]}


def my_chats(api, person):
    return {chat["id"]: chat for chat in api.get("/chats", params={"limit": 200}, token=person.token).json["items"]}


def test_admin_rights_are_taken_back_and_the_history_kept(embedded, school):
    api, org = embedded.api, school.org_id
    granted = api.post(f"/orgs/{org}/members/{school.teacher.id}/roles", {"role": "admin"}, token=school.admin.token)
    assert granted.status_code == 200 and granted.json["roles"] == ["admin", "teacher"]
    school.wait_roles(school.teacher, {"admin"})
    # As an admin they moderate the school channel; messaging hears of it.
    channel = accept(api, school.teacher, invitation_to(api, school.teacher, lambda c: c["purpose"] == "school"))
    wait_for(lambda: my_chats(api, school.teacher)[channel["id"]]["my_role"] == "moderator",
             message="the new admin moderating the school channel")

    revoked = api.delete(f"/orgs/{org}/members/{school.teacher.id}/roles/admin", token=school.admin.token)
    assert revoked.status_code == 200 and revoked.json["roles"] == ["teacher"]
    assert school.roles(school.teacher) == {"teacher"}
    assert_error(api.get(f"/orgs/{org}/invites", token=school.teacher.token), 403)
    wait_for(lambda: my_chats(api, school.teacher)[channel["id"]]["my_role"] == "member",
             message="the former admin no longer moderating")
    history = roles_of(api, school, school.teacher)
    assert history["roles"] == ["teacher"]
    assert [(h["role"], h["change"], h["reason"], h["by"]) for h in history["history"]] == [
        ("teacher", "granted", "joined", school.admin.id), ("admin", "granted", "granted", school.admin.id),
        ("admin", "revoked", "revoked", school.admin.id)]
    first_admin = roles_of(api, school, school.admin)["history"]
    assert {(h["role"], h["reason"]) for h in first_admin} == {("admin", "application"), ("teacher", "application")}
    assert first_admin[0]["by"] == school.operator.id


def test_the_school_never_ends_with_no_admin(embedded, school):
    api, org = embedded.api, school.org_id
    alone = api.delete(f"/orgs/{org}/members/{school.admin.id}/roles/admin", token=school.admin.token)
    assert_error(alone, 409, "last_admin")
    assert "admin" in school.roles(school.admin)
    # With a second admin, the first may step down; then the second is the last.
    assert api.post(f"/orgs/{org}/admins", {"user_id": school.director.id},
                    token=school.admin.token).status_code == 204
    school.wait_roles(school.director, {"admin"})
    assert api.delete(f"/orgs/{org}/members/{school.admin.id}/roles/admin",
                      token=school.admin.token).json["roles"] == ["teacher"]
    assert_error(api.delete(f"/orgs/{org}/members/{school.director.id}/roles/admin", token=school.director.token),
                 409, "last_admin")
    assert school.roles(school.director) == {"admin", "director"}


def test_an_employees_roles_change(embedded, school):
    """A teacher becomes the deputy and stops teaching; the class head who
    teaches no more heads no class."""
    api, org = embedded.api, school.org_id
    assert api.post(f"/orgs/{org}/members/{school.head.id}/roles", {"role": "deputy"},
                    token=school.admin.token).json["roles"] == ["deputy", "teacher"]
    # Holding it already changes nothing.
    assert api.post(f"/orgs/{org}/members/{school.head.id}/roles", {"role": "deputy"},
                    token=school.admin.token).json["roles"] == ["deputy", "teacher"]
    assert api.delete(f"/orgs/{org}/members/{school.head.id}/roles/teacher",
                      token=school.admin.token).json["roles"] == ["deputy"]
    units = {u["id"]: u for u in api.get(f"/orgs/{org}/units", token=school.admin.token).json["items"]}
    assert units[school.class_a]["head_user_id"] == school.head.id  # a deputy still teaches
    assert api.post(f"/orgs/{org}/members/{school.head.id}/roles", {"role": "admin"},
                    token=school.admin.token).status_code == 200
    assert api.delete(f"/orgs/{org}/members/{school.head.id}/roles/deputy",
                      token=school.admin.token).json["roles"] == ["admin"]
    units = {u["id"]: u for u in api.get(f"/orgs/{org}/units", token=school.admin.token).json["items"]}
    assert units[school.class_a]["head_user_id"] is None


@pytest.mark.parametrize("who,role,status,code", [
    ("teacher", "teacher", 422, "last_role"),
    ("teacher", "deputy", 409, "role_not_held"),
    # Students' and parents' roles are not the staff's: no such thing to take back.
    ("student", "student", 404, "not_found"),
    ("parent", "parent", 404, "not_found"),
    ("teacher", "king", 404, "not_found"),
    ("nobody", "teacher", 404, None),
])
def test_refused_revocations_change_nothing(embedded, school, who, role, status, code):
    api, org = embedded.api, school.org_id
    user_id = school.everyone[who].id if who in school.everyone else "nobody-at-all"
    before = everyones_roles(api, school)
    assert_error(api.delete(f"/orgs/{org}/members/{user_id}/roles/{role}", token=school.admin.token), status, code)
    assert everyones_roles(api, school) == before


@pytest.mark.parametrize("who,body,status,code", [
    ("student", {"role": "teacher"}, 422, "not_staff"),
    ("parent", {"role": "admin"}, 422, "not_staff"),
    ("teacher", {"role": "student"}, 422, None),
    ("teacher", {"role": "parent"}, 422, None),
    ("teacher", {}, 422, None),
    ("teacher", {"role": ["admin"]}, 422, None),
    ("nobody", {"role": "deputy"}, 404, None),
])
def test_refused_grants_change_nothing(embedded, school, who, body, status, code):
    api, org = embedded.api, school.org_id
    user_id = school.everyone[who].id if who in school.everyone else "nobody-at-all"
    before = everyones_roles(api, school)
    assert_error(api.post(f"/orgs/{org}/members/{user_id}/roles", body, token=school.admin.token), status, code)
    assert everyones_roles(api, school) == before


def test_a_former_members_history_is_kept(embedded, school):
    api, org = embedded.api, school.org_id
    assert api.post(f"/orgs/{org}/members/{school.teacher.id}/dismiss", token=school.admin.token).status_code == 200
    history = roles_of(api, school, school.teacher)
    assert history["roles"] == [] and history["left_reason"] == "dismissed"
    assert [h["role"] for h in history["history"]] == ["teacher"]
    assert_error(api.get(f"/orgs/{org}/members/never-a-member/roles", token=school.admin.token), 404)
