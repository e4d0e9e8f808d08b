"""Chats of domain.md through the gateway of the in-process platform: official
chats made from orgstructure's events, joining only by consent with the rules,
messages, membership that follows the school's movements."""
import os
from datetime import timedelta

import pytest
from support.chats import accept, invitation_to, invitations, join_official, my_chat, send, texts, upload
from support.school import Person
from support.streams import Frames

from services.common.clock import isoformat, utcnow
from devkit.helpers import assert_error, wait_for
from services.messaging.handlers import handlers


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def test_official_chats_invite_and_nobody_joins_without_consent(embedded, school):
    api = embedded.api
    # The class head is invited to moderate both chats of 5А; the student only to the students' one.
    class_chat = invitation_to(api, school.head, lambda c: c["purpose"] == "class_students"
                               and c["unit_id"] == school.class_a)
    assert class_chat["role"] == "moderator" and class_chat["chat"]["rules"]
    invitation = invitation_to(api, school.student, lambda c: c["purpose"] == "class_students")
    assert invitation["chat"]["id"] == class_chat["chat"]["id"]
    assert invitation["invited_by"] is None
    chat_id = invitation["chat"]["id"]
    purposes = {inv["chat"]["purpose"] for inv in invitations(api, school.student)}
    assert "staff" not in purposes and "teachers" not in purposes and "class_parents" not in purposes
    # Invited is not a member: the chat is not there for the student yet.
    assert_error(api.get(f"/chats/{chat_id}", token=school.student.token), 404)
    assert_error(api.get(f"/chats/{chat_id}/messages", token=school.student.token), 404)
    assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "привет"}, token=school.student.token), 404)
    head_view = accept(api, school.head, class_chat)
    assert head_view["my_role"] == "moderator" and head_view["member_count"] == 1
    # The rules change while the student is reading the old ones: accepting them is refused.
    changed = api.patch(f"/chats/{chat_id}", {"rules": ["Только по делу."]}, token=school.head.token)
    assert changed.json["rules_version"] == 2
    stale = api.post(f"/chat-invitations/{invitation['id']}/accept", {"accepted_rules_version": 1},
                     token=school.student.token)
    error = assert_error(stale, 409, "rules_changed")
    assert error["details"]["rules"] == ["Только по делу."]
    joined = api.post(f"/chat-invitations/{invitation['id']}/accept", {"accepted_rules_version": 2},
                      token=school.student.token)
    assert joined.status_code == 200 and joined.json["member_count"] == 2
    members = api.get(f"/chats/{chat_id}/members", token=school.student.token).json["items"]
    assert {(m["user_id"], m["role"]) for m in members} == {(school.head.id, "moderator"),
                                                             (school.student.id, "member")}
    assert all("phone" not in m for m in members)
    # The parent's chat of the class, the teachers' chat and both channels exist too.
    assert join_official(api, school.parent, school.org_id, "class_parents", school.class_a)["kind"] == "class"
    assert join_official(api, school.teacher, school.org_id, "teachers")["title"] == "Учительская"
    school_channel = join_official(api, school.admin, school.org_id, "school")
    assert school_channel["kind"] == "channel" and school_channel["my_role"] == "moderator"


def test_messages_replies_edits_deletes_history_and_unread(embedded, school):
    api = embedded.api
    head_chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    chat_id = head_chat["id"]
    first = send(api, school.head, chat_id, "  Завтра экскурсия в музей  ")
    assert first["text"] == "Завтра экскурсия в музей" and first["author"]["display_name"] == "class head of 5А"
    reply = send(api, school.student, chat_id, "Во сколько?", reply_to=first["id"])
    assert reply["reply_to"] == first["id"]
    for n in range(5):
        send(api, school.head, chat_id, f"сообщение {n}")
    listed = my_chat(api, school.student, lambda c: c["id"] == chat_id)
    assert listed["unread_count"] == 6 and listed["last_message"]["text"] == "сообщение 4"
    page = api.get(f"/chats/{chat_id}/messages", params={"limit": 3}, token=school.student.token).json
    assert [m["text"] for m in page["items"]] == ["сообщение 4", "сообщение 3", "сообщение 2"]
    older = api.get(f"/chats/{chat_id}/messages", params={"limit": 3, "cursor": page["next_cursor"]},
                    token=school.student.token).json
    assert [m["text"] for m in older["items"]] == ["сообщение 1", "сообщение 0", "Во сколько?"]
    read = api.post(f"/chats/{chat_id}/read", {"message_id": page["items"][1]["id"]}, token=school.student.token)
    assert read.json["unread_count"] == 1
    # Only the author edits and deletes; a moderator removes someone else's
    # message only through moderation, citing a rule (2.8).
    assert_error(api.patch(f"/messages/{first['id']}", {"text": "взлом"}, token=school.student.token), 403)
    edited = api.patch(f"/messages/{reply['id']}", {"text": "Во сколько встречаемся?"}, token=school.student.token)
    assert edited.json["edited_at"] and edited.json["text"] == "Во сколько встречаемся?"
    assert_error(api.delete(f"/messages/{first['id']}", token=school.student.token), 403)
    assert_error(api.delete(f"/messages/{reply['id']}", token=school.head.token), 403, "removal_requires_rule")
    assert "Во сколько встречаемся?" in texts(api, school.head, chat_id)
    assert api.delete(f"/messages/{reply['id']}", token=school.student.token).status_code == 204
    assert "Во сколько встречаемся?" not in texts(api, school.head, chat_id)
    assert_error(api.patch(f"/messages/{reply['id']}", {"text": "снова"}, token=school.student.token), 404)
    # The chat carries the school's journal and diary links.
    api.patch(f"/orgs/{school.org_id}", {"journal_url": "https://journal.example.ru/5",
                                         "diary_url": "https://diary.example.ru/5"}, token=school.admin.token)
    wait_for(lambda: api.get(f"/chats/{chat_id}", token=school.student.token).json["org"]["diary_url"]
             == "https://diary.example.ru/5", message="the diary link in the chat")


def test_transfer_expulsion_and_dismissal_follow_orgstructure(embedded, school):
    api = embedded.api
    students_a = join_official(api, school.student, school.org_id, "class_students", school.class_a)["id"]
    parents_a = join_official(api, school.parent, school.org_id, "class_parents", school.class_a)["id"]
    join_official(api, school.head, school.org_id, "class_students", school.class_a)
    teachers = join_official(api, school.teacher, school.org_id, "teachers")["id"]
    send(api, school.student, students_a, "я в 5А")
    # Transfer to 5Б: out of 5А's chats (the parent too), invited to 5Б's.
    moved = api.post(f"/orgs/{school.org_id}/members/{school.student.id}/transfer", {"unit_id": school.class_b},
                     token=school.admin.token)
    assert moved.status_code == 200, moved
    wait_for(lambda: api.get(f"/chats/{students_a}", token=school.student.token).status_code == 404,
             message="the student leaving 5А's chat")
    wait_for(lambda: api.get(f"/chats/{parents_a}", token=school.parent.token).status_code == 404,
             message="the parent leaving 5А's parents' chat")
    students_b = join_official(api, school.student, school.org_id, "class_students", school.class_b)["id"]
    parents_b = join_official(api, school.parent, school.org_id, "class_parents", school.class_b)["id"]
    # Expulsion: neither the student nor the parent can read or post anywhere in the school.
    expelled = api.post(f"/orgs/{school.org_id}/members/{school.student.id}/expel", token=school.admin.token)
    assert expelled.status_code == 200, expelled
    for person, chat_id in ((school.student, students_b), (school.parent, parents_b)):
        wait_for(lambda: api.get(f"/chats/{chat_id}", token=person.token).status_code == 404,
                 message=f"{person} removed")
        assert_error(api.get(f"/chats/{chat_id}/messages", token=person.token), 404)
        assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "я ещё тут?"}, token=person.token), 404)
        assert my_chat(api, person, lambda c: c["org_id"] == school.org_id) is None
        assert not [inv for inv in invitations(api, person) if inv["chat"]["org_id"] == school.org_id]
    # Dismissal: the employee leaves every chat of the school.
    assert api.post(f"/orgs/{school.org_id}/members/{school.teacher.id}/dismiss",
                    token=school.admin.token).status_code == 200
    wait_for(lambda: api.get(f"/chats/{teachers}", token=school.teacher.token).status_code == 404,
             message="the dismissed teacher removed")


def test_group_chats_direct_chats_and_links(embedded, school):
    api = embedded.api
    # Students and parents do not create chats; teachers do, and invite rather than add.
    assert_error(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "наш"},
                          token=school.student.token), 403)
    created = api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок робототехники",
                                  "rules": ["Без спама."], "invite_user_ids": [school.student.id]},
                       token=school.teacher.token)
    assert created.status_code == 201 and created.json["member_count"] == 1, created
    chat_id = created.json["id"]
    invitation = invitation_to(api, school.student, lambda c: c["id"] == chat_id)
    assert invitation["invited_by"]["display_name"] == "teacher"
    accept(api, school.student, invitation)
    # A link works for members of the school only; an outsider learns nothing.
    link = api.post(f"/chats/{chat_id}/invites", {"max_uses": 1}, token=school.teacher.token)
    assert link.status_code == 201 and len(link.json["token"]) >= 32
    assert_error(api.post(f"/chats/{chat_id}/invites", {}, token=school.student.token), 403)
    token = link.json["token"]
    outsider = Person(api, "outsider")
    assert_error(api.get(f"/chat-invites/{token}", token=outsider.token), 404)
    assert_error(api.post(f"/chat-invites/{token}/accept", {"accepted_rules_version": 1}, token=outsider.token), 404)
    previewed = api.get(f"/chat-invites/{token}", token=school.other_student.token)
    assert previewed.json["rules"] == ["Без спама."] and previewed.json["already_member"] is False
    assert api.post(f"/chat-invites/{token}/accept", {"accepted_rules_version": 1},
                    token=school.other_student.token).status_code == 200
    assert_error(api.post(f"/chat-invites/{token}/accept", {"accepted_rules_version": 1},
                          token=school.parent.token), 410, "link_not_usable")
    # Leaving is always possible.
    assert api.delete(f"/chats/{chat_id}/members/me", token=school.other_student.token).status_code == 204
    assert_error(api.get(f"/chats/{chat_id}", token=school.other_student.token), 404)
    # Direct chats: a student writes to staff and to their parent, never to another child or adult.
    direct = api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.head.id},
                      token=school.student.token)
    assert direct.status_code == 201 and direct.json["kind"] == "direct"
    again = api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.head.id},
                     token=school.student.token)
    assert again.status_code == 200 and again.json["id"] == direct.json["id"]
    assert_error(api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.other_student.id},
                          token=school.student.token), 403, "direct_chat_not_allowed")
    assert_error(api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.other_student.id},
                          token=school.parent.token), 403, "direct_chat_not_allowed")
    assert api.post("/chats", {"org_id": school.org_id, "kind": "direct", "user_id": school.student.id},
                    token=school.parent.token).status_code == 201
    head_invitation = invitation_to(api, school.head, lambda c: c["id"] == direct.json["id"])
    accept(api, school.head, head_invitation)
    send(api, school.head, direct.json["id"], "Слушаю")
    assert texts(api, school.student, direct.json["id"]) == ["Слушаю"]


def test_channels_are_read_only_for_members_and_polls(embedded, school):
    api = embedded.api
    channel = join_official(api, school.admin, school.org_id, "school")["id"]
    join_official(api, school.parent, school.org_id, "school")
    send(api, school.admin, channel, "Родительское собрание в пятницу")
    assert_error(api.post(f"/chats/{channel}/messages", {"text": "а можно в субботу?"}, token=school.parent.token),
                 403, "channel_read_only")
    group = api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "5А родители и учитель",
                                "invite_user_ids": [school.parent.id]}, token=school.head.token).json["id"]
    accept(api, school.parent, invitation_to(api, school.parent, lambda c: c["id"] == group))
    poll = api.post(f"/chats/{group}/polls", {"question": "Когда собрание?", "options": ["Пятница", "Суббота"]},
                    token=school.head.token)
    assert poll.status_code == 201, poll
    option_ids = [option["id"] for option in poll.json["options"]]
    assert_error(api.post(f"/polls/{poll.json['id']}/votes", {"option_ids": option_ids}, token=school.parent.token), 422)
    voted = api.post(f"/polls/{poll.json['id']}/votes", {"option_ids": [option_ids[1]]}, token=school.parent.token)
    assert [o["votes"] for o in voted.json["options"]] == [0, 1] and voted.json["my_option_ids"] == [option_ids[1]]
    assert voted.json["options"][1]["voters"][0]["display_name"] == "parent"
    changed = api.post(f"/polls/{poll.json['id']}/votes", {"option_ids": [option_ids[0]]}, token=school.parent.token)
    assert [o["votes"] for o in changed.json["options"]] == [1, 0]
    assert api.get(f"/chats/{group}/messages", token=school.parent.token).json["items"][0]["poll_id"] == poll.json["id"]
    assert_error(api.post(f"/polls/{poll.json['id']}/close", token=school.parent.token), 403)
    assert api.post(f"/polls/{poll.json['id']}/close", token=school.head.token).json["closed"] is True
    assert_error(api.post(f"/polls/{poll.json['id']}/votes", {"option_ids": [option_ids[1]]},
                          token=school.parent.token), 409, "poll_closed")
    assert_error(api.get(f"/polls/{poll.json['id']}", token=school.other_student.token), 404)


def test_files_are_seen_by_those_who_see_the_message(embedded, school):
    api = embedded.api
    chat_id = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    content = b"%PDF-1.4\n" + os.urandom(200_000)
    uploaded = upload(api, school.head, "Расписание 5А.pdf", content)
    assert uploaded.status_code == 201, uploaded
    assert uploaded.json["size"] == len(content) and uploaded.json["content_type"] == "application/pdf"
    file_id = uploaded.json["id"]
    # Before it is shared, only the uploader can fetch it.
    assert_error(api.get(f"/files/{file_id}", token=school.student.token), 404)
    message = send(api, school.head, chat_id, "Расписание", file_ids=[file_id])
    assert message["files"] == [{"id": file_id, "name": "Расписание 5А.pdf", "size": len(content),
                                 "content_type": "application/pdf"}]
    download = embedded.gateway.test_client().get(f"/api/v1/files/{file_id}",
                                                  headers={"Authorization": f"Bearer {school.student.token}"})
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # Nobody outside the chat, and no one once the message is gone, but the uploader.
    assert_error(api.get(f"/files/{file_id}", token=school.other_student.token), 404)
    assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "моё", "file_ids": [file_id]},
                          token=school.student.token), 422)
    assert api.delete(f"/messages/{message['id']}", token=school.head.token).status_code == 204
    assert_error(api.get(f"/files/{file_id}", token=school.student.token), 404)
    assert api.get(f"/files/{file_id}", token=school.head.token).status_code == 200
    # Programs and web pages are refused whatever they are called.
    assert_error(upload(api, school.head, "setup.exe", b"MZ\x90\x00"), 415, "unsupported_file_type")
    assert_error(upload(api, school.head, "homework.txt", b"MZ\x90\x00rest"), 415, "unsupported_file_type")
    assert_error(upload(api, school.head, "page.html", b"<script>alert(1)</script>"), 415)
    assert_error(upload(api, school.head, "photo.png", b"GIF89a not a png"), 415)


def test_a_member_blocked_by_moderation_reads_but_does_not_post_until_the_block_ends(embedded, school):
    api = embedded.api
    chat_id = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    runtime = embedded.apps["messaging"].extensions["sferum"]

    def moderation_says(event_type, **data):
        with runtime.connection(), runtime.db.atomic():
            handlers.by_type[event_type](runtime.service, {"type": event_type, "data": {"chat_id": chat_id, **data}})

    poll = api.post(f"/chats/{chat_id}/polls", {"question": "Экскурсия?", "options": ["да", "нет"]},
                    token=school.head.token).json
    until = utcnow() + timedelta(days=3)
    moderation_says("moderation.member.blocked", user_id=school.student.id, until=isoformat(until),
                    violation_ids=["v1", "v2", "v3", "v4"])
    assert_error(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                          token=school.student.token), 403, "blocked")
    error = assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "ну и ладно"}, token=school.student.token),
                         403, "blocked")
    assert error["details"]["until"] == isoformat(until)
    assert_error(api.post(f"/chats/{chat_id}/polls", {"question": "?", "options": ["да", "нет"]},
                          token=school.student.token), 403, "blocked")
    send(api, school.head, chat_id, "Напоминаю правила")
    assert texts(api, school.student, chat_id) == ["Напоминаю правила", "Экскурсия?"]
    moderation_says("moderation.member.unblocked", user_id=school.student.id, reason="apologised")
    send(api, school.student, chat_id, "Извините")
    # A block that has run out does not hold anyone back either.
    moderation_says("moderation.member.blocked", user_id=school.student.id,
                    until=isoformat(utcnow() - timedelta(seconds=1)), violation_ids=["v5"])
    send(api, school.student, chat_id, "Спасибо")


def test_every_change_reaches_the_members_streams_and_only_theirs(embedded, school):
    """The gateway's hub as the sockets see it: frames for the chat's members,
    none for a classmate of another class who is not in the chat."""
    api = embedded.api
    chat_id = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    member, outsider = Frames(embedded, school.student), Frames(embedded, school.other_student)

    def member_got(event_type):
        return wait_for(lambda: event_type in member.types(), message=f"{event_type} on the member's stream")

    invitation = invitation_to(api, school.student, lambda c: c["id"] == chat_id)
    api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок",
                        "invite_user_ids": [school.student.id]}, token=school.teacher.token)
    member_got("chat.invitation")
    accept(api, school.student, invitation)
    member_got("chat.member.joined")
    sent = send(api, school.head, chat_id, "Всем привет")
    member_got("message.created")
    api.patch(f"/messages/{sent['id']}", {"text": "Всем привет!"}, token=school.head.token)
    member_got("message.updated")
    api.delete(f"/messages/{sent['id']}", token=school.head.token)
    member_got("message.deleted")
    poll = api.post(f"/chats/{chat_id}/polls", {"question": "Экскурсия?", "options": ["Да", "Нет"]},
                    token=school.head.token).json
    api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]}, token=school.head.token)
    member_got("poll.updated")
    api.patch(f"/chats/{chat_id}", {"rules": ["Новые правила"]}, token=school.head.token)
    member_got("chat.updated")
    assert api.delete(f"/chats/{chat_id}/members/me", token=school.student.token).status_code == 204
    member_got("chat.member.removed")
    texts_seen = [f["data"].get("text") for f in member.read() if f["type"] == "message.created"]
    assert "Всем привет" in texts_seen
    # Every message frame carries the chat's sequence number: a client sees a gap.
    message_frames = [f for f in member.read() if f["type"].startswith("message.")]
    assert {f["type"] for f in message_frames} == {"message.created", "message.updated", "message.deleted"}
    assert all(isinstance(f["data"]["seq"], int) for f in message_frames), message_frames
    # The classmate of 5Б is in none of this: nothing of the chat reached their stream.
    assert not [f for f in outsider.read() if (f["data"].get("chat_id") or f["data"].get("chat", {}).get("id")) == chat_id]
    member.close()
    outsider.close()


def test_the_chat_list_counts_and_shows_each_chat_on_its_own(embedded, school):
    """Several chats at once: each with its own unread count, last message and members."""
    api = embedded.api
    class_chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)["id"]
    join_official(api, school.student, school.org_id, "class_students", school.class_a)
    group = api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок",
                                "invite_user_ids": [school.student.id]}, token=school.teacher.token).json["id"]
    accept(api, school.student, invitation_to(api, school.student, lambda c: c["id"] == group))
    for n in range(3):
        send(api, school.head, class_chat, f"класс {n}")
    send(api, school.teacher, group, "кружок 0")
    gone = send(api, school.teacher, group, "кружок 1")
    api.delete(f"/messages/{gone['id']}", token=school.teacher.token)
    send(api, school.student, group, "я приду")
    listed = {chat["id"]: chat for chat in api.get("/chats", token=school.student.token).json["items"]}
    assert (listed[class_chat]["unread_count"], listed[class_chat]["last_message"]["text"]) == (3, "класс 2")
    assert (listed[group]["unread_count"], listed[group]["last_message"]["text"]) == (1, "я приду")
    assert (listed[class_chat]["member_count"], listed[group]["member_count"]) == (2, 2)
    assert listed[group]["org"]["name"] == "Школа № 5"
