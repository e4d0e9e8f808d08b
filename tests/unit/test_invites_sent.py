"""Invites are sent, not only made (seed 000 §2.1 "формирует и рассылает"): an
invite may name a phone or an e-mail address and the platform sends the
link there (identity's providers, by orgstructure's event); a roster import
sends the parents' invites to the phones in the file. Bad input sends
nothing and makes nothing."""
import io

import pytest
from support.school import Person, School

from devkit.helpers import assert_error, wait_for


@pytest.fixture(scope="module")
def school(embedded_module):
    return School(embedded_module, embedded_module.api, "Школа рассылки")


def notices(api, to):
    return [item["text"] for item in api.get("/dev/outbox", params={"to": to}).json["items"] if item["text"]]


def invites(api, school):
    return api.get(f"/orgs/{school.org_id}/invites", params={"limit": 200}, token=school.admin.token).json["items"]


def test_an_invite_sent_by_sms_is_a_personal_link_that_works(embedded_module, school):
    api = embedded_module.api
    made = api.post(f"/orgs/{school.org_id}/invites", {"role": "teacher", "send_to": {"phone": "8 (900) 777-00-01"}},
                    token=school.admin.token)
    assert made.status_code == 201, made
    assert made.json["sent_to"]["channel"] == "sms" and made.json["sent_to"]["to"] == "+79007770001"
    [text] = wait_for(lambda: notices(api, "+79007770001"), message="the invite's SMS")
    assert made.json["url"] in text and "«Школа рассылки»" in text and "учитель" in text
    listed = next(invite for invite in invites(api, school) if invite["id"] == made.json["id"])
    assert listed["sent_to"]["to"] == "+79007770001" and listed["max_uses"] == 1
    # The person it was sent to signs in (the SMS is not their sign-in code) and joins by it.
    teacher = Person(api, "приглашённый учитель", "+79007770001")
    token = made.json["url"].rsplit("/", 1)[1]
    assert api.post(f"/invites/{token}/accept", token=teacher.token).json["status"] == "joined"


def test_a_class_head_sends_a_parents_invite_by_email(embedded_module, school):
    api = embedded_module.api
    made = api.post(f"/orgs/{school.org_id}/invites",
                    {"role": "parent", "child_user_id": school.student.id, "send_to": {"email": "Mama@Example.org"}},
                    token=school.head.token)
    assert made.status_code == 201, made
    [text] = wait_for(lambda: notices(api, "mama@example.org"), message="the invite's e-mail")
    assert made.json["url"] in text and "родитель" in text and "5А" in text


@pytest.mark.parametrize("send_to", [
    {"phone": "not a phone"}, {"phone": "+1"}, {"email": "not-an-address"},
    {"phone": "+79007770002", "email": "both@example.org"}, {}, "+79007770002", {"fax": "123"},
])
def test_bad_destinations_send_and_make_nothing(embedded_module, school, send_to):
    api = embedded_module.api
    before = invites(api, school)
    assert_error(api.post(f"/orgs/{school.org_id}/invites", {"role": "teacher", "send_to": send_to},
                          token=school.admin.token), 422)
    assert invites(api, school) == before


def roster(api, school, content: str):
    job = api.post(f"/orgs/{school.org_id}/roster-imports", token=school.admin.token,
                   data={"file": (io.BytesIO(content.encode()), "roster.csv")}, content_type="multipart/form-data")
    assert job.status_code == 202, job

    def finished():
        found = api.get(f"/orgs/{school.org_id}/roster-imports/{job.json['id']}", token=school.admin.token).json
        return found if found["status"] in ("done", "failed") else None
    return wait_for(finished, message="the roster import")


def test_a_roster_sends_the_parents_invites_to_their_phones(embedded_module, school):
    api = embedded_module.api
    result = roster(api, school, "class,grade,student,parent,parent_phone,parent_email\n"
                                 "8А,8,Илья Смирнов,Ольга Смирнова,+7 900 777-00-03,\n"
                                 "8А,8,Вера Смирнова,Ольга Смирнова,,olga@example.org\n"
                                 "8А,8,Антон Кузнецов,,,\n")
    assert result["status"] == "done", result
    rows = result["result"]["rows"]
    assert [row.get("parent_sent_to") for row in rows] == ["+79007770003", "olga@example.org", None]
    [text] = wait_for(lambda: notices(api, "+79007770003"), message="the parent's SMS")
    assert rows[0]["parent_invite_token"] in text
    wait_for(lambda: notices(api, "olga@example.org"), message="the parent's e-mail")


def test_a_roster_with_a_bad_phone_sends_nothing(embedded_module, school):
    api = embedded_module.api
    before = invites(api, school)
    result = roster(api, school, "class,student,parent,parent_phone\n"
                                 "9А,Ким Ли,Мин Ли,+79007770004\n"
                                 "9А,Ян Ли,Ян Ли-старший,12345\n"
                                 "9А,Ким Ко,,+79007770005\n")
    assert result["status"] == "failed"
    assert [(e["line"], e["error"]) for e in result["errors"]] == [
        (3, "parent_phone is not a mobile phone number"), (4, "parent_phone or parent_email without a parent")]
    assert invites(api, school) == before
    assert notices(api, "+79007770004") == []
