"""The gateway and large files (issue 16, point 11): a part of a video lesson
is streamed through to messaging as it arrives, never read whole first, and
only the parts' path takes bodies up to GATEWAY_UPLOAD_PART_MAX_BYTES."""
from __future__ import annotations

import io

import pytest
from support.school import Person

from devkit.helpers import assert_error

PART = 1 << 20
MP4 = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * (3 * PART // 256 + 1))[:3 * PART]


class Sent(io.BytesIO):
    """A client's body: counts what the gateway has taken of it so far."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self.taken += count
        return count


class Watching:
    """messaging behind the gateway, noting how much of the client's body the
    gateway had taken when messaging read the first bytes of the part."""

    def __init__(self, inner, sent_of):
        self.inner, self.sent_of, self.taken_at_first_read = inner, sent_of, []

    def forward(self, method, path, query, headers, body):
        if body is not None and "/parts/" in path:
            body = _FirstRead(body, lambda: self.taken_at_first_read.append(self.sent_of().taken))
        return self.inner.forward(method, path, query, headers, body)

    def get_json(self, path, timeout=3.0):
        return self.inner.get_json(path, timeout)


class _FirstRead(io.RawIOBase):
    def __init__(self, stream, noted):
        self.stream, self.noted = stream, noted

    def readable(self):
        return True

    def read(self, size=-1):
        if self.noted:
            self.noted()
            self.noted = None
        return self.stream.read(size)

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


@pytest.fixture
def platform(embedded_with):
    return embedded_with(UPLOAD_PART_BYTES=str(PART), GATEWAY_UPLOAD_PART_MAX_BYTES=str(PART))


def put_part(platform, token: str, upload_id: str, number: int, sent: Sent, length: int):
    return platform.api.request("PUT", f"/uploads/{upload_id}/parts/{number}", token, input_stream=sent,
                                headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)})


def test_a_part_is_streamed_through_not_read_whole_first(platform):
    api = platform.api
    teacher = Person(api, "teacher")
    backends = platform.gateway.extensions["sferum.gateway"]["config"].backends
    current = {}
    backends["messaging"] = watching = Watching(backends["messaging"], lambda: current["sent"])
    upload = api.post("/uploads", {"name": "урок.mp4", "size": len(MP4)}, token=teacher.token).json
    assert upload["part_size"] == PART
    for number in (1, 2, 3):
        current["sent"] = Sent(MP4[(number - 1) * PART:number * PART])
        assert put_part(platform, teacher.token, upload["id"], number, current["sent"], PART).status_code == 200
        assert current["sent"].taken == PART
    # messaging began reading each part while most of it was still on the client's side.
    assert len(watching.taken_at_first_read) == 3
    assert all(taken < PART // 4 for taken in watching.taken_at_first_read), watching.taken_at_first_read
    stored = api.post(f"/uploads/{upload['id']}/complete", token=teacher.token).json
    assert api.get(f"/files/{stored['id']}", token=teacher.token).body == MP4


def test_only_the_parts_path_takes_a_part_and_no_part_is_larger(platform):
    api = platform.api
    teacher = Person(api, "teacher")
    upload = api.post("/uploads", {"name": "урок.mp4", "size": len(MP4)}, token=teacher.token).json
    too_big = MP4[:PART] + b"x"
    error = assert_error(put_part(platform, teacher.token, upload["id"], 1, Sent(too_big), len(too_big)), 413,
                         "payload_too_large")
    assert error["details"]["max_bytes"] == PART
    assert api.get(f"/uploads/{upload['id']}", token=teacher.token).json["received"] == []
    # Elsewhere the gateway's own limit holds, not the parts' (here the larger one).
    config = platform.gateway.extensions["sferum.gateway"]["config"]
    assert config.max_body_bytes > config.upload_part_max_bytes == PART
