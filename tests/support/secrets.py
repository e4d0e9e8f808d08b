"""A platform that handled every kind of secret a URL carries, for the tests
that read its logs: a school invite accepted, a chat link previewed and
accepted, a realtime stream opened with a token and a ticket in its query."""
from __future__ import annotations

import json
import secrets

import websocket

from devkit.helpers import Api, phone, wait_for
from services.orgstructure.demo import DEMO_ADMIN_PHONE, DEMO_SCHOOL


def handle_secrets(base: str) -> dict[str, str]:
    """Through the gateway at `base`, on a platform holding the demo school;
    returns the secrets it put into URLs, by name."""
    api = Api(base)
    admin = api.sign_in(DEMO_ADMIN_PHONE)["access_token"]
    org_id = wait_for(lambda: next((org["org_id"] for org in api.get("/me/orgs", token=admin).json["items"]
                                    if org["name"] == DEMO_SCHOOL and "admin" in org["roles"]), None),
                      message="the demo admin's rights")
    invite = api.post(f"/orgs/{org_id}/invites", {"role": "teacher"}, token=admin)
    assert invite.status_code == 201, invite
    newcomer = api.sign_in(phone(4242))
    assert api.get(f"/invites/{invite.json['token']}").status_code == 200
    joined = api.post(f"/invites/{invite.json['token']}/accept", token=newcomer["access_token"])
    assert joined.status_code == 200 and joined.json["status"] == "joined", joined

    chat = api.post("/chats", {"org_id": org_id, "kind": "group", "title": "Методическое объединение",
                               "rules": ["Вежливость"]}, token=admin)
    assert chat.status_code == 201, chat
    link = api.post(f"/chats/{chat.json['id']}/invites", {}, token=admin)
    assert link.status_code == 201, link

    def previewed():
        # messaging learns of the new teacher from orgstructure's event.
        response = api.get(f"/chat-invites/{link.json['token']}", token=newcomer["access_token"])
        return response if response.status_code == 200 else None

    preview = wait_for(previewed, message="the chat link's preview")
    accepted = api.post(f"/chat-invites/{link.json['token']}/accept",
                        {"accepted_rules_version": preview.json["rules_version"]}, token=newcomer["access_token"])
    assert accepted.status_code == 200, accepted

    # The query carries the access token and a ticket as older and browser clients send them;
    # the header is what opens it.
    ticket = secrets.token_urlsafe(24)
    query = f"?token={newcomer['access_token']}&ticket={ticket}"
    assert api.get("/stream" + query).status_code == 426
    stream = websocket.create_connection(base.replace("http://", "ws://") + "/api/v1/stream" + query,
                                         header=[f"Authorization: Bearer {newcomer['access_token']}"], timeout=10)
    assert json.loads(stream.recv())["type"] == "stream.ready"
    stream.close()
    return {"invite": invite.json["token"], "chat link": link.json["token"],
            "access token": newcomer["access_token"], "ticket": ticket}


def lines_with_secrets(text: str, secrets_by_name: dict[str, str]) -> list[str]:
    return [f"{name}: {line}" for line in text.splitlines() for name, secret in secrets_by_name.items()
            if secret in line]
