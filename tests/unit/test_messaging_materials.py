"""Materials (issue 16, point 11): a chat's files as a list, and large files
(video lessons) uploaded in resumable parts that become the same file object
as a file sent whole, streamed to the storage and checked whole once
assembled. Parts are 1 KiB here (UPLOAD_PART_BYTES) so that files of a few
parts stay small; the limits are the production defaults otherwise."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.chats import created, file_part, join_official, send
from support.school import Person, School

from devkit.helpers import assert_error

PART = 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def platform(embedded_module_with):
    return embedded_module_with(UPLOAD_PART_BYTES=str(PART))


@pytest.fixture(scope="module")
def school(platform):
    api = platform.api
    school = School(platform, api)
    school.class_chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    return school


def video(size: int) -> bytes:
    return (MP4_HEAD + bytes(range(256)) * (size // 256 + 1))[:size]


def begin(api, person, name: str, size: int) -> dict:
    return created(api.post("/uploads", {"name": name, "size": size, "content_type": "video/mp4"},
                            token=person.token))


def put(api, person, upload_id: str, number: int, data: bytes, **headers):
    return api.request("PUT", f"/uploads/{upload_id}/parts/{number}", person.token, data=data,
                       headers={**OCTETS, **headers})


def parts_of(data: bytes) -> list[bytes]:
    return [data[start:start + PART] for start in range(0, len(data), PART)]


def storage_root(platform) -> Path:
    return platform.apps["messaging"].extensions["sferum.files"].root


def stored_files(platform) -> list[str]:
    """Every file the storage holds (parts waiting included), read behind its back."""
    root = storage_root(platform)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def upload_rows(platform) -> list[tuple]:
    from services.messaging.models import StoredFile, Upload, UploadPart

    with platform.apps["messaging"].extensions["sferum"].connection():
        return ([(u.id, u.status, u.file_id) for u in Upload.select().order_by(Upload.id)]
                + [(p.upload_id, p.number, p.size) for p in UploadPart.select().order_by(UploadPart.id)]
                + [(f.id, f.name) for f in StoredFile.select().order_by(StoredFile.id)])


class Unchanged:
    """What a refused call must leave as it was: the uploads, their parts, the
    files, and every byte the storage holds."""

    def __init__(self, platform):
        self.platform = platform
        self.before = self.state()

    def state(self):
        return upload_rows(self.platform), stored_files(self.platform)

    def check(self):
        assert self.state() == self.before


def test_a_video_lesson_arrives_in_parts_resumes_and_becomes_the_same_file_object(platform, school):
    api, teacher = platform.api, school.head
    data = video(3 * PART + 100)
    upload = begin(api, teacher, "Урок 1. Дроби.mp4", len(data))
    assert (upload["parts"], upload["part_size"], upload["next_part"], upload["received"]) == (4, PART, 1, [])
    assert upload["content_type"] == "video/mp4" and upload["status"] == "open"
    pieces = parts_of(data)
    for number in (1, 2):
        assert put(api, teacher, upload["id"], number, pieces[number - 1]).status_code == 200
    # The connection broke; the app asks where it stopped and goes on from there.
    resumed = created(api.get(f"/uploads/{upload['id']}", token=teacher.token), 200)
    assert (resumed["received"], resumed["next_part"]) == ([1, 2], 3)
    # A part whose answer was lost is simply sent again.
    assert put(api, teacher, upload["id"], 2, pieces[1]).json["received"] == [1, 2]
    for number in (3, 4):
        state = created(put(api, teacher, upload["id"], number, pieces[number - 1]), 200)
    assert (state["received"], state["next_part"]) == ([1, 2, 3, 4], None)
    stored = created(api.post(f"/uploads/{upload['id']}/complete", token=teacher.token))
    whole = created(api.post("/files", token=teacher.token, **file_part(data, "Урок 1. Дроби.mp4")))
    assert set(stored) == set(whole) and stored["size"] == len(data) and stored["content_type"] == "video/mp4"
    again = created(api.post(f"/uploads/{upload['id']}/complete", token=teacher.token), 200)
    assert again == stored
    assert created(api.get(f"/uploads/{upload['id']}", token=teacher.token), 200)["file"]["id"] == stored["id"]
    assert not any(name.startswith(".parts/") for name in stored_files(platform)), "the parts are dropped"

    message = send(api, teacher, school.class_chat, "Видеоурок к четвергу", file_ids=[stored["id"]])
    downloaded = api.get(f"/files/{stored['id']}", token=school.student.token)
    assert downloaded.status_code == 200 and downloaded.body == data
    listed = created(api.get(f"/chats/{school.class_chat}/files", token=school.student.token), 200)["items"]
    assert listed[0]["id"] == stored["id"] and listed[0]["message_id"] == message["id"]
    assert listed[0]["author"]["id"] == teacher.id and listed[0]["name"] == "Урок 1. Дроби.mp4"


def test_a_chat_lists_its_materials_newest_first_and_only_what_its_members_see(platform, school):
    api, head = platform.api, school.head
    chat = school.class_chat
    first = created(api.post("/files", token=head.token, **file_part(b"%PDF-1.4 task", "задание.pdf")))
    second = created(api.post("/files", token=head.token, **file_part(b"answers", "ответы.txt")))
    third = created(api.post("/files", token=head.token, **file_part(b"draft", "черновик.txt")))
    send(api, head, chat, "Задание", file_ids=[first["id"]])
    send(api, head, chat, "Ответы и черновик", file_ids=[second["id"], third["id"]])
    withdrawn = send(api, school.student, chat, "моё", file_ids=[created(api.post(
        "/files", token=school.student.token, **file_part(b"mine", "моё.txt")))["id"]])
    assert api.delete(f"/messages/{withdrawn['id']}", token=school.student.token).status_code == 204
    listed = created(api.get(f"/chats/{chat}/files", params={"limit": 2}, token=school.student.token), 200)
    assert [item["id"] for item in listed["items"]] == [second["id"], third["id"]]
    older = created(api.get(f"/chats/{chat}/files", params={"limit": 2, "cursor": listed["next_cursor"]},
                            token=school.student.token), 200)["items"]
    assert first["id"] in [item["id"] for item in older]
    # Who is not in the chat finds no chat at all.
    assert_error(api.get(f"/chats/{chat}/files", token=school.parent.token), 404, "not_found")
    assert_error(api.get(f"/chats/{chat}/files", token=school.admin.token), 404, "not_found")
    assert_error(api.get(f"/chats/{chat}/files", params={"cursor": "not-a-cursor"}, token=school.head.token), 422)


@pytest.mark.parametrize("body,status,code", [
    ({"name": "Урок.mp4", "size": 3 * 10 ** 9}, 413, "file_too_large"),
    ({"name": "Урок.mp4", "size": (2 << 30) + 1}, 413, "file_too_large"),
    ({"name": "setup.exe", "size": 1000}, 415, "unsupported_file_type"),
    ({"name": "Урок", "size": 1000}, 415, "unsupported_file_type"),
    ({"name": "Урок.mp4", "size": 0}, 422, None),
    ({"name": "Урок.mp4", "size": -5}, 422, None),
    ({"name": "Урок.mp4", "size": "1000"}, 422, None),
    ({"name": "Урок.mp4"}, 422, None),
    ({"size": 1000}, 422, None),
    ({"name": "", "size": 1000}, 422, None),
    ({"name": "../", "size": 1000}, 422, None),
    ({"name": "урок\u202egpj.mp4", "size": 1000}, 422, None),
    ({"name": "Урок.mp4", "size": 1000, "content_type": "x" * 300}, 422, None),
], ids=["3 GB", "one byte over 2 GiB", "a program", "no extension", "empty", "negative", "a string", "no size",
        "no name", "an empty name", "a path", "a bidi override", "a long type"])
def test_a_bad_upload_is_refused_at_once_and_changes_nothing(platform, school, body, status, code):
    unchanged = Unchanged(platform)
    assert_error(platform.api.post("/uploads", body, token=school.student.token), status, code)
    unchanged.check()


def test_exactly_the_largest_file_is_taken(platform, school):
    upload = begin(platform.api, school.teacher, "Урок.mp4", 2 << 30)
    assert upload["parts"] == (2 << 30) // PART
    assert platform.api.delete(f"/uploads/{upload['id']}", token=school.teacher.token).status_code == 204


def test_parts_out_of_order_of_the_wrong_size_or_number_change_nothing(platform, school):
    api, teacher = platform.api, school.teacher
    data = video(3 * PART + 10)
    upload = begin(api, teacher, "Урок 2.mp4", len(data))
    pieces = parts_of(data)
    assert put(api, teacher, upload["id"], 1, pieces[0]).status_code == 200
    unchanged = Unchanged(platform)
    error = assert_error(put(api, teacher, upload["id"], 3, pieces[2]), 409, "part_out_of_order")
    assert error["details"]["next_part"] == 2
    error = assert_error(put(api, teacher, upload["id"], 2, pieces[1][:-1]), 422, "wrong_part_size")
    assert error["details"] == {"expected": PART, "received": PART - 1}
    # A part larger than any part may be is refused before its body is read.
    error = assert_error(put(api, teacher, upload["id"], 2, pieces[1] + b"x"), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": PART}
    assert_error(put(api, teacher, upload["id"], 4, pieces[3]), 409, "part_out_of_order")
    assert_error(put(api, teacher, upload["id"], 0, pieces[0]), 422)
    assert_error(put(api, teacher, upload["id"], 5, b"x"), 422)
    assert_error(api.request("PUT", f"/uploads/{upload['id']}/parts/two", teacher.token, data=pieces[1],
                             headers=OCTETS), 404)
    error = assert_error(api.post(f"/uploads/{upload['id']}/complete", token=teacher.token), 409, "upload_incomplete")
    assert error["details"] == {"next_part": 2, "missing": [2, 3, 4]}
    unchanged.check()
    assert created(api.get(f"/uploads/{upload['id']}", token=teacher.token), 200)["received"] == [1]


def test_a_program_named_like_a_video_is_refused_at_its_first_part(platform, school):
    api, student = platform.api, school.student
    program = (b"MZ\x90\x00\x03" + b"\x00" * PART)[:PART + 10]
    upload = begin(api, student, "мультик.mp4", len(program))
    unchanged = Unchanged(platform)
    assert_error(put(api, student, upload["id"], 1, program[:PART]), 415, "unsupported_file_type")
    unchanged.check()


def test_the_assembled_file_is_checked_whole(platform, school):
    """A text file is UTF-8 text throughout: a control character in its last
    part is found once the parts are put together, and nothing is kept."""
    api, student = platform.api, school.student
    data = "Сочинение. ".encode() * 200
    data = data[:2 * PART] + b"\x00binary" + data[2 * PART:]
    upload = begin(api, student, "сочинение.txt", len(data))
    for number, piece in enumerate(parts_of(data), 1):
        assert put(api, student, upload["id"], number, piece).status_code == 200
    files_before, bytes_before = [row for row in upload_rows(platform) if len(row) == 2], stored_files(platform)
    assert_error(api.post(f"/uploads/{upload['id']}/complete", token=student.token), 415, "unsupported_file_type")
    assert created(api.get(f"/uploads/{upload['id']}", token=student.token), 200)["status"] == "refused"
    assert [row for row in upload_rows(platform) if len(row) == 2] == files_before
    # Its parts are gone, and no file took their place.
    assert set(stored_files(platform)) < set(bytes_before)
    assert len(set(bytes_before) - set(stored_files(platform))) == len(parts_of(data))
    assert_error(api.post(f"/uploads/{upload['id']}/complete", token=student.token), 409, "upload_closed")


def test_text_split_inside_a_character_is_whole_again_once_assembled(platform, school):
    api, student = platform.api, school.student
    data = b"x" + ("а" * PART).encode()  # a byte, then letters of two bytes: each part ends inside a letter
    upload = begin(api, student, "буквы.txt", len(data))
    for number, piece in enumerate(parts_of(data), 1):
        assert put(api, student, upload["id"], number, piece).status_code == 200
    stored = created(api.post(f"/uploads/{upload['id']}/complete", token=student.token))
    assert api.get(f"/files/{stored['id']}", token=student.token).body == data


def test_an_upload_cancelled_or_left_unfinished_gives_its_space_back(platform, school):
    from services.common.clock import utcnow
    from services.messaging import uploads

    api, teacher = platform.api, school.teacher
    data = video(2 * PART)

    def first_part_of(upload) -> set[str]:
        before = set(stored_files(platform))
        assert put(api, teacher, upload["id"], 1, data[:PART]).status_code == 200
        added = set(stored_files(platform)) - before
        assert len(added) == 1 and next(iter(added)).startswith(".parts/")
        return added

    cancelled = begin(api, teacher, "отмена.mp4", len(data))
    part = first_part_of(cancelled)
    assert api.delete(f"/uploads/{cancelled['id']}", token=teacher.token).status_code == 204
    assert not part & set(stored_files(platform))
    assert_error(put(api, teacher, cancelled["id"], 2, data[PART:]), 409, "upload_closed")
    assert_error(api.post(f"/uploads/{cancelled['id']}/complete", token=teacher.token), 409, "upload_closed")

    left = begin(api, teacher, "забыт.mp4", len(data))
    part = first_part_of(left)
    runtime = platform.apps["messaging"].extensions["sferum"]
    storage = platform.apps["messaging"].extensions["sferum.files"]
    with runtime.connection():
        assert uploads.drop_expired(storage, now=utcnow() + timedelta(days=2)) >= 1
    shown = created(api.get(f"/uploads/{left['id']}", token=teacher.token), 200)
    assert shown["status"] == "aborted" and shown["received"] == []
    assert not part & set(stored_files(platform))


def test_a_person_has_a_few_uploads_open_at_once(platform, school):
    from services.messaging.uploads import MAX_OPEN_PER_USER

    api = platform.api
    person = Person(api, "uploader")
    opened = [begin(api, person, f"урок {n}.mp4", 5000)["id"] for n in range(MAX_OPEN_PER_USER)]
    unchanged = Unchanged(platform)
    assert_error(api.post("/uploads", {"name": "ещё.mp4", "size": 5000}, token=person.token), 429, "too_many_uploads")
    unchanged.check()
    assert api.delete(f"/uploads/{opened[0]}", token=person.token).status_code == 204
    begin(api, person, "ещё.mp4", 5000)


def test_an_upload_is_its_uploaders_alone(platform, school):
    api, owner, other = platform.api, school.teacher, school.head
    data = video(PART + 1)
    upload = begin(api, owner, "чужое.mp4", len(data))
    assert put(api, owner, upload["id"], 1, data[:PART]).status_code == 200
    unchanged = Unchanged(platform)
    for response in (api.get(f"/uploads/{upload['id']}", token=other.token),
                     put(api, other, upload["id"], 2, data[PART:]),
                     api.post(f"/uploads/{upload['id']}/complete", token=other.token),
                     api.delete(f"/uploads/{upload['id']}", token=other.token),
                     api.get("/uploads/no-such-upload", token=owner.token)):
        assert_error(response, 404, "not_found")
    for method, path in (("POST", "/uploads"), ("GET", f"/uploads/{upload['id']}"),
                         ("PUT", f"/uploads/{upload['id']}/parts/2"), ("POST", f"/uploads/{upload['id']}/complete"),
                         ("DELETE", f"/uploads/{upload['id']}"), ("GET", f"/chats/{school.class_chat}/files")):
        assert_error(api.request(method, path), 401, "unauthorized")
    unchanged.check()


def test_the_parts_of_a_file():
    from services.messaging.uploads import next_part, part_count, part_length

    assert [part_count(size, 10) for size in (1, 10, 11, 20, 21)] == [1, 1, 2, 2, 3]
    assert [part_length(25, 10, n) for n in (1, 2, 3)] == [10, 10, 5]
    assert [part_length(20, 10, n) for n in (1, 2)] == [10, 10]
    assert part_count(2 << 30, 8 << 20) == 256 and part_length(2 << 30, 8 << 20, 256) == 8 << 20
    assert next_part([]) == 1 and next_part([1, 2, 3]) == 4
