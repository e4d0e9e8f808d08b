"""Calls in Chromium with its fake camera, peer-to-peer as `make run` has
them without Janus: a teacher starts a call from a chat and a student on a
phone joins; each sees the other's video; the teacher mutes and removes the
student and the student's browser shows it; the attendance is read and
downloaded; a lesson planned in the teacher's browser appears, moved and
cancelled, in the student's; a direct call rings in the callee's browser,
who declines it, and the caller's browser says so. The same call through
the Janus SFU (Debian's janus and coturn, as in production), on a platform
of its own."""
from __future__ import annotations

import secrets

import pytest

from devkit.distributed import free_port
from devkit.media import JANUS_BIN, TURN_BIN, JanusServer, TurnServer
from services.calls.janus import JanusApi, VideoRoomAdmin

from .calls import CallPages, dialog_button, other_video_playing
from .conftest import running_platform
from .school import School


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=700)


@pytest.fixture(scope="module")
def lesson_chat(school):
    """5А's class head and a student of 5А in a chat of the class."""
    teacher = school.verified_teacher("Ирина Сергеевна Учитель")
    student = school.member("student", "Коля Ученик", "5А")
    unit_id = school.units["5А"]
    head = school.api.put(f"/orgs/{school.org_id}/units/{unit_id}/head", {"user_id": teacher.id},
                          token=school.admin.token)
    assert head.status_code == 200, head
    chat_id = school.group_chat(teacher, [student], "Окружающий мир 5А", unit_id=unit_id)
    return teacher, student, chat_id


class Sfu:
    """Janus, whose event handler posts to the platform's internal port, and coturn."""

    def __init__(self):
        self.events_secret = secrets.token_urlsafe(24)
        self.internal_port = free_port()
        self.janus = JanusServer()
        self.turn = TurnServer()

    def start(self):
        self.janus.start(f"http://127.0.0.1:{self.internal_port}/internal/janus-events", "janus", self.events_secret)
        self.turn.start()

    def settings(self) -> dict:
        return {"JANUS_URL": self.janus.url, "JANUS_API_SECRET": self.janus.api_secret,
                "JANUS_ADMIN_KEY": self.janus.admin_key, "JANUS_EVENTS_SECRET": self.events_secret,
                "TURN_URLS": self.turn.url, "TURN_SECRET": self.turn.secret}

    def publishers(self, call_id: str) -> set[str]:
        """Who sends media into the call's room, as Janus itself lists them."""
        rooms = VideoRoomAdmin(JanusApi(self.janus.url, self.janus.api_secret), self.janus.admin_key)
        try:
            return {entry["id"] for entry in rooms.participants(call_id) if entry.get("publisher")}
        finally:
            rooms.close()

    def close(self):
        self.janus.close()
        self.turn.close()


@pytest.fixture(scope="module")
def sfu(tmp_path_factory):
    if not (JANUS_BIN.exists() and TURN_BIN.exists()):
        pytest.skip("janus and coturn are not installed: bash tools/install-servers.sh janus coturn")
    servers = Sfu()
    try:
        servers.start()
        with running_platform(tmp_path_factory.mktemp("sfu-platform"), servers.settings(),
                              internal_port=servers.internal_port) as platform:
            yield servers, platform
    finally:
        servers.close()


def test_two_browsers_in_a_call_see_each_other_and_the_host_mutes_and_removes(
        school, lesson_chat, browsers):
    teacher, student, chat_id = lesson_chat
    pages = CallPages(school, browsers)
    host = pages.start_call(teacher, chat_id)
    guest = pages.join_from_chat(student, chat_id, width=375)
    assert "/api/" not in host.path and host.path == guest.path

    # Each browser shows the other's camera, and a name, never a phone number.
    host.wait(lambda: other_video_playing(host), "the student's video in the teacher's browser")
    guest.wait(lambda: other_video_playing(guest), "the teacher's video in the student's browser")
    host.find_text(".call-tile:not(.me) .call-name", "Коля Ученик")
    guest.find_text(".call-tile:not(.me) .call-name", "Ирина Сергеевна Учитель")
    for page, person in ((host, student), (guest, teacher)):
        assert person.phone not in page.find(".call-grid").text
    assert guest.no_horizontal_scroll(), "the call fits a 375 px screen"

    # The host mutes the student's microphone: the student's browser says so and stops it.
    host.click('button[aria-label="Выключить микрофон: Коля Ученик"]')
    guest.find_text(".call-tile.me .muted-tag", "микрофон выключен ведущим")
    mic = guest.find_text(".call-toolbar button", "Включить микрофон")
    guest.wait(lambda: not mic.is_enabled(), "the student's microphone button held off by the host")
    assert guest.script("return [...document.querySelectorAll('.call-toolbar button')].length") >= 4
    host.find_text('.call-tile:not(.me) .muted-tag', "микрофон выключен ведущим")

    # The host removes the student: out of the call in both browsers, and not back in.
    host.click('button[aria-label="Удалить из звонка: Коля Ученик"]')
    dialog_button(host, "Удалить из звонка")
    guest.find_text("[role=alert]", "Ведущий удалил вас из звонка")
    guest.wait(lambda: not guest.all(".call-tile"), "the student's call closed")
    host.wait(lambda: not host.all(".call-tile:not(.me)"), "the student's tile gone for the teacher")
    guest.click("button.join-call")
    guest.find_text("[role=alert]", "Ведущий удалил вас из этого звонка")

    # The attendance: who was there, and the same as a CSV file.
    host.click(".call-host-tools button", "Посещаемость")
    report = host.find_text("dialog .attendance", "Коля Ученик")
    assert "удалён ведущим" in report.text and "Ирина Сергеевна Учитель" in report.text
    dialog_button(host, "Скачать CSV")
    downloaded = host.browser.downloads
    host.wait(lambda: [f for f in downloaded.glob("attendance-*.csv") if "Коля Ученик" in f.read_text()],
              "the attendance downloaded as CSV")
    dialog_button(host, "Закрыть")
    host.click(".call-host-tools button", "Завершить для всех")
    dialog_button(host, "Завершить для всех")
    host.find_text(".call-status", "Звонок завершён")


def test_a_lesson_planned_in_the_teachers_browser_appears_for_the_student_moved_and_cancelled(
        school, lesson_chat, browsers):
    teacher, student, chat_id = lesson_chat
    teacher_page = browsers().sign_in(teacher.phone, f"/chats/{chat_id}")
    student_page = browsers(width=375).sign_in(student.phone, f"/chats/{chat_id}")
    student_page.find(".composer textarea")

    teacher_page.click("button.call-plan")
    teacher_page.find("dialog select[name=kind]")
    assert teacher_page.find("dialog select[name=kind]").get_attribute("value") == "lesson"
    teacher_page.type("dialog input[name=title]", "Природа родного края")
    # The time field speaks the device's time: tomorrow at 10:30.
    teacher_page.script("""
        const when = new Date(Date.now() + 24 * 3600 * 1000);
        const pad = (n) => String(n).padStart(2, '0');
        document.querySelector('dialog input[name=scheduled_at]').value =
          `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T10:30`;""")

    def planned():
        # The badge reaches calls as an event: until then the form shows the refusal, and is sent again.
        dialogs = teacher_page.all("dialog")
        if dialogs and dialogs[0].is_displayed():
            dialogs[0].find_element("css selector", "button[type=submit]").click()
            return False
        return True
    teacher_page.wait(planned, "the lesson planned")
    item = student_page.find_text(".call-planned", "Природа родного края", "the planned lesson in the student's chat")
    assert "Урок" in item.text and "10:30" in item.text
    student_page.find(".msg.notice a.call-link", "the chat's notice of the planned lesson, leading to it")
    assert not [b for b in item.find_elements("css selector", "button") if b.is_displayed()], \
        "only the host moves or cancels"

    # Moved to 11:45, then cancelled: the student's browser follows.
    teacher_page.click(".call-planned button", "Изменить")
    teacher_page.script("""
        const input = document.querySelector('dialog input[name=scheduled_at]');
        input.value = input.value.replace(/T.*/, 'T11:45');""")
    teacher_page.click("dialog button[type=submit]")
    student_page.find_text(".call-planned", "11:45", "the lesson moved")
    teacher_page.click(".call-planned button", "Отменить звонок")
    dialog_button(teacher_page, "Отменить звонок")
    student_page.wait(lambda: not student_page.all(".call-planned"), "the cancelled lesson gone for the student")
    assert student_page.no_horizontal_scroll()


@pytest.mark.media
def test_two_browsers_in_a_call_through_janus_see_each_other(sfu, browsers):
    servers, platform = sfu
    school = School(platform, first_phone=800)
    teacher = school.verified_teacher("Анна Павловна Учитель")
    student = school.member("student", "Петя Ученик", "5Б")
    chat_id = school.group_chat(teacher, [student], "Кружок робототехники")
    pages = CallPages(school, browsers)
    host = pages.start_call(teacher, chat_id)
    guest = pages.join_from_chat(student, chat_id, width=375)
    call_id = host.path.rsplit("/", 1)[-1]

    host.wait(lambda: other_video_playing(host), "the student's video through Janus in the teacher's browser", 30)
    guest.wait(lambda: other_video_playing(guest), "the teacher's video through Janus in the student's browser", 30)
    host.find_text(".call-tile:not(.me) .call-name", "Петя Ученик")
    guest.find_text(".call-tile:not(.me) .call-name", "Анна Павловна Учитель")
    # Both send into Janus's room: the media went through the SFU, not from browser to browser.
    participants = school.get(f"/calls/{call_id}/participants", teacher)["items"]
    assert len(participants) == 2 and all(p["publishing"] for p in participants), participants
    assert servers.publishers(call_id) == {p["id"] for p in participants}


def test_a_direct_call_rings_in_the_callees_browser_and_the_caller_sees_it_declined(school, browsers):
    teacher = school.verified_teacher("Ольга Николаевна Учитель")
    student = school.member("student", "Маша Ученица", "5А")
    chat = school.post("/chats", teacher, {"org_id": school.org_id, "kind": "direct", "user_id": student.id})
    school.accept_invitation(student, chat["id"])
    callee = browsers(width=375).sign_in(student.phone, "/chats")
    # The ringing reaches the browser over its realtime stream: connected before the call is made.
    callee.wait(lambda: callee.script("const offline = document.querySelector('.offline');"
                                      "return Boolean(offline && offline.hidden)"), "the student's stream connected")

    caller = CallPages(school, browsers).start_call(teacher, chat["id"])
    caller.find_text(".call-status", "Идёт вызов")
    ringing = callee.find_text(".call-alert", "Вам звонит Ольга Николаевна Учитель", "the call ringing for the student")
    assert teacher.phone not in ringing.text
    callee.click(".call-alert button", "Отклонить")
    callee.wait(lambda: not callee.all(".call-alert"), "the ringing notice gone once declined")

    caller.find_text(".call-status", "Звонок отклонён")
    caller.wait(lambda: not caller.all(".call-tile"), "the caller's call closed")
