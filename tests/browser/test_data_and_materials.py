"""Issue 16, points 9–12 in Chromium: a video lesson uploaded in parts from
the chat screen with its progress, and found among the chat's materials; a
whole class invited to a new chat in one step; the channel's administrator
seeing how many read a post; a person downloading their data and asking for
(then cancelling) its erasure on the profile screen."""
from __future__ import annotations

import json

import pytest

from devkit.helpers import wait_for

from .school import School

# Parts of 1 MiB: a lesson of a few MiB goes in several parts, as a large one would.
PLATFORM_ENV = {"UPLOAD_PART_BYTES": str(1 << 20)}
LESSON = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 25600)[:6 * (1 << 20) + 4321]


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=600)


@pytest.fixture(scope="module")
def class_chat(school):
    teacher = school.verified_teacher("Ольга Сергеевна Историк")
    student = school.member("student", "Коля Ученик", "5А")
    chat_id = school.group_chat(teacher, [student], "История 5А")
    return teacher, student, chat_id


def official_chat(school, person, purpose: str) -> str:
    """Accepts the platform's invitation to the school's official chat of this purpose."""
    def invitation():
        items = school.get("/me/chat-invitations", person)["items"]
        return next((item for item in items if item["chat"]["purpose"] == purpose), None)
    found = wait_for(invitation, message=f"{person.name}'s invitation to the {purpose} chat")
    school.post(f"/chat-invitations/{found['id']}/accept", person,
                {"accepted_rules_version": found["chat"]["rules_version"]})
    return found["chat"]["id"]


def test_a_video_lesson_goes_in_parts_with_its_progress_and_is_among_the_materials(school, class_chat, browsers,
                                                                                     tmp_path):
    teacher, student, chat_id = class_chat
    lesson = tmp_path / "Урок 7. Древний Египет.mp4"
    lesson.write_bytes(LESSON)
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    teacher_page.find(".composer input[type=file]", visible=False).send_keys(str(lesson))
    attachment = teacher_page.find('.attachment[data-parts="1"]', "the lesson going in parts")
    assert attachment.find_element("css selector", "progress").get_attribute("max") == str(len(LESSON))
    teacher_page.find(".attachment.uploaded", "the upload to finish")
    assert attachment.find_element("css selector", ".upload-percent").text == "100%"
    parts = teacher_page.script("return performance.getEntriesByType('resource')"
                                ".filter((e) => e.name.includes('/parts/')).length")
    assert parts == 7, "six parts of 1 MiB and the rest"
    teacher_page.type(".composer textarea", "Видеоурок к пятнице\n")

    student_page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    student_page.find_text(".msg .file", "Урок 7. Древний Египет.mp4", "the lesson in the student's chat")
    student_page.click(".chat-tools button", "Материалы")
    material = student_page.find_text("dialog .material", "Урок 7. Древний Египет.mp4", "the chat's materials")
    assert "Ольга Сергеевна Историк" in material.text
    material.find_element("css selector", "button.file").click()
    downloaded = student_page.browser.downloads / "Урок 7. Древний Египет.mp4"
    student_page.wait(lambda: downloaded.exists() and downloaded.read_bytes() == LESSON, "the lesson downloaded")


def test_a_teacher_invites_a_whole_class_to_a_new_chat_in_one_step(school, class_chat, browsers):
    teacher, student, _chat_id = class_chat
    classmate = school.member("student", "Лена Ученица", "5А")
    other = school.member("student", "Гоша из 5Б", "5Б")
    page = browsers().sign_in(school.admin.phone, "/chats")
    page.click(".side-head button", "Новый чат")
    page.type("dialog input[name=title]", "Экскурсия 5А")
    page.find("dialog select[name=unit_id] option")
    next(o for o in page.all("dialog select[name=unit_id] option") if o.text == "5А").click()
    page.wait(lambda: page.find("dialog select[name=audience]").is_enabled(), "the class's audience to choose")
    next(o for o in page.all("dialog select[name=audience] option") if o.text == "Учеников").click()
    page.click("dialog button.primary", "Создать")
    page.find_text(".chat-head .chat-title", "Экскурсия 5А")
    for person in (student, classmate):
        wait_for(lambda: any(item["chat"]["title"] == "Экскурсия 5А"
                             for item in school.get("/me/chat-invitations", person)["items"]),
                 message=f"{person.name} invited")
    assert not any(item["chat"]["title"] == "Экскурсия 5А" for item in school.get("/me/chat-invitations", other)["items"])


def test_the_channels_administrator_sees_how_many_read_a_post(school, browsers):
    channel = official_chat(school, school.admin, "school")
    readers = [school.member("student", f"Читатель {n}", "5Б") for n in range(2)]
    for person in readers:
        official_chat(school, person, "school")
    post = school.post_message(school.admin, channel, "Завтра линейка в 8:30")
    school.post(f"/chats/{channel}/read", readers[0], {"message_id": post["id"]})
    page = browsers().sign_in(school.admin.phone, f"/chats/{channel}")
    message = page.find_text(".msg", "Завтра линейка в 8:30")
    reads = page.wait(lambda: message.find_elements("css selector", "button.reads"), "the read count")[0]
    assert reads.text == "Прочитал 1"
    reads.click()
    total = page.find("dialog .reads-total").text
    assert total.startswith("Прочитали 1 из "), total
    page.find_text("dialog p", "только число")
    # A reader sees the post, not the count.
    reader_page = browsers().sign_in(readers[1].phone, f"/chats/{channel}")
    reader_page.find_text(".msg .text", "Завтра линейка в 8:30")
    assert not reader_page.all(".msg button.reads")


def test_a_person_downloads_their_data_and_asks_for_its_erasure_then_cancels(school, class_chat, browsers):
    _teacher, student, chat_id = class_chat
    school.post_message(student, chat_id, "Моё сообщение для выгрузки")
    page = browsers().sign_in(student.phone, "/profile")
    page.click(".privacy button", "Скачать мои данные")
    downloaded = page.browser.downloads / f"sferum-data-{student.id}.json"
    page.wait(lambda: downloaded.exists() and downloaded.stat().st_size > 0, "the export downloaded")
    document = json.loads(downloaded.read_text())
    assert document["user_id"] == student.id
    assert "Моё сообщение для выгрузки" in [m["text"] for m in document["parts"]["messaging"]["messages"]]

    page.click(".privacy .erasure button", "Удалить мои данные")
    page.find_text("dialog p", "В назначенный день ваш аккаунт")
    page.click("dialog button.danger", "Удалить данные")
    pending = page.find(".privacy .erasure-pending", "the erasure waiting")
    assert pending.text.startswith("Ваши данные будут удалены ")
    assert school.get("/me/erasure", student)["status"] == "pending"
    page.open("/profile")
    page.find(".privacy .erasure-pending", "still waiting after a reload")
    page.click(".privacy .erasure button", "Отменить удаление")
    page.find_text(".privacy .erasure button", "Удалить мои данные", "the erasure cancelled")
    assert school.api.get("/me/erasure", token=student.token).status_code == 404
