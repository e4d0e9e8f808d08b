"""The people and chats a browser test starts from, made through the public
API of the platform (the demo school and its admin), so each test drives
the browser only through what it is about."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from devkit.helpers import phone, wait_for
from services.orgstructure.demo import DEMO_ADMIN_PHONE


@dataclass
class Person:
    phone: str
    name: str
    token: str
    id: str


class School:
    def __init__(self, platform, first_phone: int = 100):
        self.platform = platform
        self.api = platform.api
        self.numbers = itertools.count(first_phone)
        self.admin = self.sign_in(DEMO_ADMIN_PHONE, "Администратор Демо")
        self.org_id = wait_for(lambda: [o["org_id"] for o in self.get("/me/orgs", self.admin)["items"]],
                               message="the demo admin's rights")[0]
        units = self.get(f"/orgs/{self.org_id}/units", self.admin)["items"]
        self.units = {unit["name"]: unit["id"] for unit in units}

    # Plain calls.

    def get(self, path: str, who: Person, **params) -> dict:
        answer = self.api.get(path, token=who.token, params=params or None)
        assert answer.status_code == 200, (path, answer)
        return answer.json

    def post(self, path: str, who: Person, body=None, expect=(200, 201, 202, 204)) -> dict:
        answer = self.api.post(path, body, token=who.token)
        assert answer.status_code in expect, (path, answer)
        return answer.json

    # People.

    def new_phone(self) -> str:
        return phone(next(self.numbers))

    def sign_in(self, number: str, name: str) -> Person:
        tokens = self.api.sign_in(number)
        person = Person(number, name, tokens["access_token"], tokens["user"]["id"])
        assert self.api.patch("/me", {"display_name": name}, token=person.token).status_code == 200
        return person

    def invite(self, role: str, unit: str | None = None, child: Person | None = None) -> str:
        body = {"role": role}
        if unit:
            body["unit_id"] = self.units[unit]
        if child:
            body["child_user_id"] = child.id
        return self.post(f"/orgs/{self.org_id}/invites", self.admin, body)["token"]

    def member(self, role: str, name: str, unit: str | None = None) -> Person:
        person = self.sign_in(self.new_phone(), name)
        answer = self.post(f"/invites/{self.invite(role, unit)}/accept", person)
        assert answer["status"] == "joined", answer
        return person

    def verified_teacher(self, name: str) -> Person:
        teacher = self.member("teacher", name)
        request = self.post("/verifications", teacher, {"org_id": self.org_id})
        self.post(f"/verifications/{request['id']}/approve", self.admin)
        return teacher

    # Chats.

    def accept_invitation(self, person: Person, chat_id: str) -> None:
        def invitation():
            items = self.get("/me/chat-invitations", person)["items"]
            return next((item for item in items if item["chat"]["id"] == chat_id), None)
        found = wait_for(invitation, message=f"{person.name}'s invitation")
        self.post(f"/chat-invitations/{found['id']}/accept", person,
                  {"accepted_rules_version": found["chat"]["rules_version"]})

    def group_chat(self, teacher: Person, members: list[Person], title: str,
                   rules: tuple[str, ...] = ("Пишем вежливо.", "Только по делу."), **fields) -> str:
        body = {"org_id": self.org_id, "kind": "group", "title": title, "rules": list(rules),
                "invite_user_ids": [m.id for m in members], **fields}

        def create():
            # The badge reaches messaging as an event: until then a teacher may not create chats.
            answer = self.api.post("/chats", body, token=teacher.token)
            return answer.json if answer.status_code == 201 else None
        chat = wait_for(create, message="the verified teacher creating a chat")
        for member in members:
            self.accept_invitation(member, chat["id"])
        return chat["id"]

    def post_message(self, person: Person, chat_id: str, text: str) -> dict:
        return self.post(f"/chats/{chat_id}/messages", person, {"text": text})
