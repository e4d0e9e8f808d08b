"""A school with something of every kind the API names by id: a group chat
with messages, a file, a poll, a chat link and a pending invitation, a
report, violations, a block with its unblock request and appeal, a call with
a participant, a school invite, a join request, a teacher's pending
verification, a roster import and an upload in parts; and a pupil who signs
in by e-mail. For tests that call every endpoint with real ids."""
from __future__ import annotations

import io
import itertools
import re

from devkit.helpers import Api, wait_for

from .calls import calls_know_members
from .chats import accept, created, file_part, invitation_to
from .moderation import in_days, report, violations, wait_member, wait_moderating
from .school import Person, School

_pupils = itertools.count(1)
PATH_PARAMETER = re.compile(r"([^/{}]+)/\{(\w+)\}")


def id_parameters(path: str) -> dict[str, str]:
    """The ids a path takes, by name, with the kind of object each names: the
    name without `_id`, or the collection's own when that qualifies the name
    (`/join-requests/{request_id}`: a join_request)."""
    kinds = {}
    for collection, name in PATH_PARAMETER.findall(path):
        if not name.endswith("_id") and name != "token":
            continue  # a position (an upload's part number), not an object
        base = name.removesuffix("_id")
        singular = collection.removesuffix("s").replace("-", "_")
        kinds[name] = singular if singular.endswith(f"_{base}") else base
    return kinds


class PopulatedSchool(School):
    def __init__(self, platform, api: Api, name: str, region_id: str | None = None):
        self.platform = platform
        super().__init__(platform, api, name, region_id)
        self.pupil = self.invite_and_join("student", "pupil by e-mail", unit_id=self.class_a,
                                          email=f"pupil{next(_pupils)}@family.example.ru")
        self.ids: dict[str, list[str]] = {"org": [self.org_id], "unit": [self.class_a, self.class_b],
                                          "user": [p.id for p in self.people], "application": [self.application_id]}
        self._chat()
        self._moderation()
        self._call()
        self._school_objects()

    @property
    def people(self) -> list[Person]:
        return [*self.everyone.values(), self.other_student, self.pupil]

    def _add(self, kind: str, value: str) -> str:
        self.ids.setdefault(kind, []).append(value)
        return value

    def _chat(self) -> None:
        api, head = self.api, self.head
        members = [self.student, self.teacher, self.pupil]
        chat = wait_for(lambda: self._new_chat(members + [self.other_student]), message="messaging knowing members")
        self.chat_id = self._add("chat", chat["id"])
        for person in members:
            accept(api, person, invitation_to(api, person, lambda c: c["id"] == self.chat_id))
        self._add("chat_invitation", invitation_to(api, self.other_student, lambda c: c["id"] == self.chat_id)["id"])
        wait_moderating(api, head, self.chat_id)
        for person in members:
            wait_member(api, person, self.chat_id)
        stored = created(api.post("/files", token=head.token, **file_part(b"homework", "homework.txt")))
        self._add("file", stored["id"])
        self._add("message", self._post(head, "Домашнее задание", file_ids=[stored["id"]])["id"])
        self.student_message = self._add("message", self._post(self.student, "Ответ ученика")["id"])
        poll = created(api.post(f"/chats/{self.chat_id}/polls", {"question": "Когда?", "options": ["Утром", "Днём"]},
                                token=head.token))
        self._add("poll", poll["id"])
        self._add("option", poll["options"][0]["id"])
        link = created(api.post(f"/chats/{self.chat_id}/invites", {}, token=head.token))
        self._add("link", link["id"])
        self._add("token", link["token"])
        upload = created(api.post("/uploads", {"name": "lesson.mp4", "size": 10_000_000}, token=head.token))
        self._add("upload", upload["id"])

    def _new_chat(self, invited: list[Person]) -> dict | None:
        response = self.api.post("/chats", {"org_id": self.org_id, "kind": "group", "title": "Кружок",
                                            "rules": ["Общаемся вежливо.", "Пишем по делу."],
                                            "invite_user_ids": [p.id for p in invited]}, token=self.head.token)
        return None if response.status_code == 422 else created(response)

    def _post(self, person: Person, text: str, **fields) -> dict:
        return created(self.api.post(f"/chats/{self.chat_id}/messages", {"text": text, **fields}, token=person.token))

    def _moderation(self) -> None:
        api, head = self.api, self.head
        filed = report(api, self.teacher, self.student_message)
        self._add("report", created(filed)["id"])
        cited = violations(api, head, self.chat_id, self.student, 4)
        self._add("violation", cited[0])
        blocked = created(api.post(f"/chats/{self.chat_id}/blocks", {
            "user_id": self.student.id, "until": in_days(7), "violation_ids": cited}, token=head.token))
        self._add("block", blocked["id"])
        opened = wait_for(lambda: self._created_or_none(api.post(
            f"/chats/{self.chat_id}/unblock-requests", {"apology": "Простите, больше не буду."},
            token=self.student.token)), message="messaging knowing the block")
        self._add("unblock_request", opened["id"])
        appeal = created(api.post(f"/blocks/{blocked['id']}/appeals", {"text": "Я не нарушал правила."},
                                  token=self.student.token))
        self._add("appeal", appeal["id"])

    @staticmethod
    def _created_or_none(response) -> dict | None:
        return response.json if response.status_code == 201 else None

    def _call(self) -> None:
        calls_know_members(self.platform, self.chat_id, [self.head.id, self.student.id, self.teacher.id])
        call = created(self.api.post("/calls", {"org_id": self.org_id, "kind": "group", "chat_id": self.chat_id},
                                     token=self.head.token))
        self._add("call", call["id"])
        joined = created(self.api.post(f"/calls/{call['id']}/join", token=self.teacher.token), 200)
        self._add("participant", joined["participant_id"])

    def _school_objects(self) -> None:
        api, admin = self.api, self.admin
        self._add("token", self.invite("student", unit_id=self.class_b))
        self._add("invite", api.get(f"/orgs/{self.org_id}/invites", token=admin.token).json["items"][0]["id"])
        gated = self.invite("teacher", requires_approval=True)
        newcomer = Person(api, "newcomer")
        assert created(api.post(f"/invites/{gated}/accept", token=newcomer.token), 200)["status"] == "pending"
        self._add("user", newcomer.id)
        self._add("join_request", api.get(f"/orgs/{self.org_id}/join-requests",
                                          token=admin.token).json["items"][0]["id"])
        unconfirmed = self.invite_and_join("teacher", "teacher not yet confirmed", verified=False)
        self._add("user", unconfirmed.id)
        self._add("verification", created(api.post("/verifications", {"org_id": self.org_id},
                                                   token=unconfirmed.token))["id"])
        roster = "class,grade,student,parent\n6А,6,Анна Новая,\n".encode()
        job = api.post(f"/orgs/{self.org_id}/roster-imports", token=admin.token,
                       data={"file": (io.BytesIO(roster), "roster.csv")}, content_type="multipart/form-data")
        self._add("roster_import", created(job, 202)["id"])
        wait_for(lambda: api.get(f"/orgs/{self.org_id}/roster-imports/{job.json['id']}",
                                 token=admin.token).json["status"] == "done", message="the roster imported")
