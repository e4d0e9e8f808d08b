"""Chat helpers over the public API, for the in-process and the real platform."""
from __future__ import annotations

import io

from devkit.helpers import Api, wait_for

from .school import Person


def created(response, status: int = 201) -> dict:
    assert response.status_code == status, response
    return response.json


def invitations(api: Api, person: Person) -> list[dict]:
    """The person's pending invitations (all of them a test makes)."""
    return created(api.get("/me/chat-invitations", params={"limit": 200}, token=person.token), 200)["items"]


def invitation_id(api: Api, person: Person, chat_id: str) -> str:
    return next(inv["id"] for inv in invitations(api, person) if inv["chat"]["id"] == chat_id)


def file_part(content: bytes, name: str) -> dict:
    """The multipart body of an upload, as keyword arguments of `Api.post`."""
    return {"data": {"file": (io.BytesIO(content), name)}, "content_type": "multipart/form-data"}


def upload(api: Api, person: Person, name: str, content: bytes):
    return api.post("/files", token=person.token, **file_part(content, name))


def invitation_to(api: Api, person: Person, predicate) -> dict:
    """Wait until the person holds an invitation to a chat matching `predicate(chat preview)`."""
    return wait_for(lambda: next((inv for inv in invitations(api, person) if predicate(inv["chat"])), None),
                    message=f"an invitation for {person}")


def accept(api: Api, person: Person, invitation: dict) -> dict:
    response = api.post(f"/chat-invitations/{invitation['id']}/accept",
                        {"accepted_rules_version": invitation["chat"]["rules_version"]}, token=person.token)
    assert response.status_code == 200, response
    return response.json


def join_official(api: Api, person: Person, org_id: str, purpose: str, unit_id: str | None = None) -> dict:
    """Accept the platform's invitation to an official chat."""
    invitation = invitation_to(api, person, lambda chat: chat["org_id"] == org_id and chat["purpose"] == purpose
                               and chat["unit_id"] == unit_id)
    return accept(api, person, invitation)


def my_chat(api: Api, person: Person, predicate) -> dict | None:
    return next((chat for chat in api.get("/chats", params={"limit": 200}, token=person.token).json["items"]
                 if predicate(chat)), None)


def send(api: Api, person: Person, chat_id: str, text: str, **fields) -> dict:
    response = api.post(f"/chats/{chat_id}/messages", {"text": text, **fields}, token=person.token)
    assert response.status_code == 201, response
    return response.json


def texts(api: Api, person: Person, chat_id: str) -> list[str]:
    response = api.get(f"/chats/{chat_id}/messages", token=person.token)
    assert response.status_code == 200, response
    return [message["text"] for message in response.json["items"]]
