"""Personal data (152-FZ, issue 16, point 9): a person downloads their data
(`GET /me/export`, gathered by the gateway from every service's part); a
person, or a parent for their child, asks for erasure, which waits a grace
period (ERASURE_GRACE_SECONDS, short here) and can be cancelled within it;
then identity publishes `identity.user.erased` and every service removes or
anonymises the person's data. One erasure is followed through every
service's database: afterwards no table holds the person's id, phone or
name, but identity's record that the id existed (its revoked sessions point
to it) and of the request itself."""
from __future__ import annotations

import json
import uuid

import pytest
from support.chats import created, file_part, join_official, send, texts
from support.moderation import block, group_chat, in_days, remove, report, violations
from support.school import Person, School

from devkit.helpers import assert_error, wait_for

GRACE = 2


@pytest.fixture
def platform(school_platform_with):
    return school_platform_with(ERASURE_GRACE_SECONDS=GRACE)


@pytest.fixture
def school(platform):
    return platform.school


def databases(platform) -> dict:
    return {name: app.extensions["sferum"] for name, app in platform.apps.items()}


def rows_holding(platform, needles: list[str]) -> list[tuple]:
    """Every (service, table, column, value) in every service's database whose
    text holds one of the needles: read behind the services' backs."""
    found = []
    for service, runtime in databases(platform).items():
        with runtime.connection() as db:
            for table in db.get_tables():
                columns = [column.name for column in db.get_columns(table)]
                for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
                    for column, value in zip(columns, row):
                        if isinstance(value, (str, bytes)):
                            text = value if isinstance(value, str) else value.decode("utf-8", "replace")
                            if any(needle in text for needle in needles):
                                found.append((service, table, column, text[:80]))
    return found


def outboxes_empty(platform) -> bool:
    for runtime in databases(platform).values():
        with runtime.connection():
            if runtime.kit.Outbox.select().where(runtime.kit.Outbox.attempts == 0).exists():
                return False
    return True


def test_a_person_downloads_all_their_data_in_one_file(platform, school):
    api, s = platform.api, school
    chat = join_official(api, s.student, s.org_id, "class_students", s.class_a)["id"]
    stored = created(api.post("/files", token=s.student.token, **file_part(b"my essay", "essay.txt")))
    message = send(api, s.student, chat, "Моё сочинение", file_ids=[stored["id"]])
    response = api.get("/me/export", token=s.student.token)
    assert response.status_code == 200, response
    assert response.headers["Content-Disposition"].startswith('attachment; filename="sferum-data-')
    document = json.loads(response.body)
    assert document["format"] == "sferum-export/1" and document["user_id"] == s.student.id
    parts = document["parts"]
    assert set(parts) == {"identity", "orgstructure", "messaging", "moderation", "calls"}
    assert parts["calls"] == {"hosted": [], "calls": [], "invitations": []}
    assert parts["identity"]["profile"]["phone"] == s.student.phone
    assert parts["identity"]["sessions"] and parts["identity"]["erasure"] is None
    assert [(m["org_id"], m["roles"]) for m in parts["orgstructure"]["memberships"]] == [(s.org_id, ["student"])]
    assert parts["orgstructure"]["classes"][0]["unit_id"] == s.class_a
    assert [(m["id"], m["text"], m["file_ids"]) for m in parts["messaging"]["messages"]] == [
        (message["id"], "Моё сочинение", [stored["id"]])]
    link = parts["messaging"]["files"][0]["download"]
    assert api.get(link, token=s.student.token).body == b"my essay"
    assert chat in [stay["chat_id"] for stay in parts["messaging"]["chats"]]
    assert parts["moderation"] == {"violations": [], "blocks": [], "reports": [], "apologies": [], "objections": [],
                                   "appeals": []}
    # The parent's export holds the child's id, never the child's messages.
    parents = json.loads(api.get("/me/export", token=s.parent.token).body)["parts"]
    assert parents["identity"]["children"] == [s.student.id] and parents["messaging"]["messages"] == []


def test_nobody_downloads_anyone_elses_data(platform, school):
    api, s = platform.api, school
    assert_error(api.get("/me/export"), 401, "unauthorized")
    assert_error(api.get("/me/export", token="not-a-token"), 401)
    for path in (f"/users/{s.student.id}/export", f"/users/{s.student.id}/export/messaging",
                 f"/me/export/{s.student.id}", "/me/export/gateway"):
        assert_error(api.get(path, token=s.parent.token), 404)
    for method in ("POST", "DELETE", "PUT"):
        assert api.request(method, "/me/export", s.parent.token).status_code in (404, 405)
    # Whatever it is asked, the export is the caller's own.
    mine = json.loads(api.get("/me/export", params={"user_id": s.student.id}, token=s.parent.token).body)
    assert mine["user_id"] == s.parent.id and mine["parts"]["identity"]["profile"]["id"] == s.parent.id


def test_an_erasure_is_followed_through_every_services_database(platform, school):
    """A student with a class chat, a file, a poll vote, a report against
    them, violations, a block and an apology; their parent asks for the
    erasure. Afterwards nothing leads to the student anywhere."""
    api, s = platform.api, school
    marker = f"Эрастова-{uuid.uuid4().hex[:8]}"
    child = s.invite_and_join("student", marker, unit_id=s.class_a)
    parent = s.invite_and_join("parent", "мама ученицы", child_user_id=child.id)
    official = join_official(api, child, s.org_id, "class_students", s.class_a)["id"]
    join_official(api, s.head, s.org_id, "class_students", s.class_a)
    chat = group_chat(api, s.org_id, s.head, [child, s.student])
    kept = created(api.post("/files", token=child.token, **file_part(b"homework", "homework.txt")))
    draft = created(api.post("/files", token=child.token, **file_part(b"draft", "draft.txt")))
    said = send(api, child, chat, "Домашка готова", file_ids=[kept["id"]])
    rude = send(api, child, chat, "Все дураки")
    send(api, child, official, "Здравствуйте!")
    poll = created(api.post(f"/chats/{chat}/polls", {"question": "Когда?", "options": ["Пн", "Вт"]},
                            token=s.head.token))
    created(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]}, token=child.token), 200)
    assert report(api, s.student, said["id"], reason="Грубит").status_code == 201
    blocked = block(api, s.head, chat, child, violations(api, s.head, chat, child, 4), in_days(7))
    assert blocked.status_code == 201, blocked
    assert api.post(f"/chats/{chat}/unblock-requests", {"apology": f"Простите, я {marker}"},
                    token=child.token).status_code == 201
    log_before = api.get(f"/chats/{chat}/moderation-log", params={"limit": 200}, token=s.head.token).json["items"]
    # An invite the platform sent to the student's phone: the invite and the notice both hold it.
    created(api.post(f"/orgs/{s.org_id}/invites", {"role": "student", "unit_id": s.class_b,
                                                    "send_to": {"phone": child.phone}}, token=s.admin.token))
    wait_for(lambda: [m for m in api.get("/dev/outbox", params={"to": child.phone}).json["items"] if m["text"]],
             message="the invite sent by SMS")

    asked = created(api.delete(f"/users/{child.id}", token=parent.token), 202)
    assert (asked["user_id"], asked["status"], asked["requested_by"]) == (child.id, "pending", parent.id)
    wait_for(lambda: next((m["erase_at"] for m in api.get(f"/orgs/{s.org_id}/members", params={"limit": 200},
                                                          token=s.admin.token).json["items"]
                           if m["user_id"] == child.id), None) == asked["erase_at"],
             message="the school's admins seeing the erasure coming")
    wait_for(lambda: api.get("/me", token=child.token).status_code == 401, message="the erasure carried out")
    wait_for(lambda: marker not in [m["display_name"] for m in api.get(
        f"/orgs/{s.org_id}/members", params={"limit": 200}, token=s.admin.token).json["items"]],
             message="orgstructure erasing the student")

    def leftovers() -> list[tuple]:
        """What still leads to the student, but for identity's record of the id and of the request."""
        kept = {("identity", "user"), ("identity", "session"), ("identity", "erasurerequest")}
        return ([row for row in rows_holding(platform, [child.id]) if row[:2] not in kept]
                + rows_holding(platform, [child.phone, marker]))

    wait_for(lambda: outboxes_empty(platform), message="every event of the erasure published")
    try:
        wait_for(lambda: not leftovers(), timeout=30, message="every service erasing the student")
    except AssertionError:
        print(*leftovers(), sep="\n")
        raise

    # The class still reads what was said, by «Удалённый пользователь»; the files that went with it stay.
    history = api.get(f"/chats/{chat}/messages", token=s.head.token).json["items"]
    gone = next(m for m in history if m["id"] == said["id"])
    assert gone["author"] == {"id": None, "display_name": "Удалённый пользователь", "teacher_verified": False,
                              "erased": True} and gone["text"] == "Домашка готова"
    assert api.get(f"/files/{kept['id']}", token=s.student.token).body == b"homework"
    assert "Здравствуйте!" in texts(api, s.head, official)
    assert api.get(f"/polls/{poll['id']}", token=s.head.token).json["total_voters"] == 1
    assert api.get(f"/chats/{chat}", token=s.head.token).json["member_count"] == 2
    assert_error(api.get(f"/users/{child.id}", token=s.head.token), 404)
    # A message of theirs that breaks a rule is still removed for it, with nobody to hold to it.
    removed = remove(api, s.head, rude["id"], rule=1, note="Грубость")
    assert removed.status_code == 201 and removed.json["violation_id"] is None, removed
    wait_for(lambda: "Все дураки" not in texts(api, s.head, chat), message="the rude message removed")
    # The log keeps every entry as it was; the student is no one in it and their apology is unreadable.
    log_after = api.get(f"/chats/{chat}/moderation-log", params={"limit": 200}, token=s.head.token).json["items"]
    earlier = {entry["id"]: entry for entry in log_after}
    assert set(earlier) > {entry["id"] for entry in log_before}
    for entry in log_before:
        after = earlier[entry["id"]]
        assert (after["action"], after["rules"], after["at"]) == (entry["action"], entry["rules"], entry["at"])
        if entry["subject"] and entry["subject"]["id"] == child.id:
            assert after["subject"]["erased"] is True and after["subject"]["id"] is None
    apology = next(entry for entry in log_after if entry["action"] == "unblock_requested")
    assert apology["note"] == "" and apology["actor"]["display_name"] == "Удалённый пользователь"
    blocked_entry = next(entry for entry in log_after if entry["action"] == "member_blocked")
    assert blocked_entry["actor"]["id"] == s.head.id
    # The phone signs in as a new person, who finds nothing of the old one.
    again = Person(api, "новый человек", child.phone)
    assert again.id != child.id
    assert api.get("/me/orgs", token=again.token).json["items"] == []
    assert_error(api.get(f"/files/{draft['id']}", token=again.token), 404)


def test_an_erasure_waits_its_grace_period_and_can_be_cancelled(embedded_with):
    platform = embedded_with(ERASURE_GRACE_SECONDS=3600)
    api = platform.api
    s = School(platform, api)
    asked = created(api.delete("/me", token=s.teacher.token), 202)
    again = created(api.delete("/me", token=s.teacher.token), 202)
    assert again == asked and asked["requested_by"] == s.teacher.id
    assert created(api.get("/me/erasure", token=s.teacher.token), 200) == asked
    assert_error(api.delete(f"/users/{s.teacher.id}/erasure", token=s.admin.token), 403, "not_a_parent")
    assert api.delete("/me/erasure", token=s.teacher.token).status_code == 204
    assert_error(api.get("/me/erasure", token=s.teacher.token), 404, "no_erasure_pending")
    assert_error(api.delete("/me/erasure", token=s.teacher.token), 404, "no_erasure_pending")
    # A parent's request for a child: the child, or either parent, cancels it.
    created(api.delete(f"/users/{s.student.id}", token=s.parent.token), 202)
    assert created(api.get(f"/users/{s.student.id}/erasure", token=s.parent.token), 200)["requested_by"] == s.parent.id
    assert created(api.get("/me/erasure", token=s.student.token), 200)["user_id"] == s.student.id
    assert api.delete("/me/erasure", token=s.student.token).status_code == 204
    wait_for(lambda: all(m["erase_at"] is None for m in api.get(f"/orgs/{s.org_id}/members", params={"limit": 200},
                                                                token=s.admin.token).json["items"]),
             message="the member list forgetting the cancelled erasures")
    # Cancelled requests are never carried out, however late it gets.
    from datetime import timedelta

    from services.common.clock import utcnow
    from services.identity import erasure

    identity = platform.apps["identity"]
    with identity.extensions["sferum"].connection():
        assert erasure.erase_due(identity.extensions["sferum"].service, identity.extensions["identity"].tokens,
                                 now=utcnow() + timedelta(days=30)) == 0
    assert api.get("/me", token=s.teacher.token).status_code == 200
    assert api.get("/me", token=s.student.token).json["phone"] == s.student.phone


ASKERS = [("the person", "student", 202, None), ("a parent", "parent", 202, None),
          ("the school's admin", "admin", 403, "not_a_parent"), ("the class head", "class_head", 403, "not_a_parent"),
          ("a teacher", "teacher", 403, "not_a_parent"), ("the director", "director", 403, "not_a_parent"),
          ("a classmate", "other_student", 403, "not_a_parent"), ("a person of no school", "nobody", 404, None),
          ("another school's admin", "outsider", 404, None)]


@pytest.fixture(scope="module")
def two_schools(embedded_module):
    api = embedded_module.api
    a = School(embedded_module, api, "Школа № 21")
    a.outsider = School(embedded_module, api, "Школа № 22").admin
    a.nobody = Person(api, "nobody")
    return a


@pytest.mark.parametrize("name,who,status,code", ASKERS, ids=[asker[0] for asker in ASKERS])
def test_who_may_ask_for_a_childs_erasure(two_schools, name, who, status, code):
    s, api = two_schools, two_schools.api
    person = dict(s.everyone, other_student=s.other_student, nobody=s.nobody, outsider=s.outsider)[who]
    path = f"/users/{s.student.id}"
    if status == 202:
        assert created(api.delete(path, token=person.token), 202)["user_id"] == s.student.id
        assert created(api.get(f"{path}/erasure", token=person.token), 200)["status"] == "pending"
        assert api.delete(f"{path}/erasure", token=person.token).status_code == 204
    else:
        for method, where in (("DELETE", path), ("GET", f"{path}/erasure"), ("DELETE", f"{path}/erasure")):
            assert_error(api.request(method, where, person.token), status, code)
    assert_error(api.get("/me/erasure", token=s.student.token), 404, "no_erasure_pending")
    for method, where in (("DELETE", path), ("GET", f"{path}/erasure"), ("DELETE", f"{path}/erasure"),
                          ("DELETE", "/me"), ("GET", "/me/erasure"), ("DELETE", "/me/erasure")):
        assert_error(api.request(method, where), 401, "unauthorized")


def test_the_only_admin_of_a_school_appoints_another_before_leaving(two_schools):
    s, api = two_schools, two_schools.api
    error = assert_error(api.delete("/me", token=s.admin.token), 409, "sole_admin")
    assert error["details"]["org_ids"] == [s.org_id]
    assert_error(api.get("/me/erasure", token=s.admin.token), 404, "no_erasure_pending")
    assert_error(api.delete("/users/no-such-user", token=s.parent.token), 404)


def test_rules_of_who_asks_for_an_erasure_and_who_must_stay():
    from services.identity.erasure import may_request, sole_admin_of

    assert may_request("u", "u", set()) and may_request("mum", "u", {"mum", "dad"})
    assert not may_request("teacher", "u", {"mum"}) and not may_request("u", "mum", {"dad"})
    assert sole_admin_of("a", {"school1": {"a"}, "school2": {"a", "b"}, "school3": set()}) == ["school1"]
    assert sole_admin_of("a", {}) == []


def test_a_note_sealed_with_a_key_is_read_with_it_and_never_without():
    import secrets

    from services.moderation.log import SEALED, seal, unseal

    key, other = secrets.token_hex(32), secrets.token_hex(32)
    sealed = seal("Простите, я больше не буду", key)
    assert sealed.startswith(SEALED) and "Простите" not in sealed
    assert seal("Простите, я больше не буду", key) != sealed  # a new nonce each time
    assert unseal(sealed, key) == "Простите, я больше не буду"
    assert unseal(sealed, None) == "" and unseal(sealed, other) == ""
    assert seal("", key) == "" and unseal("written before sealing", None) == "written before sealing"
