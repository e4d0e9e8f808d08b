"""A peer-to-peer call, as `make run` has them with no SFU configured: two
aiortc peers exchange their SDP only through the platform (POST
/calls/{id}/signal, call.signal frames on the realtime stream) and then send
each other real video and audio."""
from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from support.calls import Stream, calls_know_members, group_chat
from support.chats import created
from support.school import School

from devkit.peers import HEIGHT, WIDTH, PatternVideoTrack, ToneAudioTrack, TrackReceiver, wait_connected

pytestmark = [pytest.mark.integration, pytest.mark.media]

CONNECT = 15
FRAMES = 10


def run(scenario, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(scenario, timeout))


@pytest.fixture(scope="module")
def p2p(embedded_module_with):
    platform = embedded_module_with()
    school = School(platform, platform.api)
    chat = group_chat(platform.api, school.head, school.org_id, [school.student], "Консультация")
    calls_know_members(platform, chat, [school.head.id, school.student.id])
    return platform, school, chat


def test_a_peer_to_peer_call_carries_media_between_the_clients(p2p):
    platform, school, chat = p2p
    api = platform.api
    call = created(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": chat},
                            token=school.head.token))["id"]
    head_stream, student_stream = Stream(platform, school.head), Stream(platform, school.student)

    async def scenario():
        host = created(await asyncio.to_thread(api.post, f"/calls/{call}/join", None, school.head.token), 200)
        newcomer = created(await asyncio.to_thread(api.post, f"/calls/{call}/join", None, school.student.token), 200)
        assert [peer["id"] for peer in newcomer["media"]["peers"]] == [host["participant_id"]]
        offering, answering = RTCPeerConnection(), RTCPeerConnection()
        received = {}
        for pc, name in ((offering, "student"), (answering, "head")):
            pc.addTrack(PatternVideoTrack())
            pc.addTrack(ToneAudioTrack())
            pc.on("track", lambda track, name=name: received.setdefault(name, []).append(TrackReceiver(track)))
        try:
            # The newcomer offers to everyone present, through the platform.
            await offering.setLocalDescription(await offering.createOffer())
            await asyncio.to_thread(api.post, f"/calls/{call}/signal", {
                "to": host["participant_id"], "type": "offer", "payload": {"sdp": offering.localDescription.sdp}},
                school.student.token)
            offer = await asyncio.to_thread(head_stream.wait, "call.signal", CONNECT, type="offer")
            assert offer["from"] == newcomer["participant_id"]
            await answering.setRemoteDescription(RTCSessionDescription(sdp=offer["payload"]["sdp"], type="offer"))
            await answering.setLocalDescription(await answering.createAnswer())
            await asyncio.to_thread(api.post, f"/calls/{call}/signal", {
                "to": newcomer["participant_id"], "type": "answer", "payload": {"sdp": answering.localDescription.sdp}},
                school.head.token)
            answer = await asyncio.to_thread(student_stream.wait, "call.signal", CONNECT, type="answer")
            await offering.setRemoteDescription(RTCSessionDescription(sdp=answer["payload"]["sdp"], type="answer"))
            await wait_connected(offering, CONNECT)
            for name in ("student", "head"):
                video = next(r for r in received[name] if r.kind == "video")
                await video.wait_for_frames(FRAMES, CONNECT)
                assert video.size == (WIDTH, HEIGHT) and video.pattern_frames >= 1
        finally:
            for receivers in received.values():
                for receiver in receivers:
                    await receiver.stop()
            await offering.close()
            await answering.close()

    run(scenario())
    assert api.post(f"/calls/{call}/end", token=school.head.token).status_code == 200
