"""Calls with real media: aiortc peers that speak only the platform's API
(devkit.peers.CallPeer), the calls service holding their Janus sessions,
Janus (VideoRoom) and coturn from the Debian binaries, Janus's event handler
posting to the calls service's internal path. Janus ends a session after 5 s
without a request here (60 s by default), so that a call outliving it is
quick to show. Peer-to-peer calls: test_calls_p2p_media.py."""
from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timezone

import pytest
from support.calls import EventsDoor, EventTap, calls_know_members, calls_know_teacher, group_chat
from support.chats import created, join_official
from support.school import Person, School

from devkit.helpers import assert_error, wait_for
from devkit.media import JANUS_BIN, TURN_BIN, JanusServer, TurnServer
from devkit.peers import HEIGHT, WIDTH, CallPeer, CallRefused, selected_candidate_types
from services.calls.janus import JanusApi, VideoRoomAdmin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.media,
    pytest.mark.skipif(not (JANUS_BIN.exists() and TURN_BIN.exists()),
                       reason="janus and coturn are not installed: bash tools/install-servers.sh janus coturn"),
]

SESSION_TIMEOUT = 5
MEDIA_GRACE = 4
EMPTY_GRACE = 3
CONNECT = 15
FRAMES = 10


def run(scenario, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(scenario, timeout))


class Media:
    """The platform with Janus and coturn, and a school whose class head (a
    verified teacher) teaches 5А's students in the class's chat."""

    def __init__(self, start_platform):
        self.secret = secrets.token_urlsafe(24)
        self.door = EventsDoor()
        self.janus = JanusServer(session_timeout=SESSION_TIMEOUT)
        self.janus.start(self.door.url, "janus", self.secret)
        self.turn = TurnServer()
        self.turn.start()
        self.platform = start_platform(
            JANUS_URL=self.janus.url, JANUS_API_SECRET=self.janus.api_secret, JANUS_ADMIN_KEY=self.janus.admin_key,
            JANUS_EVENTS_SECRET=self.secret, TURN_URLS=self.turn.url, TURN_SECRET=self.turn.secret,
            TURN_TTL_SECONDS=600, JANUS_KEEPALIVE_SECONDS=2, JANUS_RECONCILE_SECONDS=1,
            CALL_MEDIA_GRACE_SECONDS=MEDIA_GRACE, CALL_EMPTY_GRACE_SECONDS=EMPTY_GRACE)
        self.door.app = self.platform.apps["calls"]
        api = self.api = self.platform.api
        school = self.school = School(self.platform, api)
        calls_know_teacher(self.platform, school.org_id, school.head.id)
        self.classmate = school.invite_and_join("student", "second student of 5А", unit_id=school.class_a)
        self.chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
        for student in (school.student, self.classmate):
            join_official(api, student, school.org_id, "class_students", school.class_a)
        calls_know_members(self.platform, self.chat, [school.head.id, school.student.id, self.classmate.id])
        self.rooms = VideoRoomAdmin(JanusApi(self.janus.url, self.janus.api_secret), self.janus.admin_key)

    def lesson(self, **body) -> str:
        return created(self.api.post("/calls", {"org_id": self.school.org_id, "kind": "lesson", "chat_id": self.chat,
                                                "title": "Дроби", **body}, token=self.school.head.token))["id"]

    def peer(self, person: Person, call_id: str, **options) -> CallPeer:
        return CallPeer(self.api, person.token, call_id, timeout=CONNECT, **options)

    def attendance(self, call_id: str) -> dict:
        report = self.api.get(f"/calls/{call_id}/attendance", token=self.school.head.token).json
        return {row["user_id"]: row for row in report["participants"]}

    def close(self):
        self.rooms.close()
        self.door.close()
        self.janus.close()
        self.turn.close()


@pytest.fixture(scope="module")
def media(embedded_module_with):
    world = Media(embedded_module_with)
    yield world
    world.close()


@pytest.fixture
def tap():
    events = EventTap()
    yield events
    events.close()


async def publishing(media: Media, call_id: str, participant_id: str) -> None:
    """Until the participants list says the publisher's media can be received."""
    def ready():
        items = media.api.get(f"/calls/{call_id}/participants", token=media.school.head.token).json["items"]
        return any(p["id"] == participant_id and p["publishing"] for p in items)
    await asyncio.to_thread(wait_for, ready, CONNECT, 0.05, "the publisher's media")


async def close_all(*peers: CallPeer) -> None:
    for peer in peers:
        await peer.close()


def test_a_lesson_reaches_its_students_directly_and_through_turn_and_nobody_else(media, record_property):
    school, api = media.school, media.api
    other_chat = group_chat(api, school.teacher, school.org_id, [school.other_student], "5Б: кружок")
    calls_know_members(media.platform, other_chat, [school.teacher.id, school.other_student.id])
    stranger_school = School(media.platform, api, "Школа № 9")
    other_call = created(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": other_chat},
                                  token=school.teacher.token))["id"]
    created(api.post(f"/calls/{other_call}/join", token=school.teacher.token), 200)  # not empty: it goes on
    lesson = media.lesson()  # nobody in it for CALL_EMPTY_GRACE_SECONDS would end it

    async def scenario():
        teacher = media.peer(school.head, lesson)
        direct = media.peer(school.student, lesson)
        relayed = media.peer(media.classmate, lesson, relay_only=True)
        elsewhere = media.peer(school.other_student, other_call)
        try:
            answer = await teacher.join()
            assert answer["role"] == "host" and answer["media"]["mode"] == "sfu"
            turn = [server for server in answer["ice_servers"] if server.get("username")]
            assert turn and turn[0]["username"].endswith(f":{answer['participant_id']}")
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            first_frame = {}
            for student in (direct, relayed):
                joined = await student.join()
                assert [p["id"] for p in joined["media"]["publishers"]] == [teacher.participant_id]
                started = time.monotonic()
                subscription = await student.subscribe([teacher.participant_id])
                await subscription.video.wait_for_frames(1, CONNECT)
                first_frame[student.participant_id] = subscription.video.first_at - started
            for student in (direct, relayed):
                subscription = student.subscriptions[0]
                await subscription.video.wait_for_frames(FRAMES, CONNECT)
                await subscription.audio.wait_for_frames(FRAMES, CONNECT)
                assert subscription.video.size == (WIDTH, HEIGHT)
                assert subscription.video.pattern_frames >= 1, "the decoded picture is not the teacher's"
                assert subscription.audio.sample_rate == 48000
            assert {local for local, _ in selected_candidate_types(direct.subscriptions[0].pc)} == {"host"}
            assert selected_candidate_types(relayed.subscriptions[0].pc) == {("relay", "host")}

            # A participant of another call asks for this lesson's teacher: not in their call.
            await elsewhere.join()
            with pytest.raises(CallRefused) as refused:
                await elsewhere.signal("subscribe", {"feeds": [teacher.participant_id]})
            assert refused.value.status_code == 422
            # Nor do they, or a signed-in member of another school, get into the lesson.
            for outsider in (school.other_student, stranger_school.admin, stranger_school.student):
                assert_error(await asyncio.to_thread(api.post, f"/calls/{lesson}/join", None, outsider.token), 404)
                assert_error(await asyncio.to_thread(api.post, f"/calls/{lesson}/signal", {
                    "to": "sfu", "type": "subscribe", "payload": {"feeds": [teacher.participant_id]}},
                    outsider.token), 404)
            in_room = {entry["id"] for entry in media.rooms.participants(lesson)}
            assert in_room == {teacher.participant_id, direct.participant_id, relayed.participant_id}
            return first_frame
        finally:
            await close_all(elsewhere, relayed, direct, teacher)

    first_frame = run(scenario())
    for participant, seconds in first_frame.items():
        record_property(f"first_frame_s[{participant[:6]}]", round(seconds, 3))
    # coturn relayed under the relayed student's own TURN REST name.
    wait_for(lambda: any(f":{pid}>" in media.turn.log.read_text(errors="replace") for pid in first_frame),
             timeout=5, message="coturn logging the relayed student's allocation")
    api.post(f"/calls/{lesson}/end", token=school.head.token)
    api.post(f"/calls/{other_call}/end", token=school.teacher.token)


def test_a_removed_participant_stops_receiving_and_sending_and_cannot_come_back(media, tap):
    school, api = media.school, media.api
    lesson = media.lesson()

    async def scenario():
        teacher, removed, stays = (media.peer(school.head, lesson), media.peer(school.student, lesson),
                                   media.peer(media.classmate, lesson))
        try:
            for peer in (teacher, removed, stays):
                await peer.join()
            await teacher.publish()
            await removed.publish()
            await publishing(media, lesson, teacher.participant_id)
            await publishing(media, lesson, removed.participant_id)
            receiving = (await removed.subscribe([teacher.participant_id])).video
            others = (await stays.subscribe([teacher.participant_id])).video
            from_removed = (await teacher.subscribe([removed.participant_id])).video
            for video in (receiving, others, from_removed):
                await video.wait_for_frames(FRAMES, CONNECT)

            answer = await asyncio.to_thread(api.post, f"/calls/{lesson}/participants/{removed.participant_id}/remove",
                                             None, school.head.token)
            assert answer.status_code == 200 and answer.json["state"] == "removed"

            # Silence is counted in the others' frames, so a slow machine cannot fake it.
            def silent_while_others_receive() -> bool:
                return others.frames_since(max(receiving.last_at, from_removed.last_at)) >= 45
            await others.wait_for(silent_while_others_receive, CONNECT, "the removed participant's media to stop")
            after = (receiving.frames, from_removed.frames)
            await others.wait_for_frames(45, CONNECT)
            assert (receiving.frames, from_removed.frames) == after
            with pytest.raises(CallRefused) as refused:
                await removed.join()
            assert refused.value.code == "removed"
            in_room = {entry["id"] for entry in media.rooms.participants(lesson)}
            assert in_room == {teacher.participant_id, stays.participant_id}
            return removed.participant_id
        finally:
            await close_all(stays, removed, teacher)

    removed_id = run(scenario())
    left = tap.wait("calls.participant.left", participant_id=removed_id)
    assert left["data"]["by"] == "removed"
    api.post(f"/calls/{lesson}/end", token=school.head.token)


def test_attendance_and_minutes_are_what_the_peers_did(media, tap):
    """The head teaches; a student joins, loses the connection, comes back and
    leaves; the head leaves last; the call ends when nobody is left. Every
    stay begins and ends within the request that caused it, by the peers' own
    clocks (the same machine's), and calls.call.ended's minutes are the stays'."""
    from services.common.clock import parse_iso

    school = media.school
    lesson = media.lesson()
    windows: dict[str, tuple[float, float]] = {}

    async def timed(name: str, action) -> None:
        before = time.time()
        await action
        windows[name] = (before, time.time())

    async def scenario():
        teacher, student = media.peer(school.head, lesson), media.peer(school.student, lesson)
        try:
            await timed("head joins", teacher.join())
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            for visit in ("student joins", "student comes back"):
                await timed(visit, student.join())  # the second time: a reconnect, the same participant id
                video = (await student.subscribe([teacher.participant_id])).video
                await video.wait_for_frames(2 * FRAMES, CONNECT)
                if visit == "student joins":
                    await student.drop()  # gone without a word; the app joins again
            await timed("student leaves", student.leave())
            await timed("head leaves", teacher.leave())
        finally:
            await close_all(student, teacher)

    run(scenario())
    ended = tap.wait("calls.call.ended", call_id=lesson, timeout=EMPTY_GRACE + 15)
    report = media.attendance(lesson)
    expected = {school.head.id: [("head joins", "head leaves")],
                school.student.id: [("student joins", "student comes back"), ("student comes back", "student leaves")]}
    clock = 0.05  # the calls service's and Janus's clocks are this machine's too

    def within(moment: str, window: str) -> bool:
        at = parse_iso(moment).replace(tzinfo=timezone.utc).timestamp()
        return windows[window][0] - clock <= at <= windows[window][1] + clock

    for user_id, stays in expected.items():
        recorded = report[user_id]["intervals"]
        assert len(recorded) == len(stays), (user_id, recorded)
        for (began, ended_by), stay in zip(stays, recorded):
            assert stay["source"] == "sfu"
            assert within(stay["joined_at"], began), (user_id, stay, windows[began])
            assert within(stay["left_at"], ended_by), (user_id, stay, windows[ended_by])
    total = sum(row["total_seconds"] for row in report.values())
    assert ended["data"]["participant_count"] == 2
    assert ended["data"]["participant_seconds"] == pytest.approx(total, abs=0.01)
    assert ended["data"]["minutes"] == round(ended["data"]["participant_seconds"] / 60, 2)
    assert ended["data"]["outcome"] == "empty"
    # This lesson's only: an earlier test's call may end, for the same student, while this one runs.
    assert [e["data"]["by"] for e in tap.of("calls.participant.left", user_id=school.student.id,
                                            call_id=lesson)] == ["sfu", "client"]


def test_a_call_lives_far_past_janus_session_timeout(media):
    """Nobody in the call talks to Janus but through the platform, and the
    platform keeps their sessions alive: four of Janus's session timeouts
    later the media still flows and nobody has left."""
    school, api = media.school, media.api
    lesson = media.lesson()

    async def scenario():
        teacher, student = media.peer(school.head, lesson), media.peer(school.student, lesson)
        try:
            await teacher.join()
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            await student.join()
            video = (await student.subscribe([teacher.participant_id])).video
            await video.wait_for_frames(FRAMES, CONNECT)
            mark = time.monotonic()
            await video.wait_for(lambda: video.last_at > mark + 4 * SESSION_TIMEOUT, 4 * SESSION_TIMEOUT + CONNECT,
                                 "frames four session timeouts later")
            assert {entry["id"] for entry in media.rooms.participants(lesson)} == {
                teacher.participant_id, student.participant_id}
            return video.frames_since(mark) / (time.monotonic() - mark)
        finally:
            await close_all(student, teacher)

    rate = run(scenario())
    assert rate > 15, f"{rate:.1f} frames a second"
    assert api.get(f"/calls/{lesson}", token=school.head.token).json["status"] == "active"
    assert {user: len(row["intervals"]) for user, row in media.attendance(lesson).items()} == {
        school.head.id: 1, school.student.id: 1}
    api.post(f"/calls/{lesson}/end", token=school.head.token)


def test_the_host_mutes_a_participants_video_and_janus_stops_passing_it_on(media):
    school, api = media.school, media.api
    lesson = media.lesson()

    async def scenario():
        teacher, student = media.peer(school.head, lesson), media.peer(school.student, lesson)
        try:
            await teacher.join()
            await student.join()
            await student.publish()
            await publishing(media, lesson, student.participant_id)
            subscription = await teacher.subscribe([student.participant_id])
            video, audio = subscription.video, subscription.audio
            await video.wait_for_frames(FRAMES, CONNECT)
            mute = f"/calls/{lesson}/participants/{student.participant_id}/mute"
            assert (await asyncio.to_thread(api.post, mute, {"video": True}, school.head.token)).json["video_muted"]
            await audio.wait_for(lambda: audio.frames_since(video.last_at) >= 100, CONNECT,
                                 "audio going on while the video stopped")
            frozen = video.frames
            await audio.wait_for_frames(50, CONNECT)
            assert video.frames == frozen
            await asyncio.to_thread(api.post, mute, {"video": False}, school.head.token)
            await video.wait_for_frames(FRAMES, CONNECT)
        finally:
            await close_all(student, teacher)

    run(scenario())
    api.post(f"/calls/{lesson}/end", token=school.head.token)


def test_a_broadcast_has_viewers_who_only_receive(media):
    school, api = media.school, media.api
    broadcast = created(api.post("/calls", {"org_id": school.org_id, "kind": "broadcast", "chat_id": media.chat,
                                            "title": "Линейка", "presenter_ids": [school.teacher.id]},
                                 token=school.head.token))["id"]

    async def scenario():
        presenter, viewer = media.peer(school.teacher, broadcast), media.peer(school.student, broadcast)
        try:
            assert (await presenter.join())["role"] == "presenter"
            await presenter.publish()
            await publishing(media, broadcast, presenter.participant_id)
            assert (await viewer.join())["role"] == "viewer"
            with pytest.raises(CallRefused) as refused:
                await viewer.publish()
            assert refused.value.code == "viewer"
            await (await viewer.subscribe([presenter.participant_id])).video.wait_for_frames(FRAMES, CONNECT)
        finally:
            await close_all(viewer, presenter)

    run(scenario())
    api.post(f"/calls/{broadcast}/end", token=school.head.token)


def test_lost_events_and_lost_networks_do_not_leave_anyone_present(media, tap):
    """Janus's events do not reach the service for a while (it gives up on
    them after its retries): attendance is put right from Janus's list of the
    room. A participant whose network goes, never to come back, is taken out
    once their media has been down for CALL_MEDIA_GRACE_SECONDS."""
    school, api = media.school, media.api
    lesson = media.lesson()

    async def scenario():
        teacher, student = media.peer(school.head, lesson), media.peer(school.student, lesson)
        try:
            await teacher.join()
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            media.door.closed.set()
            await student.join()
            await (await student.subscribe([teacher.participant_id])).video.wait_for_frames(FRAMES, CONNECT)
            arrived = await asyncio.to_thread(tap.wait, "calls.participant.joined", 15, user_id=school.student.id,
                                              call_id=lesson)
            assert arrived["data"]["by"] == "reconciled"
            media.door.closed.clear()
            await student.drop()
            gone = await asyncio.to_thread(tap.wait, "calls.participant.left", MEDIA_GRACE + 15,
                                           user_id=school.student.id, call_id=lesson)
            assert gone["data"]["by"] in ("media_lost", "sfu")
            assert student.participant_id not in {entry["id"] for entry in media.rooms.participants(lesson)}
            assert not media.attendance(lesson)[school.student.id]["intervals"][-1]["left_at"] is None
            # Back again, the same participant: a stay of its own.
            await student.join()
            await (await student.subscribe([teacher.participant_id])).video.wait_for_frames(FRAMES, CONNECT)
        finally:
            media.door.closed.clear()
            await close_all(student, teacher)

    run(scenario())
    assert len(media.attendance(lesson)[school.student.id]["intervals"]) == 2
    api.post(f"/calls/{lesson}/end", token=school.head.token)


def test_after_janus_restarts_everyone_is_told_and_the_call_goes_on(media, tap):
    """Janus goes away and comes back empty: the service finds the sessions
    and the room gone, closes the stays, tells each participant (who joins
    again), and makes the room again on the next join."""
    from support.calls import Stream

    school, api = media.school, media.api
    lesson = media.lesson()
    student_stream = Stream(media.platform, school.student)

    async def scenario():
        teacher, student = media.peer(school.head, lesson), media.peer(school.student, lesson)
        try:
            await teacher.join()
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            await student.join()
            await (await student.subscribe([teacher.participant_id])).video.wait_for_frames(FRAMES, CONNECT)
            await asyncio.to_thread(media.janus.stop)
            await asyncio.to_thread(media.janus.start, media.door.url, "janus", media.secret)
            told = await asyncio.to_thread(student_stream.wait, "call.updated", 30, lambda d: d.get(
                "participant", {}).get("id") == student.participant_id, change="left")
            assert told["participant"]["state"] == "left"
            await asyncio.to_thread(tap.wait, "calls.participant.left", 30, participant_id=teacher.participant_id)
            await teacher.close()
            await student.close()
            for peer in (teacher, student):
                await peer.join()
            await teacher.publish()
            await publishing(media, lesson, teacher.participant_id)
            await (await student.subscribe([teacher.participant_id])).video.wait_for_frames(FRAMES, CONNECT)
        finally:
            await close_all(student, teacher)

    run(scenario())
    assert {user: len(row["intervals"]) for user, row in media.attendance(lesson).items()} == {
        school.head.id: 2, school.student.id: 2}
    api.post(f"/calls/{lesson}/end", token=school.head.token)
    student_stream.close()
