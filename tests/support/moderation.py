"""Moderation helpers over the public API, for the in-process and the real
platform. Moderation learns chats, members and messages from events, so the
helpers wait until it knows what a test is about to use."""
from __future__ import annotations

from datetime import timedelta

from devkit.helpers import Api, wait_for
from services.common.clock import isoformat, utcnow

from .chats import accept, created, invitation_to
from .school import Person

RULES = ["Общаемся вежливо.", "Пишем по делу.", "Без рекламы."]


def group_chat(api: Api, org_id: str, creator: Person, members: list[Person], title: str = "Кружок",
               rules: list[str] | None = None) -> str:
    """A group chat made by `creator` (its moderator) that `members` joined, known to moderation."""
    def create():
        # messaging learns the school's members from orgstructure's events: retry until it knows them all.
        response = api.post("/chats", {"org_id": org_id, "kind": "group", "title": title, "rules": rules or RULES,
                                       "invite_user_ids": [p.id for p in members]}, token=creator.token)
        if response.status_code == 422 and "invite_user_ids" in response.json["error"]["details"].get("fields", {}):
            return None
        return created(response)

    chat_id = wait_for(create, message="messaging knowing the members")["id"]
    for person in members:
        accept(api, person, invitation_to(api, person, lambda chat: chat["id"] == chat_id))
    wait_moderating(api, creator, chat_id)
    for person in members:
        wait_member(api, person, chat_id)
    return chat_id


def wait_member(api: Api, person: Person, chat_id: str) -> None:
    wait_for(lambda: api.get(f"/chats/{chat_id}/unblock-requests", token=person.token).status_code == 200,
             message=f"moderation knowing {person} is in the chat")


def wait_moderating(api: Api, person: Person, chat_id: str) -> None:
    wait_for(lambda: api.get(f"/chats/{chat_id}/reports", token=person.token).status_code == 200,
             message=f"moderation knowing {person} moderates the chat")


def when_ready(request):
    """A call that may name something moderation has not heard of yet, retried while it answers not_ready."""
    def attempt():
        response = request()
        return None if response.status_code == 409 and response.json["error"]["code"] == "not_ready" else response
    return wait_for(attempt, message="moderation knowing the message")


def report(api: Api, person: Person, message_id: str, reason: str = "Грубость", **fields):
    return when_ready(lambda: api.post("/reports", {"message_id": message_id, "reason": reason, **fields},
                                       token=person.token))


def remove(api: Api, moderator: Person, message_id: str, **fields):
    return when_ready(lambda: api.post(f"/messages/{message_id}/removal", fields, token=moderator.token))


def violations(api: Api, moderator: Person, chat_id: str, person: Person, count: int, rule: int = 1) -> list[str]:
    ids = []
    for _ in range(count):
        response = api.post(f"/chats/{chat_id}/violations", {"user_id": person.id, "rule": rule},
                            token=moderator.token)
        assert response.status_code == 201, response
        ids.append(response.json["id"])
    return ids


def in_days(days: float) -> str:
    return isoformat(utcnow() + timedelta(days=days))


def block(api: Api, moderator: Person, chat_id: str, person: Person, violation_ids: list[str], until: str):
    return api.post(f"/chats/{chat_id}/blocks", {"user_id": person.id, "until": until,
                                                 "violation_ids": violation_ids}, token=moderator.token)


def may_post(api: Api, person: Person, chat_id: str) -> bool:
    response = api.post(f"/chats/{chat_id}/messages", {"text": "Можно написать?"}, token=person.token)
    assert response.status_code in (201, 403), response
    return response.status_code == 201


def log_actions(api: Api, moderator: Person, chat_id: str) -> list[str]:
    response = api.get(f"/chats/{chat_id}/moderation-log", params={"limit": 200}, token=moderator.token)
    assert response.status_code == 200, response
    return [entry["action"] for entry in response.json["items"]]

