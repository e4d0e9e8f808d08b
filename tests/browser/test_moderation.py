"""The chat-ethics regulation in Chromium: reports, violations, removals and
blocks made in the moderation screens and felt in the members' browsers,
early unblock with an objection, an appeal to the school, held messages,
chat administrators, and the school's log with its filters and CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from support.moderation import wait_moderating

from devkit.helpers import wait_for
from services.common.clock import parse_iso, utcnow
from services.moderation.rules import month_after

from .moderation import (active_blocks, block_by_api, dialog, live, message_item, moderated_chat, posting_refused,
                         press, press_on, record_violations, refuse_once)
from .school import School


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=700)


@pytest.fixture(scope="module")
def teacher(school):
    return school.verified_teacher("Ирина Сергеевна Модератор")


def test_a_block_made_in_the_moderation_screens_stops_the_students_posting(school, teacher, browsers):
    student = school.member("student", "Петя Нарушитель", "5А")
    classmate = school.member("student", "Вася Одноклассник", "5А")
    chat_id = moderated_chat(school, teacher, [student, classmate], "Литература 5А")
    school.post_message(student, chat_id, "Скучно, ухожу с урока")
    school.post(f"/chats/{chat_id}/polls", teacher, {"question": "Что читаем летом?", "options": ["Гоголя", "Чехова"]})
    record_violations(school, teacher, chat_id, student, 3)
    student_page = live(browsers().sign_in(student.phone, f"/chats/{chat_id}"))
    student_page.find(".composer textarea")
    student_page.find_text(".poll", "Что читаем летом?")
    teacher_page = live(browsers().sign_in(teacher.phone, f"/moderation/chats/{chat_id}/members"))

    # Three violations are not enough (2.6): the form says so and asks the server nothing.
    row = teacher_page.find(f'.member-card[data-user-id="{student.id}"]', "the student's card")
    assert row.find_element(By.CSS_SELECTOR, ".uncited").text == "3"
    press(row, "Заблокировать")
    form = dialog(teacher_page)
    assert len(form.find_elements(By.CSS_SELECTOR, "input[name=violation_ids]:checked")) == 3
    press(form, "Заблокировать")
    teacher_page.find_text("dialog [role=alert]", "нужно больше трёх нарушений")
    assert active_blocks(school, teacher, chat_id) == []
    press(dialog(teacher_page), "Отмена")

    # The fourth, recorded from the chat: the student alone learns which rule, at once.
    teacher_page.click(".mod-section a, main a", "← К чату")
    message_item(teacher_page, "Скучно, ухожу с урока")
    press_on(teacher_page, ".msg", "Скучно, ухожу с урока", "Нарушение")
    Select(teacher_page.find("dialog select[name=rule]")).select_by_value("2")
    press(dialog(teacher_page), "Записать нарушение")
    note = student_page.find(".mod-note", "the private notice of the violation")
    assert "Правило 2: Пишем только по делу." in note.text and "видите только вы" in note.text

    # Four: the block, at most a month ahead, the limit the server applies.
    teacher_page.click(".chat-tools .mod-link")
    teacher_page.click(".tabs a", "Участники")
    row = teacher_page.find(f'.member-card[data-user-id="{student.id}"]')
    teacher_page.wait(lambda: row.find_element(By.CSS_SELECTOR, ".uncited").text == "4", "four violations")
    press(row, "Заблокировать")
    form = dialog(teacher_page)
    teacher_page.wait(lambda: len(form.find_elements(By.CSS_SELECTOR, "input[name=violation_ids]:checked")) == 4,
                      "the four violations listed")
    until = form.find_element(By.CSS_SELECTOR, "input[name=until]")
    latest = parse_iso(teacher_page.script("return new Date(arguments[0].max).toISOString()", until))
    assert 0 <= (month_after(utcnow()) - latest).total_seconds() < 120, latest
    teacher_page.script("arguments[0].value = arguments[1]", until,
                        teacher_page.script("const d = new Date(new Date(arguments[0].max).getTime() + 86400000);"
                                            "d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                                            "return d.toISOString().slice(0, 16);", until))
    press(form, "Заблокировать")
    teacher_page.find_text("dialog [role=alert]", "не больше месяца")
    assert active_blocks(school, teacher, chat_id) == []
    press(form, "На неделю")
    press(form, "Заблокировать")
    teacher_page.wait(lambda: not teacher_page.all("dialog[open]"), "the block made")
    [made] = active_blocks(school, teacher, chat_id)
    assert made["user_id"] == student.id and len(made["violation_ids"]) == 4
    assert timedelta(days=6) < parse_iso(made["until"]) - utcnow() < timedelta(days=7, minutes=1)

    # The student's browser, without a reload: no posting, and why.
    composer = student_page.find(".composer textarea")
    student_page.wait(lambda: not composer.is_enabled(), "the composer disabled")
    reason = student_page.find(".blocked-reason").text
    assert "вы заблокированы за нарушение правил" in reason
    assert composer.get_attribute("aria-describedby") == student_page.find(".blocked-reason").get_attribute("id")
    why = student_page.find(".mod-block").text
    assert "Правило 1: Общаемся вежливо." in why and "Правило 2: Пишем только по делу." in why
    assert "Ответить" not in student_page.texts(".msg-actions button"), "no replies either"
    assert not student_page.find(".poll button[type=submit]").is_enabled(), "no votes either"
    assert posting_refused(school, student, chat_id)

    # A form that went stale meanwhile: the server's refusal is shown in it.
    record_violations(school, teacher, chat_id, classmate, 4)
    teacher_page.open(f"/moderation/chats/{chat_id}/members")
    press(teacher_page.find(f'.member-card[data-user-id="{classmate.id}"]'), "Заблокировать")
    form = dialog(teacher_page)
    teacher_page.wait(lambda: len(form.find_elements(By.CSS_SELECTOR, "input[name=violation_ids]:checked")) == 4,
                      "the classmate's violations")
    block_by_api(school, teacher, chat_id, classmate)
    press(form, "Заблокировать")
    teacher_page.find_text("dialog [role=alert]", "уже заблокирован в этом чате")


def test_a_report_by_a_student_reaches_the_teachers_queue_and_its_removal_hides_the_message(school, teacher,
                                                                                            browsers):
    reporter = school.member("student", "Маша Внимательная", "5А")
    author = school.member("student", "Коля Грубиян", "5А")
    chat_id = moderated_chat(school, teacher, [reporter, author], "Кружок чтения")
    school.post_message(author, chat_id, "Маша, ты ничего не понимаешь")
    teacher_page = live(browsers().sign_in(teacher.phone, f"/chats/{chat_id}"))
    student_page = live(browsers().sign_in(reporter.phone, f"/chats/{chat_id}"))

    # The teacher removes someone's message only by a rule: no plain "Удалить" there.
    actions = [b.text for b in message_item(teacher_page, "Маша, ты ничего").find_elements(By.CSS_SELECTOR, "button")]
    assert "Удалить по правилу" in actions and "Удалить" not in actions, actions

    message_item(student_page, "Маша, ты ничего не понимаешь")
    press_on(student_page, ".msg", "Маша, ты ничего не понимаешь", "Пожаловаться")
    Select(student_page.find("dialog select[name=rule]")).select_by_value("1")
    student_page.type("dialog textarea[name=reason]", "Обижает меня при всех")
    press(dialog(student_page), "Отправить жалобу")
    student_page.wait(lambda: not student_page.all("dialog[open]"), "the report sent")

    badge = teacher_page.find(".chat-tools .mod-link .badge", "the open reports count, live")
    assert badge.text == "1"
    teacher_page.click(".chat-tools .mod-link")
    report = teacher_page.find_text(".report", "Маша, ты ничего не понимаешь", "the report in the queue")
    assert "Маша Внимательная" in report.text and "Коля Грубиян" in report.text
    assert "Правило 1: Общаемся вежливо." in report.text and "Обижает меня при всех" in report.text
    press_on(teacher_page, ".report", "Маша, ты ничего не понимаешь", "Удалить по правилу")
    assert Select(teacher_page.find("dialog select[name=rule]")).first_selected_option.get_attribute("value") == "1"
    teacher_page.type("dialog textarea[name=note]", "Грубость в адрес одноклассницы")
    press(dialog(teacher_page), "Удалить сообщение")
    teacher_page.find_text(".reports", "Жалоб нет.", "the queue emptied")

    student_page.wait(lambda: not [m for m in student_page.all(".msg .text") if "Маша, ты ничего" in m.text],
                      "the message gone from the reporter's chat, live")
    teacher_page.click("main a", "← К чату")
    teacher_page.find(".msg", "the chat's history")
    assert not [text for text in teacher_page.texts(".msg .text") if "Маша, ты ничего" in text]
    teacher_page.find_text(".msg.notice", "Общаемся вежливо.", "the rules reminder, naming nobody")

    # The reporter learns the outcome, never more.
    student_page.click(".nav a", "Модерация")
    outcome = student_page.find_text(".my-report", "Обижает меня при всех").find_element(By.CSS_SELECTOR, ".outcome")
    assert outcome.text == "Жалоба рассмотрена: сообщение удалено за нарушение правил"


def test_an_apology_for_an_early_unblock_meets_another_members_objection(school, teacher, browsers):
    blocked = school.member("student", "Дима Извиняющийся", "5А")
    objector = school.member("student", "Лена Против", "5А")
    chat_id = moderated_chat(school, teacher, [blocked, objector], "Физика 7Б")
    block_by_api(school, teacher, chat_id, blocked)
    blocked_page = live(browsers(width=375).sign_in(blocked.phone, f"/chats/{chat_id}"))
    objector_page = live(browsers().sign_in(objector.phone, f"/chats/{chat_id}"))
    teacher_page = live(browsers().sign_in(teacher.phone, f"/moderation/chats/{chat_id}/blocks"))
    teacher_page.find_text(".block-card", "не просил о досрочной разблокировке")

    panel = blocked_page.find(".mod-block", "the block, shown to the blocked student")
    assert "Вы заблокированы в этом чате до" in panel.text and "Правило 1: Общаемся вежливо." in panel.text
    assert not blocked_page.find(".composer textarea").is_enabled()
    assert blocked_page.no_horizontal_scroll()
    press_on(blocked_page, ".mod-block", "", "Извиниться и попросить о разблокировке")
    blocked_page.type("dialog textarea[name=apology]", "Простите, я был неправ и больше не буду")
    press(dialog(blocked_page), "Отправить")
    blocked_page.find(".mod-block .my-request", "the request noted for the student")

    request = objector_page.find_text(".mod-request", "Простите, я был неправ", "the apology, live")
    assert "Дима Извиняющийся просит досрочно снять блокировку" in request.text
    press_on(objector_page, ".mod-request", "Простите, я был неправ", "Возразить")
    objector_page.type("dialog textarea[name=reason]", "Он мешает на каждом уроке")
    press(dialog(objector_page), "Возразить")
    objector_page.find_text(".mod-request .objected", "Вы возразили.")

    teacher_page.find_text(".block-card", "Простите, я был неправ", "the request, live in the moderator's screen")
    teacher_page.wait(lambda: "1 участник возразил" in teacher_page.find(".block-card .request-state").text,
                      "the objection, live")
    press_on(teacher_page, ".block-card", "Простите, я был неправ", "Разблокировать досрочно")
    teacher_page.find_text(".block-card [role=alert]", "Участник чата возразил", "the server's refusal")
    blocked_page.wait(lambda: "Возразил 1 участник" in blocked_page.find(".mod-block .my-request").text,
                      "the objection told to the student")
    assert "Лена" not in blocked_page.find(".mod-block").text, "never who objected"
    assert [b["user_id"] for b in active_blocks(school, teacher, chat_id)] == [blocked.id]


def test_the_school_lifts_a_block_on_appeal_and_the_student_posts_again(school, teacher, browsers):
    student = school.member("student", "Оля Несогласная", "5А")
    chat_id = moderated_chat(school, teacher, [student], "Биология 5А")
    block_by_api(school, teacher, chat_id, student)
    student_page = live(browsers().sign_in(student.phone, f"/chats/{chat_id}"))
    admin_page = live(browsers().sign_in(school.admin.phone, f"/moderation/schools/{school.org_id}/appeals"))
    admin_page.find_text(".appeals", "Апелляций нет.")

    press_on(student_page, ".mod-block", "", "Обжаловать в школе")
    student_page.type("dialog textarea[name=text]", "Я ничего не нарушала, это была шутка друзей")
    press(dialog(student_page), "Отправить апелляцию")
    student_page.wait(lambda: not student_page.all("dialog[open]"), "the appeal sent")

    appeal = admin_page.find_text(".appeal", "это была шутка друзей", "the appeal, live")
    assert "Оля Несогласная" in appeal.text and "Биология 5А" in appeal.text and "Правило 1" in appeal.text
    press_on(admin_page, ".appeal", "это была шутка друзей", "Снять блокировку")
    admin_page.type("dialog textarea[name=note]", "Нарушений не было")
    press(dialog(admin_page), "Снять блокировку")
    admin_page.find_text(".appeals", "Апелляций нет.", "the appeal decided")

    composer = student_page.find(".composer textarea")
    student_page.wait(lambda: composer.is_enabled(), "the composer enabled again, live")
    assert not [panel for panel in student_page.all(".mod-block") if panel.is_displayed()]
    student_page.type(".composer textarea", "Спасибо, что разобрались!\n")
    student_page.find_text(".msg.mine .text", "Спасибо, что разобрались!")
    voided = school.get("/me/violations", student)["items"]
    assert voided and all(v["voided"] for v in voided)


def test_a_held_message_waits_for_the_moderator_who_lets_it_through(school, teacher, browsers):
    author = school.member("student", "Гоша Торопливый", "5А")
    reader = school.member("student", "Света Читающая", "5А")
    chat_id = moderated_chat(school, teacher, [author, reader], "Экскурсия 5А")
    teacher_page = live(browsers().sign_in(teacher.phone, f"/moderation/chats/{chat_id}/held"))
    hold = teacher_page.find("input[name=hold_flagged]")
    assert not hold.is_selected()
    teacher_page.find_text("label", "Задерживать до проверки").click()
    wait_for(lambda: school.get(f"/chats/{chat_id}", teacher)["hold_flagged"], message="the setting saved")
    author_page = live(browsers().sign_in(author.phone, f"/chats/{chat_id}"))
    reader_page = live(browsers().sign_in(reader.phone, f"/chats/{chat_id}"))
    reader_page.find(".composer textarea")

    author_page.type(".composer textarea", "Билеты дешевле тут: tickets.example.com\n")
    mine = author_page.find_text(".msg.mine", "tickets.example.com", "the author's own held message")
    author_page.wait(lambda: "на проверке" in mine.text, "marked as waiting for review")
    held = teacher_page.find_text(".report.held", "tickets.example.com", "the held message, live")
    assert "ссылка на сторонний сайт" in held.text
    assert not [text for text in reader_page.texts(".msg .text") if "tickets.example.com" in text]

    teacher_page.click("main a", "← К чату")
    assert "на проверке" in message_item(teacher_page, "tickets.example.com").text
    press_on(teacher_page, ".msg", "tickets.example.com", "Пропустить")
    reader_page.find_text(".msg .text", "tickets.example.com", "the released message, live for everyone")
    teacher_page.wait(lambda: "на проверке" not in message_item(teacher_page, "tickets.example.com").text,
                      "no longer held")


def test_the_director_and_admins_appoint_and_remove_chat_administrators(school, browsers):
    helper = school.verified_teacher("Павел Андреевич Помощник")
    student = school.member("student", "Ира Ученица", "5А")
    chat_id = moderated_chat(school, school.admin, [helper, student], "Совет класса")
    page = browsers().sign_in(school.admin.phone, f"/moderation/chats/{chat_id}/admins")
    page.find_text(".members .member", "Администратор Демо")
    Select(page.find("select[name=user_id]")).select_by_value(helper.id)
    page.click("form button[type=submit]", "Назначить")
    page.find_text(".members .member", "Павел Андреевич Помощник", "the new chat administrator")
    wait_moderating(school.api, helper, chat_id)

    press_on(page, ".members .member", "Администратор Демо", "Снять")
    page.click("dialog button.danger", "Снять")
    page.find_text(".toast", "модерирует чат по должности")
    press_on(page, ".members .member", "Павел Андреевич Помощник", "Снять")
    page.click("dialog button.danger", "Снять")
    page.wait(lambda: not [m for m in page.all(".members .member") if "Павел Андреевич" in m.text],
              "the appointment ended")
    wait_for(lambda: school.api.get(f"/chats/{chat_id}/reports", token=helper.token).status_code == 403,
             message="the helper no longer moderating")


def test_the_admin_filters_the_schools_log_and_downloads_it_as_csv(school, teacher, browsers):
    other = school.verified_teacher("Олег Викторович Строгий")
    pupil = school.member("student", "Тимур Шумный", "5А")
    first = moderated_chat(school, teacher, [pupil], "Чтение вслух")
    second = moderated_chat(school, other, [pupil], "Шахматы")
    record_violations(school, teacher, first, pupil, 1)
    assert school.api.post(f"/chats/{first}/reminders", token=teacher.token).status_code == 202
    record_violations(school, other, second, pupil, 2, rule=2)

    page = browsers().sign_in(school.admin.phone, f"/moderation/schools/{school.org_id}/log")
    page.find_text(".log-table td.actor", "Олег Викторович Строгий", "the other moderator's entries")
    Select(page.find("select[name=moderator_id]")).select_by_value(teacher.id)
    page.click(".filters button[type=submit]", "Показать")
    page.wait(lambda: f"moderator={teacher.id}" in page.script("return location.search"), "the filter applied")

    def actors():
        return set(page.texts(".log-table td.actor"))
    page.wait(lambda: actors() == {"Ирина Сергеевна Модератор"}, "only that moderator's actions")
    assert "Напоминание правил" in page.find(".log-table").text

    today = page.script("const d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                        "return d.toISOString().slice(0, 10);")
    tomorrow = (datetime.fromisoformat(today) + timedelta(days=1)).date().isoformat()
    page.script("arguments[0].value = arguments[1]", page.find("input[name=from]"), tomorrow)
    page.click(".filters button[type=submit]", "Показать")
    page.find_text(".mod-section", "Записей нет.", "nothing from tomorrow on")
    page.script("arguments[0].value = arguments[1]", page.find("input[name=from]"), today)
    page.script("arguments[0].value = arguments[1]", page.find("input[name=to]"), today)
    page.click(".filters button[type=submit]", "Показать")
    page.wait(lambda: actors() == {"Ирина Сергеевна Модератор"}, "today's entries of that moderator")
    shown = len(page.all(".log-table tbody tr"))

    page.click("button", "Скачать CSV")
    saved = page.browser.downloads / f"moderation-log-{today}-{today}.csv"
    page.wait(lambda: saved.exists() and saved.read_bytes().endswith(b"\r\n"), "the CSV downloaded")
    text = saved.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == shown and {row["actor_id"] for row in rows} == {teacher.id}
    assert {row["actor_name"] for row in rows} == {"Ирина Сергеевна Модератор"}
    assert {"violation_recorded", "rules_reminded"} <= {row["action"] for row in rows}
    started = datetime.fromisoformat(today) - timedelta(days=1)
    assert all(parse_iso(row["at"]) > started for row in rows)


def test_the_client_asks_again_while_another_service_catches_up(school, teacher, browsers):
    """A report refused as not_ready (moderation has not heard of the message
    yet) and a post refused as blocked by messaging when moderation has
    already lifted the block are both sent again, without the member's help."""
    student = school.member("student", "Аня Терпеливая", "5А")
    author = school.member("student", "Боря Быстрый", "5А")
    chat_id = moderated_chat(school, teacher, [student, author], "Музыка 5А")
    school.post_message(author, chat_id, "Кто не пришёл, тот слабак")
    page = browsers().sign_in(student.phone, f"/chats/{chat_id}")
    message_item(page, "Кто не пришёл, тот слабак")

    refuse_once(page, "POST", "/api/v1/reports", 409, "not_ready")
    press_on(page, ".msg", "Кто не пришёл, тот слабак", "Пожаловаться")
    page.type("dialog textarea[name=reason]", "Дразнит тех, кто болел")
    press(dialog(page), "Отправить жалобу")
    page.wait(lambda: not page.all("dialog[open]"), "the report sent after all")
    assert page.script("return window.refusedOnce")
    assert [r["reason"] for r in school.get("/me/reports", student)["items"]] == ["Дразнит тех, кто болел"]

    refuse_once(page, "POST", f"/api/v1/chats/{chat_id}/messages", 403, "blocked")
    page.type(".composer textarea", "Я снова могу писать\n")
    page.find_text(".msg.mine .text", "Я снова могу писать", "the post sent after all")
    assert page.script("return window.refusedOnce")
    assert page.find(".composer textarea").is_enabled() and not page.all(".toast[data-kind=error]:not([hidden])")


def test_the_forms_month_is_the_servers_month(platform, browsers):
    """The block form's limit (js/views/moderation/limits.js) agrees with the
    server's month_after (services/moderation/rules.py), short months and
    leap years included."""
    moments = ["2025-01-31T10:00:00+00:00", "2024-01-31T23:59:59+00:00", "2025-12-15T08:30:00+00:00",
               "2025-03-31T00:00:00+00:00", "2025-05-15T12:00:00+00:00", "2024-02-29T06:00:00+00:00"]
    page = browsers().open("/signin")
    shown = page.driver.execute_async_script("""
        const [moments, done] = arguments;
        const main = document.querySelector('script[type=module]').src;
        import(main.replace(/main\\.js$/, 'views/moderation/limits.js'))
          .then((limits) => done(moments.map((m) => limits.monthAfter(new Date(m)).toISOString())));
    """, moments)
    expected = [month_after(parse_iso(m)) for m in moments]
    assert [parse_iso(value) for value in shown] == expected
