"""Who decides a teacher's request for the teacher status: an administrator of
the organisation, never on their own request; the operator of the
organisation's region only for the own request of a school's single
administrator. Every role, another school's people, an operator of another
region and no token; the rule itself without a database."""
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for
from services.common.errors import Forbidden, NotFound
from services.identity.models import OrgMembership
from services.identity.organisations import check_decider

SCHOOL_ROLES = ("director", "class_head", "teacher", "student", "parent")


@pytest.fixture(scope="module")
def world(embedded_module):
    api = embedded_module.api
    region = create_region(embedded_module, "Регион проверок")
    school = School(embedded_module, api, "Школа проверок", region_id=region)
    other = School(embedded_module, api, "Другая школа проверок", region_id=region)
    people = dict(school.everyone, other_admin=other.admin, other_member=other.teacher,
                  operator=school.operator,
                  foreign_operator=_operator_of_another_region(embedded_module, school.operator))
    # identity hears of the organisation's region from orgstructure.
    wait_for(lambda: api.get(f"/orgs/{school.org_id}/verifications",
                             token=school.operator.token).status_code == 200,
             message="identity knowing the school's region")
    return embedded_module, api, school, people


def _operator_of_another_region(platform, operator: Person) -> SimpleNamespace:
    """The operator's own token, signed again by identity for a region other
    than this school's: operators serve only their regions."""
    from services.identity.models import SigningKey

    claims = jwt.decode(operator.token, options={"verify_signature": False})
    claims["op_regions"] = ["another-region"]
    with platform.apps["identity"].extensions["sferum"].connection():
        stored = SigningKey.select().order_by(SigningKey.created_at.desc()).first()
    key = serialization.load_pem_private_key(stored.private_pem.encode(),
                                             password=b"test-secret-key-for-tests-only")
    return SimpleNamespace(id=operator.id, token=jwt.encode(claims, key, algorithm="RS256",
                                                            headers={"kid": stored.kid}))


def ask(api, school, person) -> str:
    asked = api.post("/verifications", {"org_id": school.org_id}, token=person.token)
    assert asked.status_code == 201, asked
    return asked.json["id"]


def check_refusals(api, people, path, expected: dict):
    """Every caller named in `expected` gets that status (and code); no token: 401."""
    assert_error(api.post(path), 401)
    for who, (status, code) in expected.items():
        error = assert_error(api.post(path, token=people[who].token), status, code)
        assert error["message"], who


REFUSED_FOR_A_TEACHERS_REQUEST = {
    **{role: (403, "forbidden") for role in SCHOOL_ROLES},
    "operator": (403, "decided_by_admins"),
    "other_admin": (404, "not_found"), "other_member": (404, "not_found"),
    "foreign_operator": (404, "not_found"),
}


@pytest.mark.parametrize("action,status", [("approve", "approved"), ("reject", "rejected")])
def test_a_teachers_request_is_decided_by_an_admin_of_the_school(world, action, status):
    _platform, api, school, people = world
    teacher = school.invite_and_join("teacher", f"teacher to {action}", verified=False)
    request_id = ask(api, school, teacher)
    path = f"/verifications/{request_id}/{action}"
    check_refusals(api, people, path, REFUSED_FOR_A_TEACHERS_REQUEST)
    decided = api.post(path, token=school.admin.token)
    assert decided.status_code == 200 and decided.json["status"] == status
    assert decided.json["user_id"] == teacher.id
    assert_error(api.post(path, token=school.admin.token), 409, "already_decided")


def _a_new_admin(embedded_module, name: str, region: str):
    """A school and a teacher of it, not yet confirmed, appointed its admin."""
    api = embedded_module.api
    school = School(embedded_module, api, name, region_id=create_region(embedded_module, region))
    admin = school.invite_and_join("teacher", f"new admin of {name}", verified=False)
    assert api.post(f"/orgs/{school.org_id}/admins", {"user_id": admin.id},
                    token=school.admin.token).status_code == 204
    school.wait_roles(admin, {"admin"})
    # identity learns the appointment from orgstructure's event; until then a
    # decision made to find out would be made for real.
    identity = embedded_module.apps["identity"].extensions["sferum"]

    def identity_knows() -> bool:
        with identity.connection():
            membership = OrgMembership.get_or_none(org_id=school.org_id, user_id=admin.id)
            return membership is not None and "admin" in membership.role_set
    wait_for(identity_knows, message="identity knowing the new admin")
    return school, admin


def test_the_single_admins_own_request_is_decided_by_the_operator_of_the_region(embedded_module, world):
    """The first admin (confirmed by the application) steps down: the school's
    single admin is one whose status no other admin can confirm."""
    _platform, api, _school, people = world
    school, admin = _a_new_admin(embedded_module, "Школа одного администратора", "Регион одного администратора")
    assert api.delete(f"/orgs/{school.org_id}/members/{school.admin.id}/roles/admin",
                      token=school.admin.token).status_code == 200
    people = dict(people, **{role: school.everyone[role] for role in SCHOOL_ROLES}, admin=admin)
    refused = {**{role: (403, "forbidden") for role in SCHOOL_ROLES},
               "admin": (403, "own_request"),
               "other_admin": (404, "not_found"), "other_member": (404, "not_found"),
               "foreign_operator": (404, "not_found")}
    request_id = ask(api, school, admin)
    # identity hears of the first admin stepping down from orgstructure.
    wait_for(lambda: request_id in {item["id"] for item in api.get(
        f"/orgs/{school.org_id}/verifications", token=school.operator.token).json.get("items", [])},
             message="the operator finding the single admin's request")
    check_refusals(api, people, f"/verifications/{request_id}/approve", refused)
    why = assert_error(api.post(f"/verifications/{request_id}/approve", token=admin.token), 403)
    assert "operator" in why["message"]
    rejected = api.post(f"/verifications/{request_id}/reject", token=school.operator.token)
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"

    request_id = ask(api, school, admin)
    check_refusals(api, people, f"/verifications/{request_id}/reject", refused)
    approved = api.post(f"/verifications/{request_id}/approve", token=school.operator.token)
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert api.get("/me", token=admin.token).json["teacher_verified"] is True


def test_with_a_second_admin_the_other_admin_decides_and_not_the_operator(embedded_module):
    api = embedded_module.api
    school, second = _a_new_admin(embedded_module, "Школа двух администраторов", "Регион двух администраторов")
    request_id = ask(api, school, second)
    path = f"/verifications/{request_id}/approve"
    assert_error(api.post(path, token=school.operator.token), 403, "decided_by_admins")
    why = assert_error(api.post(path, token=second.token), 403, "own_request")
    assert "Another administrator" in why["message"]
    approved = api.post(path, token=school.admin.token)
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    # The operator does not see the admins' requests: the admins decide them.
    listed = api.get(f"/orgs/{school.org_id}/verifications", token=school.operator.token)
    assert listed.status_code == 200 and listed.json["items"] == []


def test_who_lists_the_requests(world):
    _platform, api, school, people = world
    teacher = school.invite_and_join("teacher", "teacher who asks", verified=False)
    teachers_request = ask(api, school, teacher)
    path = f"/orgs/{school.org_id}/verifications"
    assert_error(api.get(path), 401)
    for role in SCHOOL_ROLES:
        assert_error(api.get(path, token=people[role].token), 403, "forbidden")
    for who in ("other_admin", "other_member", "foreign_operator"):
        assert_error(api.get(path, token=people[who].token), 404)
    everything = api.get(path, params={"limit": 200}, token=school.admin.token).json["items"]
    assert teachers_request in {item["id"] for item in everything}
    # The operator sees only the single admin's own requests, which it decides.
    seen = api.get(path, params={"limit": 200}, token=school.operator.token).json["items"]
    assert teachers_request not in {item["id"] for item in seen}
    assert {item["user_id"] for item in seen} <= {school.admin.id}


def test_bad_ids_and_input(world):
    _platform, api, school, people = world
    for token in (school.admin.token, school.operator.token):
        for request_id in ("no-such-request", "x" * 300):
            assert_error(api.post(f"/verifications/{request_id}/approve", token=token), 404)
            assert_error(api.post(f"/verifications/{request_id}/reject", token=token), 404)
        assert_error(api.get("/orgs/no-such-org/verifications", token=token), 404)
    for query in ({"status": "maybe"}, {"limit": 0}, {"limit": "many"}, {"cursor": "not-a-cursor"}):
        assert_error(api.get(f"/orgs/{school.org_id}/verifications", params=query,
                             token=school.admin.token), 422)


ADMINS = frozenset({"a1"})


@pytest.mark.parametrize("decider,roles,operates,requester,admins,outcome", [
    ("a1", {"admin", "teacher"}, False, "t1", ADMINS, None),
    ("a1", {"admin", "teacher"}, True, "t1", ADMINS, None),
    ("a1", {"admin", "teacher"}, False, "a1", ADMINS, "own_request"),
    ("a1", {"admin", "teacher"}, False, "a1", ADMINS | {"a2"}, "own_request"),
    ("a2", {"admin", "teacher"}, False, "a1", ADMINS | {"a2"}, None),
    ("op", None, True, "a1", ADMINS, None),
    ("op", None, True, "a1", ADMINS | {"a2"}, "decided_by_admins"),
    ("op", None, True, "t1", ADMINS, "decided_by_admins"),
    ("op", {"admin", "teacher"}, True, "op", frozenset({"op"}), "own_request"),
    ("op", None, False, "a1", ADMINS, "not_found"),
    ("d1", {"director", "teacher"}, False, "t1", ADMINS, "forbidden"),
    ("t1", {"teacher"}, False, "t1", ADMINS, "forbidden"),
    ("s1", {"student"}, False, "a1", ADMINS, "forbidden"),
    ("x1", None, False, "t1", ADMINS, "not_found"),
])
def test_the_rule_of_who_decides(decider, roles, operates, requester, admins, outcome):
    roles = frozenset(roles) if roles is not None else None
    if outcome is None:
        check_decider("org", decider, roles, operates, requester, admins)
        return
    with pytest.raises((Forbidden, NotFound)) as refused:
        check_decider("org", decider, roles, operates, requester, admins)
    assert refused.value.code == outcome
