"""Two schools on one embedded platform, served on a local port through a
recorder of every answer, with a realtime stream open for everyone in them:
the ground for the schema-driven run and the other-school run, and for the
privacy scan of what both were shown."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from devkit.helpers import Api
from support.populated import PopulatedSchool
from support.privacy import PrivacyScan, Recorder
from support.school import create_region
from support.streams import RecordedStream

# Generated requests come far faster than a person's, and nothing may expire
# while a run lasts or the state is compared: no rate limit, access tokens
# good for a day (a full run signs in once, as each role, for an hour or
# more), calls ring and wait for ever.
SETTINGS = dict(GATEWAY_RATE_PER_SECOND=100_000, GATEWAY_RATE_BURST=100_000, ACCESS_TOKEN_TTL=86_400,
                CALL_RING_SECONDS=86_400,
                CALL_EMPTY_GRACE_SECONDS=86_400, CALL_MEDIA_GRACE_SECONDS=86_400,
                CALL_PRESENCE_TIMEOUT_SECONDS=86_400)


class TwoSchools:
    def __init__(self, platform):
        self.platform = platform
        self.recorder = Recorder(platform.gateway)
        self.server = make_server("127.0.0.1", 0, self.recorder, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # Setting up is not under test: it goes around the recorder.
        region = create_region(platform)
        self.a = PopulatedSchool(platform, platform.api, "Школа А", region)
        self.b = PopulatedSchool(platform, platform.api, "Школа Б", region)
        self.operator = self.a.operator
        self.people = [*self.a.people, *self.b.people, self.operator]
        self.recorded = Api(Client(self.recorder))
        self.streams = {person: RecordedStream(self.url, person.token) for person in self.people}

    def privacy_leaks(self) -> tuple[list[str], int, int]:
        """Leaks in everything answered and pushed so far, and how many bodies and frames were read."""
        scan = PrivacyScan(self.people, self.operator)
        frames = {person: [frame for _, frame in stream.frames] for person, stream in self.streams.items()}
        answers = list(self.recorder.answers)
        leaks = scan.leaks_in_answers(answers) + scan.leaks_in_frames(frames)
        return leaks, len(answers), sum(map(len, frames.values()))

    def close(self) -> None:
        # All readers stop together: one receive timeout, not one per stream.
        for stream in self.streams.values():
            stream.stop()
        for stream in self.streams.values():
            stream.close()
        self.server.shutdown()


@pytest.fixture
def two_schools(embedded_with):
    schools = TwoSchools(embedded_with(**SETTINGS))
    yield schools
    schools.close()
