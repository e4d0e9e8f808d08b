"""Early unblock (2.7) in Chromium, on a platform whose objection window is
seconds long: the moderator's screen says when the window has passed with
no objection, the moderator unblocks, and the student posts again."""
from __future__ import annotations

from devkit.helpers import wait_for

from .school import School
from .moderation import block_by_api, dialog, live, moderated_chat, press, press_on

WINDOW_SECONDS = 4
PLATFORM_ENV = {"MODERATION_OBJECTION_WINDOW_SECONDS": str(WINDOW_SECONDS)}


def test_an_apology_nobody_objects_to_lets_the_moderator_unblock_early(platform, browsers):
    school = School(platform, first_phone=800)
    teacher = school.verified_teacher("Наталья Петровна Терпеливая")
    student = school.member("student", "Рома Раскаявшийся", "5А")
    chat_id = moderated_chat(school, teacher, [student], "История 6А")
    block_by_api(school, teacher, chat_id, student)
    student_page = live(browsers().sign_in(student.phone, f"/chats/{chat_id}"))
    teacher_page = live(browsers().sign_in(teacher.phone, f"/moderation/chats/{chat_id}/blocks"))
    teacher_page.find_text(".block-card", "не просил о досрочной разблокировке")

    press_on(student_page, ".mod-block", "", "Извиниться и попросить о разблокировке")
    student_page.type("dialog textarea[name=apology]", "Извините, я больше не буду мешать")
    press(dialog(student_page), "Отправить")
    student_page.find(".mod-block .my-request", "the request noted for the student")

    # The card follows the window by itself: no reload, no click until it has passed.
    teacher_page.find_text(".block-card", "Извините, я больше не буду мешать", "the apology, live")
    teacher_page.wait(lambda: any("никто не возразил" in state.text for state in teacher_page.all(".request-state")),
                      "the window passed, shown by itself", timeout=WINDOW_SECONDS + 15)
    press_on(teacher_page, ".block-card", "Извините", "Разблокировать досрочно")
    teacher_page.find_text(".mod-section", "Блокировок нет.", "the block ended")

    composer = student_page.find(".composer textarea")
    student_page.wait(lambda: composer.is_enabled(), "the student's composer enabled, live")
    student_page.type(".composer textarea", "Спасибо!\n")
    student_page.find_text(".msg.mine .text", "Спасибо!")
    wait_for(lambda: not school.get(f"/chats/{chat_id}/blocks", teacher)["items"], message="no active block")
