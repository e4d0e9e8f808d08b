"""Calls helpers over the public API: a school where calls know the chats,
verified teachers, and the realtime frames people receive."""
from __future__ import annotations

import json
import threading

from werkzeug.serving import make_server

from devkit.helpers import Api, wait_for

from .chats import created, join_official
from .school import Person, School


def group_chat(api: Api, creator: Person, org_id: str, members: list[Person], title: str, **fields) -> str:
    """A chat the creator made and every member joined."""
    chat_id = created(api.post("/chats", {"org_id": org_id, "kind": "group", "title": title,
                                          "invite_user_ids": [p.id for p in members], **fields},
                               token=creator.token))["id"]
    for person in members:
        invitation = next(inv for inv in api.get("/me/chat-invitations", params={"limit": 200},
                                                 token=person.token).json["items"] if inv["chat"]["id"] == chat_id)
        created(api.post(f"/chat-invitations/{invitation['id']}/accept",
                         {"accepted_rules_version": invitation["chat"]["rules_version"]}, token=person.token), 200)
    return chat_id


def class_chat(api: Api, school: School) -> str:
    """5А's students' chat, with its class head and its student in it."""
    chat_id = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    return chat_id


def direct_chat(api: Api, org_id: str, caller: Person, callee: Person) -> str:
    chat = api.post("/chats", {"org_id": org_id, "kind": "direct", "user_id": callee.id}, token=caller.token)
    assert chat.status_code in (200, 201), chat
    invitation = next(inv for inv in api.get("/me/chat-invitations", params={"limit": 200},
                                             token=callee.token).json["items"] if inv["chat"]["id"] == chat.json["id"])
    created(api.post(f"/chat-invitations/{invitation['id']}/accept",
                     {"accepted_rules_version": invitation["chat"]["rules_version"]}, token=callee.token), 200)
    return chat.json["id"]


def calls_know_members(platform, chat_id: str, user_ids) -> None:
    """calls learns chats and their members from messaging's events: wait for them."""
    from services.calls.models import ChatMember

    runtime = platform.apps["calls"].extensions["sferum"]

    def known():
        with runtime.connection():
            have = {row.user_id for row in ChatMember.select().where(ChatMember.chat_id == chat_id)}
        return set(user_ids) <= have
    wait_for(known, message=f"calls knowing the members of chat {chat_id}")


def calls_know_teacher(platform, org_id: str, user_id: str) -> None:
    from services.calls.models import VerifiedTeacher

    runtime = platform.apps["calls"].extensions["sferum"]

    def known():
        with runtime.connection():
            return VerifiedTeacher.select().where(VerifiedTeacher.org_id == org_id,
                                                  VerifiedTeacher.user_id == user_id).exists()
    wait_for(known, message="calls knowing the verified teacher")


def calls_published_everything(platform) -> None:
    """calls's outbox is empty: what a test taps from now on is its own doing."""
    runtime = platform.apps["calls"].extensions["sferum"]
    wait_for(lambda: runtime.relay.pending() == 0, message="calls's outbox relayed")


class Stream:
    """One user's realtime frames, as the gateway's hub hands them to a socket."""

    def __init__(self, platform, person: Person):
        self.hub = platform.gateway.extensions["sferum.gateway"]["hub"]
        self.subscriber = self.hub.subscribe(person.id)
        self.frames: list[dict] = []

    def _read(self) -> list[dict]:
        raw = self.subscriber.take(timeout=0.05)
        while raw:  # unframe: 0x81, length, payload (the server never masks)
            size, start = raw[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(raw[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(raw[2:10], "big"), 10
            self.frames.append(json.loads(raw[start:start + size]))
            raw = raw[start + size:]
        return self.frames

    def of(self, frame_type: str, match=lambda data: True, **data) -> list[dict]:
        """Frames of this type whose data holds these items (a `change` of
        call.updated, say) and satisfies `match`."""
        self._read()
        return [f["data"] for f in self.frames if f["type"] == frame_type and match(f["data"])
                and all(f["data"].get(key) == value for key, value in data.items())]

    def wait(self, frame_type: str, timeout: float = 15, match=lambda data: True, **data) -> dict:
        return wait_for(lambda: (self.of(frame_type, match, **data) or [None])[-1], timeout=timeout,
                        message=f"a {frame_type} frame {data or ''}")

    def close(self) -> None:
        self.hub.unsubscribe(self.subscriber)


class EventTap:
    """The events published on the platform's bus under a routing pattern
    (`calls.#`), as a consumer of its own reads them off the exchange."""

    def __init__(self, amqp_url: str = "memory://", pattern: str = "calls.#"):
        from kombu import Queue

        from services.common.bus import connect, events_exchange

        self.connection = connect(amqp_url)
        self.queue = Queue(f"tap-{id(self)}", exchange=events_exchange, routing_key=pattern,
                           auto_delete=True)(self.connection.channel())
        self.queue.declare()
        self.events: list[dict] = []

    def read(self) -> list[dict]:
        while True:
            message = self.queue.get(no_ack=True)
            if message is None:
                return self.events
            self.events.append(json.loads(message.body))

    def of(self, event_type: str, **data) -> list[dict]:
        return [event for event in self.read() if event["type"] == event_type
                and all(event["data"].get(key) == value for key, value in data.items())]

    def wait(self, event_type: str, timeout: float = 15, **data) -> dict:
        return wait_for(lambda: (self.of(event_type, **data) or [None])[-1], timeout=timeout,
                        message=f"the event {event_type} {data or ''}")

    def close(self) -> None:
        self.connection.release()


class EventsDoor:
    """The calls service's app as Janus reaches it (its address is known
    before the app is made), with a switch that makes the path fail (503) as
    if the service were away: Janus's event handler then gives up on the
    events after its retries."""

    def __init__(self):
        self.app = None
        self.closed = threading.Event()
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/internal/janus-events"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="janus-events-door").start()

    def __call__(self, environ, start_response):
        if self.closed.is_set() or self.app is None:
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)

    def close(self):
        self.server.shutdown()
