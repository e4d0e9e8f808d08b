"""The school admin's and the operator's consoles in Chromium."""
from __future__ import annotations

import pytest

from devkit.helpers import OPERATOR_PHONE, wait_for

from .school import School


@pytest.fixture(scope="module")
def school(platform):
    return School(platform, first_phone=500)


def test_the_admin_makes_a_class_and_an_invite_and_confirms_a_teacher_whose_badge_appears(platform, school,
                                                                                         browsers):
    teacher = school.member("teacher", "Ольга Ивановна Новая")
    school.post("/verifications", teacher, {"org_id": school.org_id})
    page = browsers().sign_in(school.admin.phone, f"/admin/{school.org_id}/units")

    page.type("form input[name=name]", "7В")
    page.type("form input[name=grade]", "7")
    page.click("form button[type=submit]", "Создать")
    page.find_text("table td", "7В", "the new class in the list")

    page.click(".tabs a", "Приглашения")
    role = page.find("select[name=role]")
    role.find_element("css selector", "option[value=student]").click()
    page.find("select[name=unit_id] option")
    next(o for o in page.all("select[name=unit_id] option") if o.text == "7В").click()
    page.click("form button[type=submit]", "Создать приглашение")
    link = page.find(".invite-url input").get_attribute("value")
    assert link.startswith(f"{platform.base}/join/")
    preview = platform.api.get(f"/invites/{link.rsplit('/', 1)[1]}").json
    assert (preview["role"], preview["unit_name"]) == ("student", "7В")

    page.click(".tabs a", "Учителя")
    row = page.find_text("table tr", "Ольга Ивановна Новая", "the verification request")
    row.find_element("css selector", "button.primary").click()
    page.wait(lambda: not [r for r in page.all("table tr") if "Ольга Ивановна Новая" in r.text],
              "the request decided")

    def badge_in_people_list():
        page.open(f"/admin/{school.org_id}/people")
        row = page.find_text("table tr", "Ольга Ивановна Новая")
        return "✓ учитель" in row.text
    page.wait(badge_in_people_list, "the teacher badge in the people list")


def test_the_admin_sees_the_weekly_statistics_as_charts(school, browsers):
    page = browsers().sign_in(school.admin.phone, f"/admin/{school.org_id}/stats")
    charts = page.wait(lambda: page.all("svg.chart"), "the charts")
    assert len(charts) >= 3
    assert page.all("svg.chart rect"), "bars drawn"


def test_the_operator_approves_an_application(platform, school, browsers):
    applicant = school.sign_in(school.new_phone(), "Директор Будущей Школы")
    admin_phone = school.new_phone()
    region = school.get("/regions", applicant)["items"][0]["id"]
    school.post("/applications", applicant, {"region_id": region, "org": {"name": "Лицей № 7", "kind": "school"},
                                             "admin": {"full_name": "Иван Лицеев", "phone": admin_phone}})
    page = browsers().sign_in(OPERATOR_PHONE, "/chats")
    page.click(".nav a", "Оператор")
    application = page.find_text(".application", "Лицей № 7", "the pending application")
    assert "Иван Лицеев" in application.text and admin_phone in application.text
    next(b for b in application.find_elements("css selector", "button") if b.text == "Одобрить").click()
    page.click("dialog button.danger", "Одобрить")
    page.wait(lambda: not [a for a in page.all(".application") if "Лицей № 7" in a.text], "the queue updated")
    page.click(".tabs a", "Одобренные")
    page.find_text(".application", "Лицей № 7")
    new_admin = school.sign_in(admin_phone, "Иван Лицеев")
    orgs = wait_for(lambda: school.get("/me/orgs", new_admin)["items"], message="the new school's admin")
    assert orgs[0]["name"] == "Лицей № 7" and "admin" in orgs[0]["roles"]


def test_the_api_docs_render_from_the_platform_under_its_policy(platform, browsers):
    page = browsers()
    page.driver.get(platform.base + "/api/docs")
    page.find_text(".swagger-ui .opblock", "/api/v1/stream/ticket", "Swagger UI drawn")
    resources = page.script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert all(url.startswith(platform.base) for url in resources), resources
    problems = [entry for entry in page.driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not problems, problems
