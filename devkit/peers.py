"""WebRTC peers (aiortc) in a Janus VideoRoom, for tests and benchmarks.

A `RoomPeer` is one participant: its own Janus session, a participant handle
that joins the room with a token (and may publish a synthetic video and audio
track), and subscriber handles that receive other participants' feeds. It
speaks Janus's HTTP API through `services.calls.janus`, as the calls service
does on the participants' behalf, and reads the session's events on a long
poll in a thread of its own.

    peer = RoomPeer(janus.url, janus.api_secret, room, "teacher", token=...)
    await peer.join()
    await peer.publish()
    viewer = RoomPeer(..., "student", token=...)
    await viewer.join()
    subscription = await viewer.subscribe(["teacher"])
    await subscription.video.wait_for_frames(1, timeout=10)

Everything that waits takes a deadline; nothing sleeps for a fixed time."""
from __future__ import annotations

import array
import asyncio
import bisect
import fractions
import math
import threading
import time
from dataclasses import dataclass, field

from aiortc import (RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnection,
                    RTCSessionDescription)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from services.calls.janus import (JANUS_SESSION_NOT_FOUND, VIDEOROOM, JanusApi, JanusError,
                                  JanusSession, PluginHandle, event_data, raise_for_event)

WIDTH, HEIGHT = 320, 240
BRIGHT, DARK = 220, 30   # luma of the left and right halves of the test pattern
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
TONE_HZ = 440


class PatternVideoTrack(VideoStreamTrack):
    """30 frames a second of a known picture: the left half bright, the right
    half dark, and a grey bar sweeping across the middle rows so that the
    encoder always has motion to send."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT):
        super().__init__()
        self.width, self.height = width, height
        self.frames_sent = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(self.width, self.height, "yuv420p")
        luma = frame.planes[0]
        half = self.width // 2
        plain = (bytes([BRIGHT]) * half + bytes([DARK]) * (self.width - half)).ljust(luma.line_size, b"\0")
        bar_at = (self.frames_sent * 4) % (self.width - 16)
        barred = bytearray(plain)
        barred[bar_at:bar_at + 16] = bytes([128]) * 16
        top, bottom = self.height * 2 // 5, self.height * 3 // 5
        luma.update(plain * top + bytes(barred) * (bottom - top) + plain * (self.height - bottom))
        for chroma in frame.planes[1:]:
            chroma.update(bytes([128]) * chroma.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.frames_sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone, 48 kHz mono, in 20 ms frames paced to the wall clock."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        # One second holds a whole number of cycles, so it loops without a click.
        self._second = array.array("h", (int(8000 * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE))
                                         for n in range(AUDIO_RATE))).tobytes()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._start: float | None = None
        self._timestamp = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += self._samples
            await asyncio.sleep(self._start + self._timestamp / AUDIO_RATE - time.time())
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        offset = (self._timestamp % AUDIO_RATE) * 2
        frame.planes[0].update(self._second[offset:offset + self._samples * 2])
        frame.pts = self._timestamp
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def looks_like_pattern(frame: VideoFrame) -> bool:
    """Whether a decoded frame shows `PatternVideoTrack`'s picture: the mean
    luma of a block in the top-left corner is bright and one in the top-right
    corner dark (the codec blurs edges, so the blocks keep clear of them)."""
    luma = frame.planes[0]
    data = bytes(luma)

    def mean(x0: int, y0: int, size: int = 16) -> float:
        total = 0
        for y in range(y0, y0 + size):
            row = y * luma.line_size
            total += sum(data[row + x0:row + x0 + size])
        return total / (size * size)

    width, height = frame.width, frame.height
    return mean(width // 8, height // 10) > (BRIGHT + DARK) / 2 + 40 and \
        mean(width - width // 8 - 16, height // 10) < (BRIGHT + DARK) / 2 - 40


class TrackReceiver:
    """Reads a remote track to its end, counting what arrives: frames, their
    monotonic arrival times, the last video frame's size and how many of the
    video frames checked showed the test pattern."""

    def __init__(self, track: MediaStreamTrack, check_pattern: bool = True):
        self.track = track
        self.kind = track.kind
        self.frames = 0
        self.pattern_frames = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.size: tuple[int, int] | None = None
        self.sample_rate: int | None = None
        self.arrivals: list[float] = []   # monotonic arrival time of every frame
        self.ended = False
        self._check_pattern = check_pattern and track.kind == "video"
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                now = time.monotonic()
                self.frames += 1
                self.first_at = self.first_at or now
                self.last_at = now
                self.arrivals.append(now)
                if self.kind == "video":
                    self.size = (frame.width, frame.height)
                    # Checking every frame would cost a little CPU per frame per
                    # subscriber; every tenth says as much.
                    if self._check_pattern and self.frames % 10 == 1 and looks_like_pattern(frame):
                        self.pattern_frames += 1
                else:
                    self.sample_rate = frame.sample_rate
                self._changed.set()
        except MediaStreamError:
            pass
        finally:
            self.ended = True
            self._changed.set()

    async def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what}: not within {timeout}s ({self.frames} {self.kind} frames)")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_for_frames(self, count: int, timeout: float) -> None:
        start = self.frames
        await self.wait_for(lambda: self.frames - start >= count, timeout,
                            f"{count} more {self.kind} frames")

    def frames_since(self, moment: float | None) -> int:
        """How many frames arrived after the monotonic time `moment` (all of
        them for None)."""
        if moment is None:
            return self.frames
        return len(self.arrivals) - bisect.bisect_right(self.arrivals, moment)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass


def ice_configuration(ice_servers: list[dict] | None = None, relay_only: bool = False) -> RTCConfiguration:
    """aiortc's configuration from `ice_servers` as `POST /calls/{id}/join`
    answers them (`[{urls, username?, credential?}]`). No servers means none:
    aiortc would otherwise ask a public STUN server. `relay_only` keeps only
    the TURN relay's candidates (iceTransportPolicy "relay")."""
    servers = [RTCIceServer(urls=server["urls"], username=server.get("username"),
                            credential=server.get("credential")) for server in ice_servers or []]
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def selected_candidate_types(pc: RTCPeerConnection) -> set[tuple[str, str]]:
    """(local, remote) candidate types of the pairs ICE selected: ("relay",
    "host") for media through TURN to Janus. Reads aioice's selected pairs,
    which aiortc does not expose otherwise."""
    types = set()
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is None:
            continue
        connection = transport.transport._connection
        for pair in connection._nominated.values():
            types.add((pair.local_candidate.type, pair.remote_candidate.type))
    return types


def take_dtls_server_role(pc: RTCPeerConnection) -> None:
    """Answers Janus's offer with `a=setup:passive`, so that Janus opens the
    DTLS handshake. aiortc would otherwise take the client's role, and its
    first ClientHello often reaches Janus before Janus's ICE has settled on
    the pair; Janus drops it, and aiortc (OpenSSL's DTLS timer) sends it
    again only a second later: half the subscriptions took 1.05 s instead of
    0.05 s to connect. Browsers retransmit sooner. Janus, as the ICE
    controlling side, sends its ClientHello only once ICE is done."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is not None and transport._role == "auto":
            transport._set_role("server")


async def wait_connected(pc: RTCPeerConnection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise ConnectionError(f"PeerConnection {pc.connectionState}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"PeerConnection {pc.connectionState} after {timeout}s")
        changed = asyncio.Event()
        pc.once("connectionstatechange", changed.set)
        try:
            await asyncio.wait_for(changed.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pass


class _Poller:
    """Reads a Janus session's long poll in a daemon thread and hands every
    event to the event loop: answers to our messages by transaction, the rest
    to the queue of the handle that sent them."""

    def __init__(self, session: JanusSession, loop: asyncio.AbstractEventLoop):
        self.session = session
        self.loop = loop
        self.waiting: dict[str, asyncio.Future] = {}
        self.queues: dict[int, asyncio.Queue] = {}
        self.closed = threading.Event()
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"janus-poll-{session.id}")
        self.thread.start()

    def queue(self, handle_id: int) -> asyncio.Queue:
        return self.queues.setdefault(handle_id, asyncio.Queue())

    def _run(self) -> None:
        while not self.closed.is_set():
            try:
                events = self.session.events(timeout=35)
            except JanusError as exc:
                if self.closed.is_set() or exc.code == JANUS_SESSION_NOT_FOUND:
                    self.error = exc
                    break
                # Janus restarting or slow: try again shortly, until closed.
                self.closed.wait(0.2)
                continue
            for event in events:
                if not self._hand_over(self._deliver, event):
                    return
        self._hand_over(self._fail_waiting)

    def _hand_over(self, callback, *args) -> bool:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
            return True
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            return False

    def _deliver(self, event: dict) -> None:
        future = self.waiting.pop(event.get("transaction"), None)
        if future is not None and not future.done():
            future.set_result(event)
            return
        sender = event.get("sender")
        if sender is not None:
            self.queue(sender).put_nowait(event)

    def _fail_waiting(self) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(self.error or JanusError(None, "session closed"))
        self.waiting.clear()

    def expect(self, transaction: str) -> asyncio.Future:
        future = self.loop.create_future()
        self.waiting[transaction] = future
        return future


@dataclass
class Subscription:
    """What one subscriber handle receives: a PeerConnection from Janus and a
    receiver per remote track."""
    handle: PluginHandle
    pc: RTCPeerConnection
    receivers: list[TrackReceiver] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> TrackReceiver:
        for receiver in self.receivers:
            if receiver.kind == kind:
                return receiver
        raise LookupError(f"no {kind} track received")

    @property
    def video(self) -> TrackReceiver:
        return self.of_kind("video")

    @property
    def audio(self) -> TrackReceiver:
        return self.of_kind("audio")


class RoomPeer:
    """One participant of a VideoRoom (see the module's docstring)."""

    def __init__(self, janus_url: str, api_secret: str | None, room: str, participant: str, *,
                 token: str | None = None, display: str | None = None,
                 ice_servers: list[dict] | None = None, relay_only: bool = False,
                 timeout: float = 15.0):
        self.api = JanusApi(janus_url, api_secret)
        self.room = room
        self.participant = participant
        self.token = token
        self.display = display or participant
        self.ice_servers = ice_servers
        self.relay_only = relay_only
        self.timeout = timeout
        self.session: JanusSession | None = None
        self.handle: PluginHandle | None = None
        self.private_id: int | None = None
        self.publishers: list[dict] = []
        self.publisher_pc: RTCPeerConnection | None = None
        self.subscriptions: list[Subscription] = []
        self._poller: _Poller | None = None

    async def _call(self, function, *args, **kwargs):
        return await asyncio.to_thread(function, *args, **kwargs)

    async def _message(self, handle: PluginHandle, body: dict, jsep: dict | None = None) -> dict:
        """Sends an asynchronous message and waits for the event answering it;
        raises `JanusError` if the plugin refused it."""
        transaction = f"{handle.id}-{time.monotonic_ns()}"
        answer = self._poller.expect(transaction)
        try:
            await self._call(handle.send, body, jsep, transaction)
        except Exception:
            self._poller.waiting.pop(transaction, None)
            raise
        event = await asyncio.wait_for(answer, self.timeout)
        raise_for_event(event)
        return event

    async def start_session(self) -> None:
        if self.session is None:
            self.session = await self._call(self.api.create_session)
            self._poller = _Poller(self.session, asyncio.get_running_loop())

    async def join(self) -> dict:
        """Joins the room as a participant (VideoRoom's "publisher" type, whether
        or not it will send media): answers VideoRoom's `joined` data, with the
        room's current publishers and this participant's private id."""
        await self.start_session()
        self.handle = await self._call(self.session.attach, VIDEOROOM, self.participant)
        body = {"request": "join", "ptype": "publisher", "room": self.room,
                "id": self.participant, "display": self.display}
        if self.token is not None:
            body["token"] = self.token
        data = event_data(await self._message(self.handle, body))
        self.private_id = data["private_id"]
        self.publishers = data.get("publishers", [])
        return data

    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(ice_configuration(self.ice_servers, self.relay_only))

    async def publish(self, video: bool = True, audio: bool = True) -> RTCPeerConnection:
        """Sends the test pattern and the tone into the room; answers once the
        PeerConnection is connected."""
        pc = self._new_pc()
        self.publisher_pc = pc
        if video:
            pc.addTrack(PatternVideoTrack())
        if audio:
            pc.addTrack(ToneAudioTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        event = await self._message(self.handle, {"request": "publish", "audio": audio, "video": video},
                                    jsep=offer)
        jsep = event.get("jsep")
        if not jsep:
            raise JanusError(None, f"no answer to the publisher's offer: {event}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        await wait_connected(pc, self.timeout)
        return pc

    async def subscribe(self, feeds: list[str], room: str | None = None) -> Subscription:
        """Receives the given participants' feeds on a new handle; answers once
        the PeerConnection is connected (frames follow: wait on the receivers).
        `room` is this peer's room unless a test tries another one."""
        if self.private_id is None:
            raise RuntimeError("join the room before subscribing")
        handle = await self._call(self.session.attach, VIDEOROOM, self.participant)
        event = await self._message(handle, {
            "request": "join", "ptype": "subscriber", "room": room or self.room,
            "streams": [{"feed": feed} for feed in feeds], "private_id": self.private_id})
        jsep = event.get("jsep")
        if not jsep:
            raise JanusError(None, f"no offer for the subscription: {event}")
        pc = self._new_pc()
        subscription = Subscription(handle, pc, feeds=list(feeds))
        pc.on("track", lambda track: subscription.receivers.append(TrackReceiver(track)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        take_dtls_server_role(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        await self._message(handle, {"request": "start"}, jsep=answer)
        self.subscriptions.append(subscription)
        await wait_connected(pc, self.timeout)
        return subscription

    async def next_event(self, timeout: float, handle: PluginHandle | None = None,
                         match=lambda event: True) -> dict:
        """The next unsolicited event of a handle (the participant handle by
        default) that `match`es, within `timeout` seconds; others are dropped."""
        queue = self._poller.queue((handle or self.handle).id)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching Janus event within {timeout}s")
            try:
                event = await asyncio.wait_for(queue.get(), remaining)
            except asyncio.TimeoutError:
                continue
            if match(event):
                return event

    async def leave(self) -> None:
        """Leaves the room (VideoRoom's `leave`), keeping the session."""
        if self.handle is not None:
            await self._message(self.handle, {"request": "leave"})

    async def close(self) -> None:
        """Closes every PeerConnection and destroys the Janus session (Janus
        then tells the room this participant left)."""
        for subscription in self.subscriptions:
            for receiver in subscription.receivers:
                await receiver.stop()
            await subscription.pc.close()
        if self.publisher_pc is not None:
            await self.publisher_pc.close()
        if self._poller is not None:
            self._poller.closed.set()
        if self.session is not None:
            try:
                await self._call(self.session.destroy)
            except JanusError:
                pass  # already gone: timed out, or Janus stopped
        # Janus leaves a destroyed session's pending long poll to run out (30 s):
        # the poller's daemon thread ends then, and is not waited for.


class CallPeer:
    """One participant of a call through the SFU, as an app would be: it joins
    with `POST /calls/{id}/join` and exchanges its SDP with Janus only through
    `POST /calls/{id}/signal`, never talking to Janus's API itself; the ICE
    servers (and TURN credentials) are the ones the join answered.

        peer = CallPeer(api, token, call_id)
        await peer.join()
        await peer.publish()
        viewer = CallPeer(api, other_token, call_id)
        await viewer.join()
        subscription = await viewer.subscribe([peer.participant_id])
        await subscription.video.wait_for_frames(1, timeout=10)

    `api` is a devkit.helpers.Api (the in-process platform or a base URL)."""

    def __init__(self, api, token: str, call_id: str, *, relay_only: bool = False, timeout: float = 15.0):
        self.api = api
        self.token = token
        self.call_id = call_id
        self.relay_only = relay_only
        self.timeout = timeout
        self.answer: dict | None = None
        self.participant_id: str | None = None
        self.publisher_pc: RTCPeerConnection | None = None
        self.subscriptions: list[Subscription] = []
        self.joined_at: float | None = None  # monotonic, when the join was answered
        self._presence: asyncio.Task | None = None

    async def _post(self, path: str, body: dict | None = None):
        return await asyncio.to_thread(self.api.post, f"/calls/{self.call_id}{path}", body, self.token)

    async def join(self) -> dict:
        response = await self._post("/join")
        if response.status_code != 200:
            raise CallRefused(response)
        self.answer = response.json
        self.participant_id = self.answer["participant_id"]
        self.joined_at = time.monotonic()
        if self._presence is None:
            self._presence = asyncio.ensure_future(self._confirm_presence())
        return self.answer

    async def _confirm_presence(self, every: float = 30.0) -> None:
        """As apps do: the service takes out a client that stops saying it is there."""
        while True:
            await asyncio.sleep(every)
            await self._post("/presence")

    async def _stop_presence(self) -> None:
        if self._presence is not None:
            self._presence.cancel()
            try:
                await self._presence
            except (asyncio.CancelledError, Exception):
                pass
            self._presence = None

    async def signal(self, kind: str, payload: dict) -> dict:
        response = await self._post("/signal", {"to": "sfu", "type": kind, "payload": payload})
        if response.status_code != 200:
            raise CallRefused(response)
        return response.json

    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(ice_configuration(self.answer["ice_servers"], self.relay_only))

    async def publish(self, video: bool = True, audio: bool = True) -> RTCPeerConnection:
        pc = self._new_pc()
        self.publisher_pc = pc
        if video:
            pc.addTrack(PatternVideoTrack())
        if audio:
            pc.addTrack(ToneAudioTrack())
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.signal("offer", {"sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["payload"]["sdp"], type="answer"))
        await wait_connected(pc, self.timeout)
        return pc

    async def subscribe(self, feeds: list[str]) -> Subscription:
        """Receives these participants' media on one new PeerConnection."""
        reply = await self.signal("subscribe", {"feeds": list(feeds)})
        pc = self._new_pc()
        subscription = Subscription(None, pc, feeds=list(feeds))
        pc.on("track", lambda track: subscription.receivers.append(TrackReceiver(track)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["payload"]["sdp"], type="offer"))
        take_dtls_server_role(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.signal("answer", {"sdp": pc.localDescription.sdp})
        self.subscriptions.append(subscription)
        await wait_connected(pc, self.timeout)
        return subscription

    async def drop(self) -> None:
        """The network goes: every PeerConnection closes, nothing is said to the service."""
        for subscription in self.subscriptions:
            for receiver in subscription.receivers:
                await receiver.stop()
            await subscription.pc.close()
        self.subscriptions = []
        if self.publisher_pc is not None:
            await self.publisher_pc.close()
            self.publisher_pc = None

    async def leave(self) -> None:
        await self.drop()
        await self._stop_presence()
        response = await self._post("/leave")
        if response.status_code != 204:
            raise CallRefused(response)

    async def close(self) -> None:
        await self.drop()
        await self._stop_presence()


class CallRefused(Exception):
    def __init__(self, response):
        super().__init__(f"{response.status_code}: {response.json}")
        self.response = response
        self.status_code = response.status_code
        self.code = (response.json or {}).get("error", {}).get("code") if isinstance(response.json, dict) else None
