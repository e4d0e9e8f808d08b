"""What a person's realtime stream receives: read off the in-process
gateway's hub (`Frames`), or off a real socket on the real platform
(`RecordedStream`, with `Post` posting as the apps do), for tests of the
stream's promise: every push meant for an open socket arrives, or the socket
is told to resync."""
from __future__ import annotations

import json
import threading
import time
import uuid

import websocket

from devkit.helpers import Api, wait_for
from services.common.realtime import RESYNC

from .school import Person


class Frames:
    def __init__(self, platform, person: Person):
        self.hub = platform.gateway.extensions["sferum.gateway"]["hub"]
        self.subscriber = self.hub.subscribe(person.id)
        self.person = person
        self.seen: list[dict] = []

    def read(self) -> list[dict]:
        """Every frame so far, the new ones unframed: 0x81, length, payload (the server never masks)."""
        raw = self.subscriber.take(timeout=0.05)
        while raw:
            size, start = raw[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(raw[2:4], "big"), 4
            self.seen.append(json.loads(raw[start:start + size]))
            raw = raw[start + size:]
        return self.seen

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.read()]

    def wait(self, frame_type: str, predicate=lambda data: True) -> dict:
        """The data of the first frame of this type (that `predicate` accepts), once it came."""
        return wait_for(lambda: next((f["data"] for f in self.read() if f["type"] == frame_type
                                      and predicate(f["data"])), None),
                        message=f"{frame_type} on {self.person}'s stream")

    def close(self) -> None:
        self.hub.unsubscribe(self.subscriber)


class RecordedStream:
    """One user's socket on one gateway; a thread notes every frame with the
    time it arrived."""

    def __init__(self, base_url: str, token: str):
        url = base_url.replace("http://", "ws://") + "/api/v1/stream"
        self.ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=15)
        assert json.loads(self.ws.recv())["type"] == "stream.ready"
        self.ws.settimeout(0.5)
        self.frames: list[tuple[float, dict]] = []
        self.closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, OSError):
                self.closed = True
                return
            if text:
                self.frames.append((time.time(), json.loads(text)))

    def messages(self, chat_id: str) -> list[tuple[float, dict]]:
        """(arrival, message) of the chat's `message.created` frames."""
        return [(at, frame["data"]) for at, frame in list(self.frames)
                if frame["type"] == "message.created" and frame["data"]["chat_id"] == chat_id]

    def resyncs(self) -> list[float]:
        return [at for at, frame in list(self.frames) if frame["type"] == RESYNC]

    def has(self, chat_id: str, text: str) -> bool:
        return any(message["text"] == text for _, message in self.messages(chat_id))

    def stop(self) -> None:
        """Stops reading; the reader notices within its 0.5 s receive timeout."""
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self._thread.join(5)
        self.ws.close()


class Post:
    """One message as a phone sends it: a text, its Idempotency-Key, and every
    try until one is answered 201."""

    def __init__(self, text: str):
        self.text = text
        self.key = str(uuid.uuid4())
        self.sent_at: float | None = None  # the first try
        self.tries: list[tuple[float, int | str]] = []  # (seconds, status or error)
        self.message: dict | None = None

    @property
    def accepted(self) -> bool:
        return self.message is not None

    def send(self, api: Api, token: str, chat_id: str, deadline: float) -> "Post":
        while time.monotonic() < deadline and not self.accepted:
            started = time.time()
            self.sent_at = self.sent_at or started
            try:
                response = api.post(f"/chats/{chat_id}/messages", {"text": self.text}, token=token,
                                    headers={"Idempotency-Key": self.key})
                outcome = response.status_code
            except OSError as error:
                response, outcome = None, type(error).__name__
            self.tries.append((time.time() - started, outcome))
            if outcome == 201:
                self.message = response.json
        return self


def covered(post: Post, stream: RecordedStream, chat_id: str) -> str | None:
    """How `stream` learned of the accepted `post`: "live", "resync" (a resync
    frame came after the post was first sent), or None: a silent gap."""
    if any(message["id"] == post.message["id"] for _, message in stream.messages(chat_id)):
        return "live"
    if any(at >= post.sent_at for at in stream.resyncs()):
        return "resync"
    return None
