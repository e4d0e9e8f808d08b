"""A school built through the public API, with a person in every role, for
story, permission and isolation tests. Works on the in-process platform and
on the real one (events flow between services, so it polls with a deadline)."""
from __future__ import annotations

import itertools

from devkit.helpers import OPERATOR_PHONE, Api, phone, wait_for

numbers = itertools.count(1000)  # phones of the people tests make
STAFF_ROLES = frozenset({"director", "deputy", "teacher"})


class Person:
    """Signs in by phone, or by e-mail when `email` is given (as primary-school
    students do, through a parent's address)."""

    def __init__(self, api: Api, label: str, number: str | None = None, email: str | None = None):
        self.label = label
        self.email = email
        self.phone = None if email else number or phone(next(numbers))
        tokens = api.sign_in_email(email) if email else api.sign_in(self.phone)
        self.id = tokens["user"]["id"]
        self.token = tokens["access_token"]
        api.patch("/me", {"display_name": label}, token=self.token)

    def __repr__(self):
        return f"<{self.label}>"


def operator(api: Api) -> Person:
    """The operator, signed in once per platform (codes have a resend cooldown)."""
    if not hasattr(api, "operator"):
        api.operator = Person(api, "operator", OPERATOR_PHONE)
    return api.operator


def create_region(platform, name: str = "Тестовый регион") -> str:
    from services.orgstructure import registration

    runtime = platform.apps["orgstructure"].extensions["sferum"]
    with runtime.connection():
        return registration.create_region(name).id


class School:
    """An approved school: admin, director, class head of 5А, a plain teacher,
    a student of 5А with a parent, a student of 5Б, and the class 5Б."""

    def __init__(self, platform, api: Api, name: str = "Школа № 5", region_id: str | None = None):
        self.api = api
        region_id = region_id or create_region(platform)
        self.operator = operator(api)
        self.admin = Person(api, f"admin of {name}")
        applicant = self.admin
        submitted = api.post("/applications", {
            "region_id": region_id, "org": {"name": name, "kind": "school"},
            "admin": {"full_name": "Анна Админова", "phone": self.admin.phone}}, token=applicant.token)
        assert submitted.status_code == 201, submitted
        approved = api.post(f"/applications/{submitted.json['id']}/approve", token=self.operator.token)
        assert approved.status_code == 200, approved
        self.application_id = submitted.json["id"]
        self.org_id = approved.json["org_id"]
        self.wait_roles(self.admin, {"admin", "teacher"})
        self.class_a = self.unit("5А")
        self.class_b = self.unit("5Б")
        self.director = self.invite_and_join("director", "director")
        self.head = self.invite_and_join("teacher", "class head of 5А")
        self.teacher = self.invite_and_join("teacher", "teacher")
        assert api.put(f"/orgs/{self.org_id}/units/{self.class_a}/head", {"user_id": self.head.id},
                       token=self.admin.token).status_code == 200
        self.student = self.invite_and_join("student", "student of 5А", unit_id=self.class_a)
        self.other_student = self.invite_and_join("student", "student of 5Б", unit_id=self.class_b)
        self.parent = self.invite_and_join("parent", "parent", child_user_id=self.student.id)

    @property
    def everyone(self) -> dict[str, Person]:
        return {"admin": self.admin, "director": self.director, "class_head": self.head,
                "teacher": self.teacher, "student": self.student, "parent": self.parent}

    def unit(self, name: str) -> str:
        response = self.api.post(f"/orgs/{self.org_id}/units", {"name": name, "grade": 5},
                                 token=self.admin.token)
        assert response.status_code == 201, response
        return response.json["id"]

    def invite(self, role: str, by: Person | None = None, **fields) -> str:
        response = self.api.post(f"/orgs/{self.org_id}/invites", {"role": role, **fields},
                                 token=(by or self.admin).token)
        assert response.status_code == 201, response
        return response.json["token"]

    def invite_and_join(self, role: str, label: str, verified: bool = True, email: str | None = None,
                        **fields) -> Person:
        """A new member; the staff with their teacher status confirmed by the
        admin unless `verified=False`."""
        token = self.invite(role, **fields)
        person = Person(self.api, label, email=email)
        accepted = self.api.post(f"/invites/{token}/accept", token=person.token)
        assert accepted.status_code == 200 and accepted.json["status"] == "joined", accepted
        self.wait_roles(person, {role})
        if verified and role in STAFF_ROLES:
            self.verify(person)
        return person

    def verify(self, person: Person) -> None:
        """The person asks for the teacher status and the admin confirms it."""
        asked = self.api.post("/verifications", {"org_id": self.org_id}, token=person.token)
        assert asked.status_code == 201, asked
        approved = self.api.post(f"/verifications/{asked.json['id']}/approve", token=self.admin.token)
        assert approved.status_code == 200, approved
        # orgstructure learns the badge from identity's event: members lists show it once it has.
        wait_for(lambda: any(m["user_id"] == person.id and m["teacher_verified"] for m in self.api.get(
            f"/orgs/{self.org_id}/members", params={"limit": 200}, token=self.admin.token).json["items"]),
                 message=f"orgstructure knowing {person}'s teacher status")

    def roles(self, person: Person) -> set[str]:
        for org in self.api.get("/me/orgs", token=person.token).json["items"]:
            if org["org_id"] == self.org_id:
                return set(org["roles"])
        return set()

    def wait_roles(self, person: Person, roles: set[str]) -> None:
        wait_for(lambda: roles <= self.roles(person), message=f"{person} holding {roles}")
        # identity learns memberships from the same events; wait for it too.
        wait_for(lambda: self.api.get(f"/users/{self.admin.id}", token=person.token).status_code == 200,
                 message=f"identity knowing {person} is in the school")
