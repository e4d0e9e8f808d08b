"""The applicant's view (seed 001 §4.5, 002 §2.1): the applicant sees their
applications with the status and the rejection reason, and is told of the
decision by SMS, and by e-mail when the application gives one (identity
sends what orgstructure publishes); the appointment order attached to the
application is kept by orgstructure and opened by the operator of the
region and the applicant only. Bad uploads store nothing."""
import io

import pytest
from support.school import Person, create_region, operator

from devkit.helpers import assert_error, wait_for

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def region(embedded):
    return create_region(embedded, "Регион заявителей")


def apply(api, applicant, region, name="Школа № 12", admin_phone=None, admin_email=None):
    admin = {"full_name": "Елена Петрова", "phone": admin_phone or applicant.phone}
    if admin_email:
        admin["email"] = admin_email
    made = api.post("/applications", {"region_id": region, "org": {"name": name, "kind": "school"}, "admin": admin},
                    token=applicant.token)
    assert made.status_code == 201, made
    return made.json


def notices(api, to):
    return [item["text"] for item in api.get("/dev/outbox", params={"to": to}).json["items"] if item["text"]]


def attach(api, person, app_id, content, name):
    return api.post(f"/applications/{app_id}/document", token=person.token,
                    data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_the_applicant_sees_the_decision_and_is_told_by_sms_and_email(embedded, region):
    api = embedded.api
    applicant = Person(api, "Елена Петрова")
    approved = apply(api, applicant, region, "Школа № 12", admin_email="Director@School12.example")
    rejected = apply(api, applicant, region, "Школа № 13")
    mine = api.get("/me/applications", token=applicant.token).json["items"]
    assert [(a["id"], a["status"]) for a in mine] == [(rejected["id"], "pending"), (approved["id"], "pending")]
    assert mine[1]["admin"]["email"] == "director@school12.example"

    op = operator(api)
    assert api.post(f"/applications/{approved['id']}/approve", token=op.token).status_code == 200
    assert api.post(f"/applications/{rejected['id']}/reject", {"reason": "Нет приказа о назначении"},
                    token=op.token).status_code == 200
    mine = {a["id"]: a for a in api.get("/me/applications", token=applicant.token).json["items"]}
    assert mine[approved["id"]]["status"] == "approved" and mine[approved["id"]]["org_id"]
    assert mine[approved["id"]]["reject_reason"] is None
    assert mine[rejected["id"]]["status"] == "rejected"
    assert mine[rejected["id"]]["reject_reason"] == "Нет приказа о назначении"

    texts = wait_for(lambda: len(notices(api, applicant.phone)) == 2 and notices(api, applicant.phone),
                     message="both decisions sent by SMS")
    assert any("«Школа № 12» одобрена" in text for text in texts)
    assert any("«Школа № 13» отклонена" in text and "Нет приказа о назначении" in text for text in texts)
    mail = wait_for(lambda: notices(api, "director@school12.example"), message="the decision sent by e-mail")
    assert len(mail) == 1 and "одобрена" in mail[0]


def test_the_admin_named_in_an_application_filed_by_someone_else_is_told_too(embedded, region):
    api = embedded.api
    secretary = Person(api, "секретарь школы")
    admin_phone = "+79005550202"
    made = apply(api, secretary, region, "Школа № 14", admin_phone=admin_phone)
    assert api.post(f"/applications/{made['id']}/approve", token=operator(api).token).status_code == 200
    wait_for(lambda: notices(api, admin_phone), message="the admin's SMS")
    wait_for(lambda: notices(api, secretary.phone), message="the applicant's SMS")
    # The admin did not file it: it is not theirs to see.
    admin = Person(api, "Елена Петрова", admin_phone)
    assert api.get("/me/applications", token=admin.token).json["items"] == []


def test_the_appointment_order_is_kept_and_opened_by_the_operator(embedded, region):
    api = embedded.api
    applicant = Person(api, "заявитель с приказом")
    made = apply(api, applicant, region, "Гимназия № 2")
    stored = attach(api, applicant, made["id"], PDF, "Приказ о назначении.pdf")
    assert stored.status_code == 201, stored
    assert (stored.json["name"], stored.json["content_type"], stored.json["size"]) == (
        "Приказ о назначении.pdf", "application/pdf", len(PDF))
    # A new one replaces it while the application waits.
    assert attach(api, applicant, made["id"], PNG, "scan.png").status_code == 201
    listed = next(a for a in api.get("/applications", token=operator(api).token).json["items"]
                  if a["id"] == made["id"])
    assert listed["has_document"] is True
    opened = api.get(f"/applications/{made['id']}/document", token=operator(api).token)
    assert opened.status_code == 200 and opened.body == PNG
    assert opened.headers["Content-Type"] == "image/png"
    assert "scan.png" in opened.headers["Content-Disposition"]
    # Decided: the document stays as it was.
    assert api.post(f"/applications/{made['id']}/approve", token=operator(api).token).status_code == 200
    assert_error(attach(api, applicant, made["id"], PDF, "other.pdf"), 409, "already_decided")
    assert api.get(f"/applications/{made['id']}/document", token=applicant.token).body == PNG


@pytest.mark.parametrize("content,name,status", [
    (b"MZ\x90\x00" + b"\x00" * 100, "order.pdf", 415),
    (b"<html><script>alert(1)</script></html>", "order.pdf", 415),
    (PDF, "order.exe", 415),
    (PDF, "order.docx", 415),
    (PDF, "order", 415),
    (b"%PDF-" + b"0" * (10 << 20), "big.pdf", 413),
])
def test_bad_documents_store_nothing(embedded, region, content, name, status):
    api = embedded.api
    applicant = Person(api, "заявитель с плохим файлом")
    made = apply(api, applicant, region, "Школа файлов")
    assert_error(attach(api, applicant, made["id"], content, name), status)
    assert_error(api.get(f"/applications/{made['id']}/document", token=applicant.token), 404, "no_document")


def test_bad_application_input_changes_nothing(embedded, region):
    api = embedded.api
    applicant = Person(api, "заявитель с ошибками")
    for admin in ({"full_name": "А", "phone": applicant.phone, "email": "not-an-address"},
                  {"full_name": "А", "phone": applicant.phone, "email": "a@b.c" + "x" * 260}):
        assert_error(api.post("/applications", {"region_id": region, "org": {"name": "Ш", "kind": "school"},
                                                "admin": admin}, token=applicant.token), 422)
    assert_error(api.post("/applications/no-such/document", token=applicant.token,
                          data={"file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data"), 404)
    assert_error(api.post(f"/applications/{apply(api, applicant, region)['id']}/document", token=applicant.token,
                          data={}, content_type="multipart/form-data"), 422)
    assert [a["org"]["name"] for a in api.get("/me/applications", token=applicant.token).json["items"]] == [
        "Школа № 12"]
