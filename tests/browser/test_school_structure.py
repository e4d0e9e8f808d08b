"""The school's structure in Chromium, where a person does it: the admin
assigns a subject teacher, changes roles, sends an invite, reads the weekly
statistics and moves the school to a new year; the applicant follows their
application and the operator opens its document; a parent's address signs
in the child whose account is chosen; support is shown."""
from __future__ import annotations

import io

import pytest

from devkit.helpers import OPERATOR_PHONE, wait_for

from .school import School

PDF = b"%PDF-1.4\n% order\n"


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=700)


def roles(school, person) -> set[str]:
    return set(school.get(f"/orgs/{school.org_id}/members/{person.id}/roles", school.admin)["roles"])


def test_the_admin_assigns_a_subject_teacher_and_takes_a_role_back(school, browsers):
    teacher = school.member("teacher", "Ирина Сергеевна Химикова")
    unit = school.post(f"/orgs/{school.org_id}/units", school.admin, {"name": "8Х", "grade": 8})["id"]
    page = browsers().sign_in(school.admin.phone, f"/admin/{school.org_id}/teaching")
    form = page.find("form select[name=unit_id]")
    next(o for o in form.find_elements("css selector", "option") if o.text == "8Х").click()
    next(o for o in page.all("form select[name=user_id] option") if o.text == teacher.name).click()
    page.type("form input[name=subject]", "Химия")
    page.click("form button[type=submit]", "Назначить")
    page.wait(lambda: "Химия" in page.find(f"section[data-unit='{unit}']").text, "the teacher listed for 8Х")
    assert teacher.name in page.find(f"section[data-unit='{unit}']").text
    listed = school.get(f"/orgs/{school.org_id}/units/{unit}/teachers", school.admin)["items"]
    assert [(row["user_id"], row["subject"]) for row in listed] == [(teacher.id, "Химия")]

    # People: the teacher becomes the deputy, then stops being the deputy.
    page.click(".tabs a", "Люди")
    row = page.find_text("table tr", teacher.name)
    next(o for o in row.find_elements("css selector", "select[name=grant_role] option")
         if o.text == "заместитель директора").click()
    page.wait(lambda: "deputy" in roles(school, teacher), "the deputy role given")

    def revoke_deputy():
        # The table is drawn again once the role is given: the row of the new drawing.
        buttons = [button for row in page.all("table tr") if teacher.name in row.text
                   for button in row.find_elements("css selector", "button[data-revoke=deputy]")]
        if buttons:
            buttons[0].click()
        return bool(buttons)

    page.wait(revoke_deputy, "the deputy role's button")
    page.click("dialog button.danger")
    page.wait(lambda: roles(school, teacher) == {"teacher"}, "the deputy role taken back")
    # The table is drawn again after the change: read the row of the newest drawing.
    page.wait(lambda: "Преподаёт" in page.find_text("table tr", teacher.name).text, "the teacher's row drawn again")


def test_the_admin_sends_an_invite_by_sms(platform, school, browsers):
    page = browsers().sign_in(school.admin.phone, f"/admin/{school.org_id}/invites")
    page.type("form input[name=send_to]", "+79007000999")
    page.click("form button[type=submit]", "Создать приглашение")
    page.find_text("p.sent", "+79007000999", "the invite sent")
    texts = wait_for(lambda: [i["text"] for i in platform.api.get("/dev/outbox", params={"to": "+79007000999"})
                              .json["items"] if i["text"]], message="the invite's SMS")
    assert page.find(".invite-url input").get_attribute("value") in texts[0]


def test_the_admin_reads_active_users_and_moves_the_school_year(school, browsers):
    page = browsers().sign_in(school.admin.phone, f"/admin/{school.org_id}/stats")
    active = page.find("section[data-stats=active] table", "the active users table")
    assert "Все" in active.text and active.find_elements("css selector", "tbody tr")
    page.find("section[data-stats=units]")

    page.click(".tabs a", "Учебный год")
    page.type("form input[name=academic_year]", "2031/2032")
    page.click("form button[type=submit]", "Показать план")
    plan = page.find("ul.plan-promoted", "the plan")
    assert "5А → 6А" in plan.text and "5Б → 6Б" in plan.text
    page.click("button.danger", "Перевести на 2031/2032")
    page.click("dialog button.danger", "Перевести на 2031/2032")
    page.wait(lambda: {u["name"] for u in school.get(f"/orgs/{school.org_id}/units", school.admin)["items"]}
              >= {"6А", "6Б"}, "the classes moved up a grade")
    page.find_text(".toast", "Школа переведена на 2031/2032")


def test_the_applicant_follows_the_application_and_the_operator_opens_its_document(platform, school, browsers):
    applicant = school.sign_in(school.new_phone(), "Заявитель Школы")
    region = school.get("/regions", applicant)["items"][0]["id"]
    made = school.post("/applications", applicant, {
        "region_id": region, "org": {"name": "Школа с приказом", "kind": "school"},
        "admin": {"full_name": "Заявитель Школы", "phone": applicant.phone, "email": "zayavitel@example.org"}})
    attached = platform.api.post(f"/applications/{made['id']}/document", token=applicant.token,
                                 files={"file": ("order.pdf", io.BytesIO(PDF), "application/pdf")})
    assert attached.status_code == 201, attached

    operator = browsers().sign_in(OPERATOR_PHONE, "/operator")
    application = operator.find_text(".application", "Школа с приказом", "the pending application")
    assert "zayavitel@example.org" in application.text
    assert "Документ" in application.text and "не приложен" not in application.text
    next(b for b in application.find_elements("css selector", "button") if b.text == "Отклонить").click()
    operator.type("dialog textarea", "Приказ без подписи директора")
    operator.click("dialog button.primary")
    operator.wait(lambda: not [a for a in operator.all(".application") if "Школа с приказом" in a.text],
                  "the queue updated")

    page = browsers().sign_in(applicant.phone, "/profile")
    mine = page.find_text("section[data-section=applications] .application", "Школа с приказом")
    assert "отклонена" in mine.text and "Приказ без подписи директора" in mine.text
    support = page.find("section.support")
    assert "info@sferum.ru" in support.text


def test_a_parents_address_signs_in_the_child_whose_account_is_chosen(platform, browsers):
    api = platform.api
    address = "semya@example.org"
    for name, account in (("Аня", None), ("Боря", "new")):
        api.post("/auth/email-otp", {"email": address})
        body = {"email": address, "code": platform.code(address)}
        if account:
            body["account_id"] = account
        tokens = api.post("/auth/token", body).json
        api.patch("/me", {"display_name": name}, token=tokens["access_token"])

    page = browsers().open("/signin")
    assert "info@sferum.ru" in page.find(".support-line").text
    page.click("label", "Войти по электронной почте родителя")
    page.type("input[name=email]", address)
    page.click("form button[type=submit]")
    page.find("input[name=code]")
    page.type("input[name=code]", platform.code(address))
    page.click("form button[type=submit]")
    page.find_text("h2", "Чья это учётная запись?")
    page.click(".choices button", "Боря")
    page.wait(lambda: page.path == "/chats", "signed in")
    page.open("/profile")
    assert page.find("input[name=display_name]").get_attribute("value") == "Боря"
