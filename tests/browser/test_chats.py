"""People using the platform in Chromium: joining a school by an invite link,
chats live between two browsers, files, polls, what users write shown as
text, chat links refused to outsiders, a phone-sized screen."""
from __future__ import annotations


import pytest
from selenium.common.exceptions import NoAlertPresentException

from devkit.helpers import OPERATOR_PHONE, wait_for

from .school import School


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=100)


@pytest.fixture(scope="module")
def class_chat(school):
    """A verified teacher and a student of 5А in a group chat of theirs."""
    teacher = school.verified_teacher("Анна Петровна Учитель")
    student = school.member("student", "Петя Ученик", "5А")
    chat_id = school.group_chat(teacher, [student], "Математика 5А")
    return teacher, student, chat_id


def test_a_new_user_joins_by_an_invite_link_and_accepts_an_official_chats_rules(platform, school, browsers):
    url = f"{platform.base}/join/{school.invite('student', '5А')}"
    page = browsers()
    page.driver.get(url)
    page.find_text(".facts .org-name", "Школа № 1 (демо)")
    assert page.find(".facts .role-name").text == "ученик"
    assert page.find(".facts .unit-name").text == "5А"
    number = school.new_phone()
    page.sign_in_with_form(number, name="Маша Новенькая")
    page.click("button.primary", "Вступить")
    page.find_text("[role=status] .notice", "Вы вступили в «Школа № 1 (демо)»")
    page.click("a.button", "Перейти к чатам")

    # The official chats invite her: she reads a chat's rules and must tick that she did.
    invitation = page.find_text(".invitation", "официальный", "an official chat's invitation")
    chat_title = invitation.find_element("css selector", ".chat-name").text
    invitation.find_element("css selector", "summary").click()
    join = invitation.find_element("css selector", ".consent button[type=submit]")
    assert not join.is_enabled(), "joining needs the rules ticked first"
    invitation.find_element("css selector", ".consent input[type=checkbox]").click()
    page.wait(lambda: join.is_enabled(), "the join button enabled by the tick")
    join.click()
    page.wait(lambda: page.path.startswith("/chats/") and page.path != "/chats/", "the joined chat to open")
    page.find_text(".chat-head .chat-title", chat_title)
    page.find_text(".chat-list .chat-name", chat_title)

    # No token is readable by scripts, none went into a URL, the stream used a ticket.
    assert "sferum_refresh" not in page.script("return document.cookie")
    urls = page.script("return performance.getEntriesByType('resource').map((e) => e.name)") + [page.driver.current_url]
    assert not [u for u in urls if "token=" in u or "access_token" in u], urls
    for entry in page.driver.get_log("browser"):
        assert "Content Security Policy" not in entry["message"], entry


def test_two_browsers_see_each_others_messages_without_reloading(school, class_chat, browsers):
    teacher, student, chat_id = class_chat
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    student_page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    for page in (teacher_page, student_page):
        page.find(".composer textarea")
        page.wait_live()
    teacher_page.type(".composer textarea", "Завтра контрольная по дробям\n")
    seen = student_page.find_text(".msg .text", "Завтра контрольная по дробям", "the teacher's message, live")
    message = seen.find_element("xpath", "ancestor::li[contains(@class, 'msg')]")
    assert "✓ учитель" in message.find_element("css selector", ".meta").text, "the teacher's badge"
    student_page.type(".composer textarea", "Понял, спасибо!\n")
    teacher_page.find_text(".msg .text", "Понял, спасибо!", "the student's answer, live")

    # A reply, an edit and a delete reach the other browser too.
    answer = teacher_page.find_text(".msg", "Понял, спасибо!")
    answer.find_element("css selector", ".msg-actions button").click()  # Ответить
    teacher_page.find_text(".reply-box", "Понял, спасибо!")
    teacher_page.type(".composer textarea", "Молодец\n")
    reply = student_page.find_text(".msg", "Молодец", "the reply")
    assert "Понял, спасибо!" in reply.find_element("css selector", ".reply-quote").text
    mine = teacher_page.find_text(".msg.mine", "Молодец")
    teacher_page.driver.execute_script("arguments[0].scrollIntoView()", mine)
    next(b for b in mine.find_elements("css selector", ".msg-actions button") if b.text == "Изменить").click()
    teacher_page.type(".edit-form textarea", "Молодец, Петя")
    teacher_page.click(".edit-form button[type=submit]")
    student_page.find_text(".msg .text", "Молодец, Петя", "the edit")
    student_page.find_text(".msg .edited", "изменено")
    mine = teacher_page.find_text(".msg.mine", "Молодец, Петя")
    next(b for b in mine.find_elements("css selector", ".msg-actions button") if b.text == "Удалить").click()
    teacher_page.click("dialog button.danger", "Удалить")
    student_page.wait(lambda: not [m for m in student_page.all(".msg .text") if m.text == "Молодец, Петя"],
                      "the deleted message to vanish")

    # The chats list counts what the teacher has not read, and clears when read.
    teacher_page.open("/chats").wait_live()
    school.post_message(student, chat_id, "Ещё вопрос")
    badge = teacher_page.find(f'.chat-item[data-chat-id="{chat_id}"] .unread', "the unread count")
    assert badge.text == "1"
    teacher_page.click(f'.chat-item[data-chat-id="{chat_id}"]')
    teacher_page.find_text(".msg .text", "Ещё вопрос")
    teacher_page.wait(lambda: not teacher_page.all(f'.chat-item[data-chat-id="{chat_id}"] .unread'),
                      "the count cleared once read")


def test_a_file_uploaded_in_one_browser_is_downloaded_in_the_other(school, class_chat, browsers, tmp_path):
    teacher, student, chat_id = class_chat
    content = "Домашнее задание: № 1–5\n".encode() * 2000
    upload = tmp_path / "задание.txt"
    upload.write_bytes(content)
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    student_page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    teacher_page.find(".composer input[type=file]", visible=False).send_keys(str(upload))
    teacher_page.find(".attachment.uploaded", "the upload to finish")
    teacher_page.type(".composer textarea", "Задание во вложении\n")
    button = student_page.find_text(".msg .file", "задание.txt", "the file in the student's browser")
    button.click()
    downloaded = student_page.browser.downloads / "задание.txt"
    student_page.wait(lambda: downloaded.exists() and downloaded.read_bytes() == content, "the download")


def test_a_poll_voted_in_one_browser_shows_in_the_other(school, class_chat, browsers):
    teacher, student, chat_id = class_chat
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    student_page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    teacher_page.click(".composer button", "Опрос")
    inputs = teacher_page.wait(lambda: [i for i in teacher_page.all("dialog input[type=text]") if i.is_displayed()],
                               "the poll form")
    inputs[0].send_keys("Когда пишем контрольную?")
    inputs[1].send_keys("Во вторник")
    inputs[2].send_keys("В четверг")
    teacher_page.click("dialog button.primary", "Опубликовать")
    poll = student_page.find_text(".poll", "Когда пишем контрольную?", "the poll in the student's browser")
    label = next(l for l in poll.find_elements("css selector", "label") if l.text == "В четверг")
    label.click()
    poll.find_element("css selector", "button[type=submit]").click()

    def thursday_votes():
        card = teacher_page.find_text(".poll", "Когда пишем контрольную?")
        for option in card.find_elements("css selector", ".poll-option"):
            if "В четверг" in option.text:
                return option.find_element("css selector", ".poll-votes").text.startswith("1 голос")
        return False
    teacher_page.wait(thursday_votes, "the vote in the teacher's browser")
    assert "Проголосовал 1 человек" in teacher_page.find(".poll .poll-total").text


def test_what_users_write_is_shown_as_text(school, class_chat, browsers):
    teacher, student, chat_id = class_chat
    payload = "<img src=x onerror=alert(1)>"
    student_page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    student_page.type(".composer textarea", payload + "\n")
    # Sent before the next one, so that the next is the chat's last.
    wait_for(lambda: any(m["text"] == payload for m in school.get(f"/chats/{chat_id}/messages", student)["items"]),
             message="the typed message in the chat's history")
    school.post_message(student, chat_id, "<b>жирный?</b> <script>alert(2)</script>")
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    shown = teacher_page.find_text(".msg .text", payload, "the message, as written")
    assert shown.text == payload
    teacher_page.find_text(".msg .text", "<b>жирный?</b> <script>alert(2)</script>")
    teacher_page.open("/chats")
    teacher_page.find_text(".chat-last", "<b>жирный?</b>")
    for page in (teacher_page, student_page):
        assert not page.all(".messages img, .messages b, .messages script, .chat-list img, .chat-list b")
        with pytest.raises(NoAlertPresentException):
            page.driver.switch_to.alert.text


def test_an_outsider_opening_a_chat_link_of_another_school_is_refused(platform, school, class_chat, browsers):
    teacher, _student, chat_id = class_chat
    link = school.post(f"/chats/{chat_id}/invites", teacher, {})["url"]
    # An admin of another school: an application the operator approved.
    operator = school.sign_in(OPERATOR_PHONE, "Оператор")
    other_admin_phone = school.new_phone()
    applicant = school.sign_in(school.new_phone(), "Заявитель")
    region = school.get("/regions", applicant)["items"][0]["id"]
    application = school.post("/applications", applicant, {
        "region_id": region, "org": {"name": "Школа № 2", "kind": "school"},
        "admin": {"full_name": "Чужой Администратор", "phone": other_admin_phone}})
    school.post(f"/applications/{application['id']}/approve", operator)
    outsider = school.sign_in(other_admin_phone, "Чужой Администратор")
    wait_for(lambda: school.get("/me/orgs", outsider)["items"], message="the other school's admin rights")

    page = browsers().sign_in(outsider.phone, "/chats")
    page.driver.get(link)
    refused = page.find("[role=alert]", "the refusal")
    assert "Эта ссылка вам недоступна." in refused.text
    assert "только для участников той школы" in refused.text
    assert not page.all(".consent"), "no rules, no join button for an outsider"

    # A member of the chat's school sees the rules and joins by ticking them.
    classmate = school.member("student", "Вася Одноклассник", "5А")
    member_page = browsers().sign_in(classmate.phone, "/chats")
    member_page.driver.get(link)
    member_page.find_text(".rules li", "Пишем вежливо.")
    join = member_page.find(".consent button[type=submit]")
    assert not join.is_enabled()
    member_page.click(".consent input[type=checkbox]")
    member_page.click(".consent button[type=submit]")
    member_page.wait(lambda: member_page.path == f"/chats/{chat_id}", "the chat, joined")


def test_a_phone_sized_screen_has_no_horizontal_scroll(platform, school, class_chat, browsers):
    teacher, student, chat_id = class_chat
    school.post_message(teacher, chat_id, "Оченьдлинноесловобезпробелов" * 8 + " https://example.org/" + "a" * 120)
    page = browsers(width=375, height=740)
    page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    page.open("/signin")
    assert page.script("return window.innerWidth") == 375
    assert page.no_horizontal_scroll(), "/signin"
    page.open(f"/join/{school.invite('student', '5А')}")
    page.find(".facts")
    assert page.no_horizontal_scroll(), "/join"
    page.sign_in(student.phone, "/chats")
    page.find(".chat-item")
    assert page.no_horizontal_scroll(), "/chats"
    page.open(f"/chats/{chat_id}")
    page.find_text(".msg .text", "Оченьдлинное")
    assert not page.find(".chats-side", visible=False).is_displayed(), "one pane at a time on a phone"
    assert page.no_horizontal_scroll(), "a chat"
    page.click(".chat-head a.back")
    page.find(".chat-item")
    assert page.no_horizontal_scroll(), "back to the list"


def test_after_a_reconnect_the_gap_is_filled_from_history(school, class_chat, browsers):
    teacher, student, chat_id = class_chat
    doomed = school.post_message(teacher, chat_id, "Это сообщение удалят, пока ученик без связи")
    page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    page.find_text(".msg .text", "Это сообщение удалят")
    page.wait(lambda: page.script("return !document.querySelector('.offline') || "
                                  "document.querySelector('.offline').hidden"), "the stream connected")
    network = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.emulateNetworkConditions", dict(network, offline=True))
    page.find(".offline", "the offline notice")
    missed = [school.post_message(teacher, chat_id, f"Пока вас не было, {n}")["id"] for n in range(3)]
    assert school.api.delete(f"/messages/{doomed['id']}", token=teacher.token).status_code == 204
    page.driver.execute_cdp_cmd("Network.emulateNetworkConditions", dict(network, offline=False))
    for n in range(3):
        page.find_text(".msg .text", f"Пока вас не было, {n}", "a message missed while offline")
    page.wait(lambda: not [m for m in page.all(".msg .text") if "Это сообщение удалят" in m.text],
              "the message deleted meanwhile gone")
    shown = [e.get_attribute("data-id") for e in page.all(".msg")]
    assert shown[-3:] == missed, "in order, at the end"
    school.post_message(teacher, chat_id, "И снова на связи")
    page.find_text(".msg .text", "И снова на связи", "live again")


def test_a_teacher_makes_a_chat_and_the_invited_student_sees_its_rules_live(school, class_chat, browsers):
    teacher, student, _chat_id = class_chat
    student_page = browsers().sign_in(student.phone, "/chats")
    teacher_page = browsers().sign_in(teacher.phone, "/chats")
    teacher_page.click(".side-head button", "Новый чат")
    teacher_page.type("dialog input[name=title]", "Кружок робототехники")
    teacher_page.type("dialog textarea[name=rules]", "Приходим вовремя\nБережём оборудование")
    teacher_page.find("dialog select[name=invite_user_ids] option")
    next(o for o in teacher_page.all("dialog select[name=invite_user_ids] option")
         if o.text.startswith("Петя Ученик")).click()
    teacher_page.click("dialog button.primary", "Создать")
    teacher_page.find_text(".chat-head .chat-title", "Кружок робототехники")
    invitation = student_page.find_text(".invitation", "Кружок робототехники", "the invitation, live")
    invitation.find_element("css selector", "summary").click()
    rules = [li.text for li in invitation.find_elements("css selector", ".rules li")]
    assert rules == ["Приходим вовремя", "Бережём оборудование"]
