"""Announcements read by whom (issue 16, point 12): a channel's
administrators see how many of its members read each post; names only in
the staff channel, where the staff read the school's instructions."""
from __future__ import annotations

import pytest
from support.chats import created, join_official, send
from support.school import Person, School, create_region

from devkit.helpers import assert_error


@pytest.fixture(scope="module")
def world(embedded_module):
    platform = embedded_module
    api = platform.api
    region = create_region(platform, "Регион объявлений")
    school = School(platform, api, "Школа № 3", region_id=region)
    school.other = School(platform, api, "Школа № 4", region_id=region)
    school.channel = join_official(api, school.admin, school.org_id, "school")["id"]
    for person in (school.director, school.head, school.teacher, school.student, school.parent):
        join_official(api, person, school.org_id, "school")
    school.staff_channel = join_official(api, school.admin, school.org_id, "staff")["id"]
    for person in (school.director, school.head, school.teacher):
        join_official(api, person, school.org_id, "staff")
    join_official(api, school.other.admin, school.other.org_id, "school")
    return school


def read(api, person, chat_id, message_id):
    assert api.post(f"/chats/{chat_id}/read", {"message_id": message_id}, token=person.token).status_code == 200


def reads(api, person, message_id):
    return api.get(f"/messages/{message_id}/reads", token=person.token)


def test_the_admins_see_how_many_members_read_each_post(world):
    api, school = world.api, world
    first = send(api, school.admin, school.channel, "Собрание в пятницу")
    second = send(api, school.admin, school.channel, "Каникулы с 28 октября")
    members = 5  # everybody of the school but the admin, who wrote the posts
    assert created(reads(api, school.admin, first["id"]), 200) == {
        "message_id": first["id"], "chat_id": school.channel, "read": 0, "members": members, "readers": None}
    read(api, school.student, school.channel, first["id"])
    read(api, school.parent, school.channel, second["id"])  # reading the newer reads the older too
    assert created(reads(api, school.admin, first["id"]), 200)["read"] == 2
    assert created(reads(api, school.admin, second["id"]), 200)["read"] == 1
    history = created(api.get(f"/chats/{school.channel}/messages", token=school.admin.token), 200)["items"]
    counts = {item["id"]: item["read_count"] for item in history}
    assert counts[first["id"]] == 2 and counts[second["id"]] == 1
    # Members read the posts, not the counts.
    assert all("read_count" not in item for item in
               api.get(f"/chats/{school.channel}/messages", token=school.student.token).json["items"])


def test_names_are_shown_in_the_staff_channel_only(world):
    api, school = world.api, world
    post = send(api, school.admin, school.staff_channel, "Педсовет во вторник")
    read(api, school.head, school.staff_channel, post["id"])
    read(api, school.teacher, school.staff_channel, post["id"])
    shown = created(reads(api, school.admin, post["id"]), 200)
    assert (shown["read"], shown["members"]) == (2, 3)
    assert sorted(person["id"] for person in shown["readers"]) == sorted([school.head.id, school.teacher.id])
    assert {person["display_name"] for person in shown["readers"]} == {"class head of 5А", "teacher"}


@pytest.mark.parametrize("who,status,code", [
    ("admin", 200, None), ("director", 403, "forbidden"), ("class_head", 403, "forbidden"),
    ("teacher", 403, "forbidden"), ("student", 403, "forbidden"), ("parent", 403, "forbidden"),
    ("nobody", 404, "not_found"), ("outsider", 404, "not_found"), ("other_student", 404, "not_found"),
])
def test_who_sees_the_reads_of_a_channels_post(world, who, status, code):
    api, school = world.api, world
    post = send(api, school.admin, school.channel, f"Объявление для {who}")
    person = dict(school.everyone, nobody=Person(api, "nobody"), outsider=school.other.admin,
                  other_student=school.other_student)[who]
    before = created(reads(api, school.admin, post["id"]), 200)
    response = reads(api, person, post["id"])
    if status == 200:
        assert response.status_code == 200
    else:
        assert_error(response, status, code)
    assert created(reads(api, school.admin, post["id"]), 200) == before
    assert_error(api.get(f"/messages/{post['id']}/reads"), 401, "unauthorized")


def test_reads_are_counted_in_channels_only(world):
    api, school = world.api, world
    chat = created(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Не канал"},
                            token=school.head.token))
    message = send(api, school.head, chat["id"], "Привет")
    assert_error(reads(api, school.head, message["id"]), 422, "not_a_channel")
    assert_error(reads(api, school.admin, "no-such-message"), 404, "not_found")
    other_post = send(api, school.other.admin, api.get("/chats", token=school.other.admin.token).json["items"][0]["id"],
                      "Из другой школы")
    assert_error(reads(api, school.admin, other_post["id"]), 404, "not_found")
