"""Automatic flags, never automatic punishment: the filters open reports for
the chat's moderators (stop words, outside links in chats with students,
flooding), and a student's flagged message waits for review where the chat
says so, until a moderator releases or removes it."""
import pytest
from support.chats import join_official, send, texts
from support.moderation import wait_member, wait_moderating
from support.school import School

from devkit.helpers import wait_for


@pytest.fixture
def platform(embedded_with, tmp_path):
    words = tmp_path / "stop-words.txt"
    words.write_text("# the operator's list\nказино\nнарко*\n", encoding="utf-8")
    return embedded_with(STOP_WORDS_FILE=str(words), MODERATION_FLOOD_MESSAGES=4, MODERATION_FLOOD_SECONDS=30,
                         ALLOWED_LINK_HOSTS="edu.example.ru")


def flagged(api, moderator, chat_id, count):
    def queue():
        items = api.get(f"/chats/{chat_id}/reports", token=moderator.token).json["items"]
        return items if len(items) >= count else None
    return wait_for(queue, message=f"{count} reports in the queue")


def test_filters_open_reports_and_punish_nobody(platform):
    api = platform.api
    s = School(platform, api)
    chat = join_official(api, s.head, s.org_id, "class_students", s.class_a)["id"]
    join_official(api, s.student, s.org_id, "class_students", s.class_a)
    wait_moderating(api, s.head, chat)
    wait_member(api, s.student, chat)
    send(api, s.student, chat, "Кто хочет в КАЗИНО?")
    send(api, s.student, chat, "Учебник тут: https://edu.example.ru/book и тут vk.com/club1")
    send(api, s.head, chat, "Не пишите про казино, ссылки только школьные: https://example.org")
    send(api, s.student, chat, "ок")
    send(api, s.student, chat, "ок?")
    queue = flagged(api, s.head, chat, 3)
    found = {r["excerpt"]: r for r in queue}
    assert set(found) == {"Кто хочет в КАЗИНО?", "Учебник тут: https://edu.example.ru/book и тут vk.com/club1",
                          "ок?"}
    assert found["Кто хочет в КАЗИНО?"]["flags"] == {"stop_word": ["казино"]}
    assert found["Учебник тут: https://edu.example.ru/book и тут vk.com/club1"]["flags"] == {
        "outside_link": ["vk.com"]}
    # Four messages of the student within 30 seconds: one flooding report, at the fourth, not one per message.
    assert found["ок?"]["flags"] == {"flooding": ["4 in 30 s"]}
    assert all(r["source"] == "filter" and r["reporter"] is None and not r["held"] for r in queue)
    last = send(api, s.student, chat, "ещё")
    wait_for(lambda: api.post("/reports", {"message_id": last["id"], "reason": "x", "rule": 99},
                              token=s.head.token).status_code == 422, message="moderation screening the fifth")
    # Nobody was punished: the student posts on, and nothing is in the log.
    assert api.get(f"/chats/{chat}/moderation-log", token=s.head.token).json["items"] == []
    assert api.get("/me/violations", token=s.student.token).json["items"] == []
    assert len(api.get(f"/chats/{chat}/reports", token=s.head.token).json["items"]) == 3


def test_links_are_flagged_only_where_students_are(platform):
    api = platform.api
    s = School(platform, api)
    chat = join_official(api, s.teacher, s.org_id, "teachers")["id"]
    join_official(api, s.admin, s.org_id, "teachers")
    wait_moderating(api, s.admin, chat)
    wait_member(api, s.teacher, chat)
    send(api, s.teacher, chat, "Методичка: vk.com/doc1")
    send(api, s.teacher, chat, "И про наркотики поговорим на классном часе")
    assert [r["flags"] for r in flagged(api, s.admin, chat, 1)] == [{"stop_word": ["нарко*"]}]


def test_a_held_message_waits_until_a_moderator_decides(platform):
    api = platform.api
    s = School(platform, api)
    chat = join_official(api, s.head, s.org_id, "class_students", s.class_a)["id"]
    join_official(api, s.student, s.org_id, "class_students", s.class_a)
    classmate = s.invite_and_join("student", "classmate", unit_id=s.class_a)
    join_official(api, classmate, s.org_id, "class_students", s.class_a)
    assert api.patch(f"/chats/{chat}", {"hold_flagged": True}, token=s.head.token).json["hold_flagged"]
    wait_moderating(api, s.head, chat)
    first = send(api, s.student, chat, "Айда в казино после уроков")
    second = send(api, s.student, chat, "Смотри vk.com/club1")
    assert first["held"] and second["held"]
    queue = flagged(api, s.head, chat, 2)
    assert all(r["held"] for r in queue)
    assert wait_for(lambda: api.get(f"/chats/{chat}", token=s.head.token).json["open_reports"] == 2,
                    message="the moderator's badge")
    unseen = texts(api, classmate, chat)
    assert "Айда в казино после уроков" not in unseen and "Смотри vk.com/club1" not in unseen
    by_message = {r["message_id"]: r["id"] for r in queue}
    # Released: everyone sees it. Removed by a rule: nobody does, and it counts as a violation.
    assert api.post(f"/reports/{by_message[second['id']]}/resolve", {"action": "dismiss", "note": "Ссылка на кружок"},
                    token=s.head.token).status_code == 200
    removed = api.post(f"/reports/{by_message[first['id']]}/resolve", {"action": "removal", "rule": 2},
                       token=s.head.token)
    assert removed.status_code == 200 and removed.json["outcome"] == "removal"
    wait_for(lambda: "Смотри vk.com/club1" in texts(api, classmate, chat), message="the released message shown")
    wait_for(lambda: "Айда в казино после уроков" not in texts(api, s.student, chat), message="the removal")
    assert "Айда в казино после уроков" not in texts(api, classmate, chat)
    assert [v["rule"] for v in api.get("/me/violations", token=s.student.token).json["items"]] == [2]
    wait_for(lambda: api.get(f"/chats/{chat}", token=s.head.token).json["open_reports"] == 0,
             message="the badge cleared")
