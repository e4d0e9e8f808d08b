"""Janus as deploy/janus runs it (its entrypoint and configuration templates,
on this machine's Debian janus instead of in its image) works with the calls
service: only the VideoRoom plugin, the HTTP transport and the event handler
are loaded, the API wants its secret, rooms are made with the admin key
only, and a lesson's media and attendance flow, the events authenticated
to the calls service's internal path."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import secrets
from pathlib import Path

import pytest
import requests
from support.calls import EventsDoor, calls_know_members, calls_know_teacher
from support.chats import created, join_official
from support.school import School

from devkit.helpers import wait_for
from devkit.media import JANUS_BIN, host_ipv4, port_range
from devkit.peers import WIDTH, CallPeer
from devkit.servers import free_port
from services.calls.janus import VIDEOROOM_UNAUTHORIZED, JanusApi, JanusError, VideoRoomAdmin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.media,
    pytest.mark.skipif(not JANUS_BIN.exists(), reason="janus is not installed: bash tools/install-servers.sh janus"),
]

DEPLOY_JANUS = Path(__file__).resolve().parents[2] / "deploy" / "janus"


@pytest.fixture(scope="module")
def deployed(embedded_module_with, tmp_path_factory):
    door = EventsDoor()
    port, low_high = free_port(), port_range(200)
    env = dict(os.environ, JANUS_API_SECRET=secrets.token_urlsafe(16), JANUS_ADMIN_SECRET=secrets.token_urlsafe(16),
               JANUS_ADMIN_KEY=secrets.token_urlsafe(16), JANUS_EVENTS_URL=door.url,
               JANUS_EVENTS_SECRET=secrets.token_urlsafe(16), JANUS_MEDIA_IP=host_ipv4(), JANUS_API_IP="127.0.0.1",
               JANUS_API_PORT=str(port), JANUS_ADMIN_PORT=str(free_port()), JANUS_RTP_PORTS="%d-%d" % low_high,
               JANUS_WORK_DIR=str(tmp_path_factory.mktemp("janus") / "run"), JANUS_TEMPLATES=str(DEPLOY_JANUS))
    log = open(tmp_path_factory.mktemp("janus-log") / "janus.log", "wb")
    process = subprocess.Popen(["sh", str(DEPLOY_JANUS / "entrypoint.sh")], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/janus"

    def up():
        assert process.poll() is None, Path(log.name).read_text()
        try:
            return requests.get(f"{url}/info", timeout=1).json()
        except (requests.RequestException, ValueError):
            return None
    try:
        info = wait_for(up, timeout=30, message="Janus started by deploy/janus/entrypoint.sh")
        platform = embedded_module_with(JANUS_URL=url, JANUS_API_SECRET=env["JANUS_API_SECRET"],
                                        JANUS_ADMIN_KEY=env["JANUS_ADMIN_KEY"],
                                        JANUS_EVENTS_SECRET=env["JANUS_EVENTS_SECRET"])
        door.app = platform.apps["calls"]
        yield info, env, url, platform
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        log.close()
        door.close()


def test_only_what_calls_use_is_loaded_and_everything_wants_its_secret(deployed):
    info, env, url, _ = deployed
    assert set(info["plugins"]) == {"janus.plugin.videoroom"}
    assert set(info["transports"]) == {"janus.transport.http"}
    assert set(info["events"]) == {"janus.eventhandler.sampleevh"}
    assert info["api_secret"] is True and info["session-timeout"] == 60
    with pytest.raises(JanusError) as refused:
        JanusApi(url, "wrong").create_session()
    assert refused.value.code == 403
    with pytest.raises(JanusError) as refused:
        VideoRoomAdmin(JanusApi(url, env["JANUS_API_SECRET"]), "wrong").create_room(
            "r", secret="s", allowed=[], publishers=1)
    assert refused.value.code == VIDEOROOM_UNAUTHORIZED  # wrong admin_key


def test_a_lesson_flows_through_the_deployed_janus_and_its_events_reach_calls(deployed):
    _, _, _, platform = deployed
    api = platform.api
    school = School(platform, api)
    calls_know_teacher(platform, school.org_id, school.head.id)
    chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    calls_know_members(platform, chat, [school.head.id, school.student.id])
    lesson = created(api.post("/calls", {"org_id": school.org_id, "kind": "lesson", "chat_id": chat},
                              token=school.head.token))["id"]

    async def scenario():
        teacher, student = CallPeer(api, school.head.token, lesson), CallPeer(api, school.student.token, lesson)
        try:
            await teacher.join()
            await teacher.publish()
            await asyncio.to_thread(wait_for, lambda: any(
                p["publishing"] for p in api.get(f"/calls/{lesson}/participants", token=school.head.token)
                .json["items"]), 15, 0.05, "the teacher publishing")
            await student.join()
            video = (await student.subscribe([teacher.participant_id])).video
            await video.wait_for_frames(10, 15)
            assert video.size[0] == WIDTH
        finally:
            await student.close()
            await teacher.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))

    def stays():
        report = api.get(f"/calls/{lesson}/attendance", token=school.head.token).json
        return {row["user_id"]: [s["source"] for s in row["intervals"]] for row in report["participants"]}
    assert wait_for(lambda: stays() == {school.head.id: ["sfu"], school.student.id: ["sfu"]}, timeout=10,
                    message="attendance from the deployed Janus's events")
    api.post(f"/calls/{lesson}/end", token=school.head.token)
