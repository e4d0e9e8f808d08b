"""Real media through Janus's VideoRoom and coturn: aiortc peers publish a
synthetic video and audio track and receive decoded frames, directly and
through the TURN relay; the room lets in only holders of its tokens; a
removed participant's media stops and they cannot come back; Janus's event
handler reports who joined and left. The servers are the Debian binaries,
started once for the session (devkit.media); each test makes its own rooms."""
import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass

import pytest

from devkit.media import JANUS_BIN, TURN_BIN, EventSink, JanusServer, TurnServer
from devkit.peers import HEIGHT, WIDTH, RoomPeer, selected_candidate_types
from services.calls.janus import (VIDEOROOM_UNAUTHORIZED, JanusApi, JanusError,
                                  VideoRoomAdmin)
from devkit.helpers import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.media,
    pytest.mark.skipif(not (JANUS_BIN.exists() and TURN_BIN.exists()),
                       reason="janus and coturn are not installed: bash tools/install-servers.sh janus coturn"),
]

# Deadlines, not expectations: on this machine the first frame arrives about
# 0.1 s after subscribing.
CONNECT = 15
FRAMES = 10


def run(scenario, timeout: float = 90):
    """Runs an async scenario in a fresh event loop, within `timeout`."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


@pytest.fixture(scope="session")
def janus_events():
    sink = EventSink()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def janus(janus_events):
    server = JanusServer()
    server.start(janus_events.url)
    yield server
    server.close()


@pytest.fixture(scope="session")
def turn():
    server = TurnServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def rooms(janus):
    admin = VideoRoomAdmin(JanusApi(janus.url, janus.api_secret), janus.admin_key)
    yield admin
    admin.close()


@dataclass
class Room:
    """A room as the calls service would make one for a call: its own secret
    and one token per participant, each participant id unique to the test."""
    janus: JanusServer
    admin: VideoRoomAdmin
    id: str
    secret: str
    tokens: dict[str, str]

    def participant(self, name: str) -> str:
        return f"{name}-{self.id[:8]}"

    def token(self, name: str) -> str:
        return self.tokens[name]

    def peer(self, name: str, **options) -> RoomPeer:
        options.setdefault("token", self.tokens.get(name))
        return RoomPeer(self.janus.url, self.janus.api_secret, self.id, self.participant(name),
                        timeout=CONNECT, **options)


@pytest.fixture
def make_room(janus, rooms):
    made = []

    def make(*names: str, publishers: int = 3) -> Room:
        room = Room(janus, rooms, str(uuid.uuid4()), secrets.token_urlsafe(16),
                    {name: secrets.token_urlsafe(24) for name in names})
        rooms.create_room(room.id, secret=room.secret, allowed=room.tokens.values(),
                          publishers=publishers, description="lesson")
        made.append(room)
        return room

    yield make
    for room in made:
        try:
            rooms.destroy_room(room.id, room.secret)
        except JanusError:
            pass


async def close_all(*peers: RoomPeer) -> None:
    for peer in peers:
        await peer.close()


def test_students_receive_the_teachers_video_and_audio_directly_and_through_turn(
        make_room, turn, record_property):
    room = make_room("teacher", "direct", "relayed")

    async def scenario():
        teacher = room.peer("teacher")
        direct = room.peer("direct")
        relayed = room.peer("relayed", ice_servers=[turn.ice_server(room.participant("relayed"))],
                            relay_only=True)
        try:
            await teacher.join()
            await teacher.publish()
            first_frame = {}
            for student in (direct, relayed):
                await student.join()
                started = time.monotonic()
                subscription = await student.subscribe([room.participant("teacher")])
                await subscription.video.wait_for_frames(1, CONNECT)
                first_frame[student.participant] = subscription.video.first_at - started

            for student in (direct, relayed):
                video = student.subscriptions[0].video
                audio = student.subscriptions[0].audio
                await video.wait_for_frames(FRAMES, CONNECT)
                await audio.wait_for_frames(FRAMES, CONNECT)
                assert video.size == (WIDTH, HEIGHT)
                assert video.pattern_frames >= 1, "the decoded picture is not the teacher's pattern"
                assert audio.sample_rate == 48000

            assert {local for local, _ in selected_candidate_types(direct.subscriptions[0].pc)} == {"host"}
            # Relay-only ICE gathered nothing but the TURN allocation, and that is
            # the pair the media took.
            assert selected_candidate_types(relayed.subscriptions[0].pc) == {("relay", "host")}
            return first_frame
        finally:
            await close_all(relayed, direct, teacher)

    first_frame = run(scenario())
    for participant, seconds in first_frame.items():
        record_property(f"first_frame_s[{participant.split('-')[0]}]", round(seconds, 3))
    print("\nsubscribe -> first decoded frame: "
          + ", ".join(f"{p.split('-')[0]} {s * 1000:.0f} ms" for p, s in first_frame.items()))
    # coturn's own log shows the allocation under the participant's TURN REST name.
    wait_for(lambda: f":{room.participant('relayed')}>" in turn.log.read_text(errors="replace"),
             timeout=5, message="coturn logging the relayed student's allocation")


def test_only_holders_of_the_rooms_tokens_get_in(make_room):
    lesson = make_room("teacher", "student")
    other = make_room("guest")

    async def scenario():
        teacher = lesson.peer("teacher")
        outsiders = [
            lesson.peer("nobody", token=None),                   # no token at all
            lesson.peer("forger", token=secrets.token_urlsafe(24)),  # one nobody issued
            lesson.peer("guest", token=other.token("guest")),    # another call's token
        ]
        guest = other.peer("guest")
        try:
            await teacher.join()
            await teacher.publish()
            for outsider in outsiders:
                with pytest.raises(JanusError) as refused:
                    await outsider.join()
                assert refused.value.code == VIDEOROOM_UNAUTHORIZED

            # A participant of another call cannot subscribe to this one either:
            # its private id belongs to the other room.
            await guest.join()
            with pytest.raises(JanusError) as refused:
                await guest.subscribe([lesson.participant("teacher")], room=lesson.id)
            assert refused.value.code == VIDEOROOM_UNAUTHORIZED

            assert [p["id"] for p in lesson.admin.participants(lesson.id)] == [lesson.participant("teacher")]
        finally:
            await close_all(guest, *outsiders, teacher)

    run(scenario())


def test_a_removed_participant_stops_sending_and_receiving_and_cannot_rejoin(make_room, janus_events):
    room = make_room("teacher", "removed", "stays")

    async def scenario():
        teacher, removed, stays = room.peer("teacher"), room.peer("removed"), room.peer("stays")
        comeback = room.peer("removed")
        try:
            for peer in (teacher, removed, stays):
                await peer.join()
            await teacher.publish()
            await removed.publish()
            receiving = (await removed.subscribe([room.participant("teacher")])).video
            others = (await stays.subscribe([room.participant("teacher")])).video
            from_removed = (await teacher.subscribe([room.participant("removed")])).video
            for video in (receiving, others, from_removed):
                await video.wait_for_frames(FRAMES, CONNECT)

            await asyncio.to_thread(room.admin.remove, room.id, room.secret,
                                    room.participant("removed"), room.token("removed"))
            kicked = await removed.next_event(CONNECT, match=lambda e: "leaving" in e.get("plugindata", {}).get("data", {}))
            assert kicked["plugindata"]["data"]["reason"] == "kicked"

            # Media stops both ways, what they received and what they sent, while
            # the teacher's video keeps reaching the others: silence is counted in
            # the others' frames, so a slow machine cannot fake it.
            def silent_while_others_receive() -> bool:
                return others.frames_since(max(receiving.last_at, from_removed.last_at)) >= 45
            await others.wait_for(silent_while_others_receive, CONNECT,
                                  "the removed participant's media to stop")
            after = (receiving.frames, from_removed.frames)
            await others.wait_for_frames(45, CONNECT)
            assert (receiving.frames, from_removed.frames) == after

            with pytest.raises(JanusError) as refused:
                await comeback.join()
            assert refused.value.code == VIDEOROOM_UNAUTHORIZED
            ids = {p["id"] for p in room.admin.participants(room.id)}
            assert ids == {room.participant("teacher"), room.participant("stays")}
        finally:
            await close_all(comeback, stays, removed, teacher)

    run(scenario())
    wait_for(lambda: any(e.get("event") == "kicked" and e.get("id") == room.participant("removed")
                         for e in janus_events.plugin_events(room.id)),
             timeout=10, message="the event handler reporting the kick")
    # Janus closed the removed participant's PeerConnections, and says so.
    wait_for(lambda: {"webrtcup", "hangup"} <= {e["connection"] for e in
                                                janus_events.connection_events(room.participant("removed"))},
             timeout=10, message="the event handler reporting the PeerConnection up, then hung up")


def test_the_event_handler_reports_who_joined_and_left(make_room, janus_events):
    room = make_room("leaves", "hangs_up")
    sessions = {}

    async def scenario():
        leaves, hangs_up = room.peer("leaves"), room.peer("hangs_up")
        try:
            for peer in (leaves, hangs_up):
                await peer.join()
                sessions[peer.participant] = peer.session.id
            await leaves.leave()        # says goodbye
        finally:
            await close_all(leaves, hangs_up)   # hangs_up just goes: its session is destroyed

    run(scenario())

    def by_participant(kind: str) -> dict:
        return {e["id"]: e for e in janus_events.plugin_events(room.id) if e.get("event") == kind}

    everyone = {room.participant("leaves"), room.participant("hangs_up")}
    wait_for(lambda: everyone <= set(by_participant("leaving")), timeout=10,
             message="leaving events for both participants")
    joined = by_participant("joined")
    assert set(joined) == everyone
    for name in ("leaves", "hangs_up"):
        event = joined[room.participant(name)]
        # The token the service issued says who it is, whatever the client called itself.
        assert event["token"] == room.token(name)
        assert event["opaque_id"] == room.participant(name)
        assert event["session_id"] == sessions[room.participant(name)]
        assert isinstance(event["private_id"], int)

    def session_events(name: str) -> set[str]:
        return {e["event"]["name"] for e in janus_events.snapshot()
                if e.get("type") == 1 and e.get("session_id") == sessions[room.participant(name)]}
    wait_for(lambda: all(session_events(name) >= {"created", "destroyed"} for name in ("leaves", "hangs_up")),
             timeout=10, message="session created and destroyed events")


def test_turn_accepts_only_fresh_credentials_signed_with_its_secret(turn):
    from aioice import stun
    from aioice.turn import create_turn_endpoint

    async def allocate(username: str, credential: str) -> bool:
        try:
            transport, _ = await asyncio.wait_for(create_turn_endpoint(
                asyncio.DatagramProtocol, server_addr=("127.0.0.1", turn.port),
                username=username, password=credential), 10)
        except stun.TransactionFailed:
            return False
        transport.close()
        return True

    async def scenario():
        assert await allocate(*turn.credentials("fresh", ttl=60))
        assert not await allocate(*turn.credentials("expired", ttl=60, now=time.time() - 120))
        username, _ = turn.credentials("forged", ttl=60)
        assert not await allocate(username, "d3Jvbmc=")

    run(scenario())
