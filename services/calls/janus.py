"""A client for Janus's HTTP API and the VideoRoom plugin's room
administration.

`JanusApi(url, api_secret)` speaks the Janus API (`/janus`): sessions, plugin
handles, synchronous plugin requests and asynchronous messages whose results
arrive as events on the session's long poll. `VideoRoomAdmin` administers
rooms through a VideoRoom handle of the service's own: create and destroy
rooms, edit their list of allowed tokens, kick participants, list them.
The access-control design is in README.md, "Calls".

Every failure is a `JanusError`: `code` is Janus's error code (the core's,
e.g. 403 unauthorised or 458 no such session, or the plugin's, e.g. VideoRoom
426 no such room, 433 unauthorised, 436 id exists), or None when Janus did
not answer.

The Janus server is configured with `string_ids`, so room and participant
ids are strings (the calls service uses its call and participant ids)."""
from __future__ import annotations

import secrets
from typing import Any, Iterable

import requests

VIDEOROOM = "janus.plugin.videoroom"

# VideoRoom's error codes the calls service reacts to.
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_NO_SUCH_FEED = 428
VIDEOROOM_UNAUTHORIZED = 433
VIDEOROOM_ID_EXISTS = 436
VIDEOROOM_ROOM_EXISTS = 427
# The core's.
JANUS_UNAUTHORIZED = 403
JANUS_SESSION_NOT_FOUND = 458
JANUS_HANDLE_NOT_FOUND = 459


class JanusError(Exception):
    def __init__(self, code: int | None, reason: str):
        super().__init__(f"Janus error {code}: {reason}" if code is not None else reason)
        self.code = code
        self.reason = reason


def _transaction() -> str:
    return secrets.token_hex(8)


def _plugin_error(data: dict) -> JanusError | None:
    if "error_code" in data or "error" in data:
        return JanusError(data.get("error_code"), data.get("error", "plugin error"))
    return None


class JanusApi:
    """The Janus API on `url` (e.g. `http://janus:8088/janus`), authorised by
    `api_secret`. `timeout` bounds every request except long polls."""

    def __init__(self, url: str, api_secret: str | None = None, timeout: float = 10.0,
                 http: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.timeout = timeout
        self.http = http or requests.Session()

    def post(self, path: str, body: dict) -> dict:
        """POSTs a Janus request (a transaction and the secret added) and answers
        Janus's reply, raising `JanusError` for a reply of type `error`."""
        request = dict(body, transaction=body.get("transaction") or _transaction())
        if self.api_secret is not None:
            request["apisecret"] = self.api_secret
        try:
            response = self.http.post(f"{self.url}{path}", json=request, timeout=self.timeout)
            reply = response.json()
        except requests.RequestException as exc:
            raise JanusError(None, f"Janus did not answer: {exc}") from exc
        except ValueError as exc:
            raise JanusError(None, f"Janus answered {response.status_code} without JSON") from exc
        return self._checked(reply)

    @staticmethod
    def _checked(reply: dict) -> dict:
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(error.get("code"), error.get("reason", "unknown error"))
        return reply

    def info(self) -> dict:
        try:
            response = self.http.get(f"{self.url}/info", timeout=self.timeout)
            reply = response.json()
        except requests.RequestException as exc:
            raise JanusError(None, f"Janus did not answer: {exc}") from exc
        except ValueError as exc:
            raise JanusError(None, f"Janus answered {response.status_code} without JSON") from exc
        return self._checked(reply)

    def create_session(self) -> "JanusSession":
        reply = self.post("", {"janus": "create"})
        return JanusSession(self, reply["data"]["id"])

    def session(self, session_id: int) -> "JanusSession":
        """A session created earlier (by this process or another replica)."""
        return JanusSession(self, session_id)


class JanusSession:
    """A Janus session. Janus ends it after `session_timeout` seconds (60 by
    default) without a request: send `keepalive()` or keep a long poll
    (`events()`) open, which counts as one."""

    def __init__(self, api: JanusApi, session_id: int):
        self.api = api
        self.id = session_id

    def keepalive(self) -> None:
        self.api.post(f"/{self.id}", {"janus": "keepalive"})

    def destroy(self) -> None:
        self.api.post(f"/{self.id}", {"janus": "destroy"})

    def attach(self, plugin: str = VIDEOROOM, opaque_id: str | None = None) -> "PluginHandle":
        """A handle on `plugin`. `opaque_id` is passed to the event handlers with
        every event of the handle (the calls service puts its participant id there)."""
        body = {"janus": "attach", "plugin": plugin}
        if opaque_id is not None:
            body["opaque_id"] = opaque_id
        reply = self.api.post(f"/{self.id}", body)
        return PluginHandle(self, reply["data"]["id"], plugin)

    def handle(self, handle_id: int, plugin: str = VIDEOROOM) -> "PluginHandle":
        return PluginHandle(self, handle_id, plugin)

    def events(self, timeout: float = 35.0, max_events: int = 10) -> list[dict]:
        """Long poll: waits for events of this session (Janus holds the request
        up to 30 s) and answers them, or [] when none came. Raises `JanusError`
        458 once the session is gone."""
        params = {"maxev": max_events, "rid": _transaction()}
        if self.api.api_secret is not None:
            params["apisecret"] = self.api.api_secret
        try:
            response = self.api.http.get(f"{self.api.url}/{self.id}", params=params, timeout=timeout)
            reply = response.json()
        except requests.RequestException as exc:
            raise JanusError(None, f"Janus did not answer: {exc}") from exc
        except ValueError as exc:
            raise JanusError(None, f"Janus answered {response.status_code} without JSON") from exc
        replies = reply if isinstance(reply, list) else [reply]
        events = []
        for item in replies:
            self.api._checked(item)
            if item.get("janus") != "keepalive":
                events.append(item)
        return events


class PluginHandle:
    """A handle attached to a plugin in a session."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str):
        self.session = session
        self.id = handle_id
        self.plugin = plugin

    @property
    def _path(self) -> str:
        return f"/{self.session.id}/{self.id}"

    def request(self, body: dict) -> dict:
        """A synchronous plugin request (VideoRoom's create, edit, destroy,
        allowed, kick, listparticipants, exists...): answers the plugin's data,
        raising `JanusError` with the plugin's error code."""
        reply = self.session.api.post(self._path, {"janus": "message", "body": body})
        if reply.get("janus") != "success":
            raise JanusError(None, f"expected a synchronous answer to {body.get('request')}, got {reply.get('janus')}")
        data = reply.get("plugindata", {}).get("data", {})
        error = _plugin_error(data)
        if error:
            raise error
        return data

    def send(self, body: dict, jsep: dict | None = None, transaction: str | None = None) -> str:
        """An asynchronous message (VideoRoom's join, publish, configure, start,
        leave...): Janus acknowledges it and the result comes as an event on the
        session's long poll carrying the same transaction, which is answered.
        Pass a `transaction` to start waiting for that event before sending."""
        transaction = transaction or _transaction()
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        reply = self.session.api.post(self._path, message)
        if reply.get("janus") == "success":  # a request the plugin answered at once
            error = _plugin_error(reply.get("plugindata", {}).get("data", {}))
            if error:
                raise error
        return transaction

    def trickle(self, candidate: dict | None) -> None:
        """One ICE candidate (`{candidate, sdpMid, sdpMLineIndex}`), or None for
        the end of candidates."""
        payload = candidate if candidate is not None else {"completed": True}
        self.session.api.post(self._path, {"janus": "trickle", "candidate": payload})

    def hangup(self) -> None:
        """Closes the handle's PeerConnection, keeping the handle."""
        self.session.api.post(self._path, {"janus": "hangup"})

    def detach(self) -> None:
        self.session.api.post(self._path, {"janus": "detach"})


def event_data(event: dict) -> dict:
    """The plugin's data in an event from the long poll ({} if none)."""
    return event.get("plugindata", {}).get("data", {})


def raise_for_event(event: dict) -> dict:
    """The plugin's data in an event, raising `JanusError` if it is an error."""
    data = event_data(event)
    error = _plugin_error(data)
    if error:
        raise error
    return data


class VideoRoomAdmin:
    """Room administration through a VideoRoom handle of the calls service's
    own. `admin_key` is the plugin's key without which no room can be created.
    The handle is attached on first use, and attached again once if Janus lost
    it (the session timed out between two requests, or Janus restarted)."""

    def __init__(self, api: JanusApi, admin_key: str | None = None):
        self.api = api
        self.admin_key = admin_key
        self._handle: PluginHandle | None = None

    def _request(self, body: dict) -> dict:
        for attempt in (1, 2):
            if self._handle is None:
                self._handle = self.api.create_session().attach(VIDEOROOM)
            try:
                return self._handle.request(body)
            except JanusError as exc:
                if exc.code not in (JANUS_SESSION_NOT_FOUND, JANUS_HANDLE_NOT_FOUND) or attempt == 2:
                    raise
                self._handle = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Destroys the service's own session (rooms stay)."""
        if self._handle is not None:
            try:
                self._handle.session.destroy()
            except JanusError:
                pass
            self._handle = None

    def create_room(self, room: str, *, secret: str, allowed: Iterable[str], publishers: int,
                    description: str = "", bitrate: int | None = None, fir_freq: int = 10,
                    audiocodec: str = "opus", videocodec: str = "vp8",
                    notify_joining: bool = False) -> None:
        """A room only the holders of an `allowed` token can join, whose
        subscriptions must name the private id of a participant who joined
        (`require_pvtid`: subscribing needs a place in the room, and kicking a
        participant also cuts the media they receive), administered with
        `secret`, unlisted, never saved to Janus's configuration, recording
        only with the secret."""
        body: dict[str, Any] = {
            "request": "create",
            "room": room,
            "permanent": False,
            "is_private": True,
            "description": description or room,
            "secret": secret,
            "allowed": list(allowed),
            "require_pvtid": True,
            "publishers": publishers,
            "fir_freq": fir_freq,
            "audiocodec": audiocodec,
            "videocodec": videocodec,
            "notify_joining": notify_joining,
            "lock_record": True,
        }
        if bitrate is not None:
            body["bitrate"] = bitrate
        if self.admin_key is not None:
            body["admin_key"] = self.admin_key
        self._request(body)

    def exists(self, room: str) -> bool:
        return bool(self._request({"request": "exists", "room": room}).get("exists"))

    def allow(self, room: str, secret: str, tokens: Iterable[str]) -> set[str]:
        """Adds tokens to the room's allowed list; answers the whole list."""
        return self._allowed(room, secret, "add", tokens)

    def disallow(self, room: str, secret: str, tokens: Iterable[str]) -> set[str]:
        """Removes tokens from the allowed list (nobody can join with them any
        more; who is in the room stays until kicked); answers the whole list."""
        return self._allowed(room, secret, "remove", tokens)

    def _allowed(self, room: str, secret: str, action: str, tokens: Iterable[str]) -> set[str]:
        data = self._request({"request": "allowed", "room": room, "secret": secret,
                                    "action": action, "allowed": list(tokens)})
        return set(data.get("allowed", []))

    def kick(self, room: str, secret: str, participant: str) -> None:
        """Removes a participant: Janus closes their publishing PeerConnection and
        stops the media of their subscriptions. Remove their token first
        (`disallow`) so that they cannot join again."""
        self._request({"request": "kick", "room": room, "secret": secret, "id": participant})

    def remove(self, room: str, secret: str, participant: str, token: str) -> None:
        """`disallow` then `kick`, the order that leaves no moment to rejoin; a
        participant who is not in the room (any more) is not an error."""
        self.disallow(room, secret, [token])
        try:
            self.kick(room, secret, participant)
        except JanusError as exc:
            if exc.code != VIDEOROOM_NO_SUCH_FEED:
                raise

    def moderate(self, room: str, secret: str, participant: str, mid: str, mute: bool) -> None:
        """Stops (or lets again) one of a participant's published streams, by
        its `mid`, from reaching anyone: what the client may still send is dropped."""
        self._request({"request": "moderate", "room": room, "secret": secret, "id": participant,
                       "mid": mid, "mute": mute})

    def participants(self, room: str) -> list[dict]:
        """Everyone who joined the room: `id`, `display`, `publisher` (whether
        they send media), `talking`."""
        return self._request({"request": "listparticipants", "room": room}).get("participants", [])

    def destroy_room(self, room: str, secret: str) -> None:
        """Destroys the room; everyone in it is told and their media stops."""
        self._request({"request": "destroy", "room": room, "secret": secret, "permanent": False})
