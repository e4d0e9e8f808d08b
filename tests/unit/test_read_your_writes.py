"""Read-your-writes across services, through the gateway of the in-process
platform. What one service answers may not yet be known to the others, which
learn it from events: a teacher who joins a school and at once asks for the
teacher status, opens the school's chats, is confirmed and creates a chat,
or follows a chat link; a parent who becomes a teacher too; an admin who creates a class and
at once its chat; a new admin signing in for the first time. Each such
first request succeeds, however long the other service takes (here: its
event consumer held), up to the gateway's wait, and then is a 409
`not_ready` with Retry-After. Strangers still get 404 at once.

(services/common/settling.py: the owner of a fact announces it; a service
whose projection lacks it says so; the gateway asks again meanwhile.)"""
import time
import uuid

import pytest
from support.apps import messaging_app
from support.chats import accept, created, invitation_to, join_official, send
from support.held import Held
from support.school import Person, School, create_region, operator

from devkit.helpers import Api, assert_error, phone, wait_for
from gateway.app import GatewayConfig, create_app
from services.common.settling import membership_lacking


@pytest.fixture(scope="module")
def embedded(embedded_module):
    """One platform for the module: every test makes its own newcomers."""
    return embedded_module


@pytest.fixture
def hold(embedded):
    held = []

    def start(service: str) -> Held:
        held.append(Held(embedded, service))
        return held[-1]

    yield start
    for one in held:
        one.release()


@pytest.fixture(scope="module")
def school(embedded):
    school = School(embedded, embedded.api)
    join_official(embedded.api, school.head, school.org_id, "staff")
    return school


@pytest.fixture(scope="module")
def stranger(embedded, school):
    return School(embedded, embedded.api, "Чужая школа", region_id=create_region(embedded, "Чужой регион")).admin


def joined(api, school, role: str, label: str, **fields) -> Person:
    person = Person(api, label)
    accepted = api.post(f"/invites/{school.invite(role, **fields)}/accept", token=person.token)
    assert accepted.json["status"] == "joined", accepted
    return person


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_teacher_asks_for_the_status_right_after_joining(embedded, school, hold):
    api = embedded.api
    identity = hold("identity")
    teacher = joined(api, school, "teacher", "new teacher")
    # identity has not heard of the joining: on its own it would say 404.
    alone = identity.direct("POST", "/verifications", teacher, json={"org_id": school.org_id})
    assert_error(alone, 404)
    assert alone.headers["X-Sferum-Lacking"] == f"member:{school.org_id}:{teacher.id}"
    identity.release_after(0.5)
    asked, took = timed(lambda: api.post("/verifications", {"org_id": school.org_id}, token=teacher.token))
    assert asked.status_code == 201, asked
    assert took >= 0.4  # it was answered once identity caught up, not before
    assert "X-Sferum-Lacking" not in asked.headers and "X-Sferum-Changed" not in asked.headers


def test_after_the_wait_it_is_a_409_not_ready_then_it_works(embedded, school, hold, monkeypatch):
    api = embedded.api
    monkeypatch.setattr(embedded.gateway.extensions["sferum.gateway"]["settler"], "wait_seconds", 1.0)
    identity = hold("identity")
    teacher = joined(api, school, "teacher", "new teacher")
    refused, took = timed(lambda: api.post("/verifications", {"org_id": school.org_id}, token=teacher.token))
    error = assert_error(refused, 409, "not_ready")
    assert "set up" in error["message"] and int(refused.headers["Retry-After"]) >= 1
    assert 0.8 <= took < 5
    assert "X-Sferum-Lacking" not in refused.headers
    identity.release()
    wait_for(lambda: api.post("/verifications", {"org_id": school.org_id}, token=teacher.token).status_code == 201,
             message="the request once identity caught up")


def test_strangers_get_404_at_once_while_facts_are_on_their_way(embedded, school, stranger, hold):
    api, org = embedded.api, school.org_id
    hold("identity"), hold("messaging")
    teacher = joined(api, school, "teacher", "new teacher")
    calls = [
        ("POST", "/verifications", {"org_id": org}),
        ("GET", f"/orgs/{org}/verifications", None),
        ("GET", f"/users/{teacher.id}", None),
        ("GET", f"/users/{school.admin.id}", None),
        ("POST", "/chats", {"org_id": org, "kind": "group", "title": "Захват"}),
        ("POST", "/chats", {"org_id": org, "kind": "direct", "user_id": teacher.id}),
    ]
    for method, path, body in calls:
        response, took = timed(lambda: api.request(method, path, json=body, token=stranger.token))
        assert_error(response, 404)
        assert took < 0.5, (method, path, took)
    # Invitations are one's own: another school's are an empty list, at once.
    listed, took = timed(lambda: api.get("/me/chat-invitations", params={"org_id": org}, token=stranger.token))
    assert listed.status_code == 200 and listed.json["items"] == [] and took < 0.5
    assert_error(api.get("/me/chat-invitations", params={"org_id": "x" * 33}, token=stranger.token), 422)
    assert_error(api.get("/me/chat-invitations", params={"org_id": org}), 401)
    # The teacher's own view of another school is the stranger's too.
    response, took = timed(lambda: api.post("/verifications", {"org_id": "no-such-org"}, token=teacher.token))
    assert_error(response, 404)
    assert took < 0.5


def test_who_joined_and_left_at_once_is_told_404_at_once(embedded, school):
    api, org = embedded.api, school.org_id
    teacher = joined(api, school, "teacher", "short-lived teacher")
    school.wait_roles(teacher, {"teacher"})
    assert api.post(f"/orgs/{org}/members/{teacher.id}/dismiss", token=school.admin.token).status_code == 200
    wait_for(lambda: api.get(f"/users/{school.admin.id}", token=teacher.token).status_code == 404,
             message="identity learning the teacher left")
    refused, took = timed(lambda: api.post("/verifications", {"org_id": org}, token=teacher.token))
    assert_error(refused, 404)
    assert took < 0.5


def test_a_teacher_opens_the_schools_chats_and_creates_one_right_after_joining(embedded, school, hold):
    api, org = embedded.api, school.org_id
    messaging = hold("messaging")
    teacher = joined(api, school, "teacher", "new teacher")
    assert_error(messaging.direct("POST", "/chats", teacher, json={"org_id": org, "kind": "group", "title": "X"}), 404)
    school.verify(teacher)  # identity confirms it now; messaging hears of it later
    messaging.release_after(0.3)
    mine = api.get("/me/chat-invitations", params={"org_id": org}, token=teacher.token)
    assert mine.status_code == 200
    assert {i["chat"]["purpose"] for i in mine.json["items"]} >= {"staff", "teachers", "school"}
    assert "X-Sferum-Lacking" not in mine.headers
    chat = api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок"}, token=teacher.token)
    assert chat.status_code == 201, chat


def test_a_joining_that_lands_while_the_invitations_are_read_is_never_an_empty_settled_answer(tmp_path):
    """The joining and its invitations land in one transaction; here it lands
    right after messaging read the invitations, and before anything else it
    reads: the answer lists them, or says what it lacked, so that the gateway
    asks again. Never an empty list that claims to be settled."""
    app, runtime = messaging_app(tmp_path)
    from services.messaging import official
    from services.messaging.models import ChatInvitation

    with runtime.connection(), runtime.db.atomic():
        official.ensure_org_chats(runtime.service, "org")
    teacher = "t" * 32
    landed = []

    def land_the_joining(event):
        if not landed and ChatInvitation._meta.table_name in event.sql and event.sql.lstrip().startswith("SELECT"):
            landed.append(event.sql)
            official.member_joined(runtime.service, "org", teacher, ["teacher"], None)

    runtime.db.query_hooks.append(land_the_joining)
    answer = app.test_client().get("/api/v1/me/chat-invitations?org_id=org",
                                   headers={"Authorization": f"Bearer {teacher}"})
    assert landed, "the joining landed while the invitations were read"
    assert answer.status_code == 200, answer.get_json()
    purposes = {item["chat"]["purpose"] for item in answer.get_json()["items"]}
    assert purposes >= {"staff", "teachers", "school"} or \
        answer.headers.get("X-Sferum-Lacking") == f"member:org:{teacher}", (purposes, dict(answer.headers))


def test_a_chat_at_once_for_a_teacher_who_just_joined(embedded, school, hold):
    api, org = embedded.api, school.org_id
    messaging = hold("messaging")
    teacher = joined(api, school, "teacher", "new teacher")
    school.verify(teacher)
    messaging.release_after(0.3)
    chat = api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок"}, token=teacher.token)
    assert chat.status_code == 201, chat


def test_a_student_follows_a_chat_link_right_after_joining(embedded, school, hold):
    api, org = embedded.api, school.org_id
    chat = created(api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок"}, token=school.head.token))
    link = created(api.post(f"/chats/{chat['id']}/invites", {}, token=school.head.token))
    messaging = hold("messaging")
    student = joined(api, school, "student", "new student", unit_id=school.class_a)
    messaging.release_after(0.3)
    accepted = api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1}, token=student.token)
    assert accepted.status_code == 200, accepted


def test_invited_into_a_new_chat_and_written_to_right_after_joining(embedded, school, hold):
    api, org = embedded.api, school.org_id
    messaging = hold("messaging")
    student = joined(api, school, "student", "new student", unit_id=school.class_a)
    messaging.release_after(0.3)
    chat = api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок", "invite_user_ids": [student.id]},
                    token=school.head.token)
    assert chat.status_code == 201, chat
    direct = api.post("/chats", {"org_id": org, "kind": "direct", "user_id": student.id}, token=school.head.token)
    assert direct.status_code == 201, direct


def test_a_member_who_just_joined_a_chat_reports_in_it_at_once(embedded, school, hold):
    """moderation learns who is in a chat from messaging's events: a report
    made right after joining waits for that, and a stranger is told 404 at once."""
    from services.moderation.models import ChatMember as ModerationMember, Message as ModerationMessage

    api, org = embedded.api, school.org_id
    student = joined(api, school, "student", "new reporter", unit_id=school.class_a)
    chat = created(api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок",
                                       "invite_user_ids": [student.id]}, token=school.head.token))
    message = send(api, school.head, chat["id"], "Домашнее задание на завтра")
    invitation = invitation_to(api, student, lambda preview: preview["id"] == chat["id"])
    moderation_runtime = embedded.apps["moderation"].extensions["sferum"]

    def moderation_knows(model, *where):
        with moderation_runtime.connection():
            return model.select().where(*where).exists()

    wait_for(lambda: moderation_knows(ModerationMessage, ModerationMessage.message_id == message["id"]),
             message="moderation knowing the message")
    moderation = hold("moderation")
    accept(api, student, invitation)
    body = {"message_id": message["id"], "reason": "Грубость"}
    alone = moderation.direct("POST", "/reports", student, json=body)
    assert_error(alone, 404)
    assert f"chat-member:{chat['id']}:{student.id}" in alone.headers.get("X-Sferum-Lacking", "").split(",")
    moderation.release_after(0.5)
    reported, took = timed(lambda: api.post("/reports", body, token=student.token))
    assert reported.status_code == 201, reported
    assert took >= 0.4  # answered once moderation heard of the joining, not before
    assert moderation_knows(ModerationMember, ModerationMember.chat_id == chat["id"],
                            ModerationMember.user_id == student.id)
    refused, took = timed(lambda: api.post("/reports", body, token=school.other_student.token))
    assert_error(refused, 404)
    assert took < 0.5


def test_a_parent_who_becomes_a_teacher_creates_a_chat_at_once(embedded, school, hold):
    api, org = embedded.api, school.org_id
    parent = joined(api, school, "parent", "parent who teaches", child_user_id=school.other_student.id)
    join_official(api, parent, org, "school")  # messaging knows the parent as a parent
    messaging = hold("messaging")
    assert api.post(f"/invites/{school.invite('teacher')}/accept", token=parent.token).status_code == 200
    school.verify(parent)
    messaging.release_after(0.3)
    chat = api.post("/chats", {"org_id": org, "kind": "group", "title": "Кружок"}, token=parent.token)
    assert chat.status_code == 201, chat
    # A role that does not allow it is refused at once, whatever is on its way.
    refused, took = timed(lambda: api.post("/chats", {"org_id": org, "kind": "group", "title": "Нет"},
                                           token=school.student.token))
    assert_error(refused, 403)
    assert took < 0.5


def test_a_class_and_its_chat_at_once(embedded, school, hold):
    api, org = embedded.api, school.org_id
    messaging = hold("messaging")
    unit = created(api.post(f"/orgs/{org}/units", {"name": f"9В-{uuid.uuid4().hex[:4]}"}, token=school.admin.token))
    messaging.release_after(0.3)
    chat = api.post("/chats", {"org_id": org, "kind": "group", "title": "9В: кружок", "unit_id": unit["id"]},
                    token=school.head.token)
    assert chat.status_code == 201, chat


def test_a_new_admin_signs_in_and_finds_the_school_at_once(embedded, hold):
    api = embedded.api
    the_operator = operator(api)
    applicant = Person(api, "applicant")
    admin_phone = phone(4242)
    submitted = created(api.post("/applications", {
        "region_id": create_region(embedded, "Новый регион"), "org": {"name": "Школа № 9", "kind": "school"},
        "admin": {"full_name": "Новый Админ", "phone": admin_phone}}, token=applicant.token))
    org = created(api.post(f"/applications/{submitted['id']}/approve", token=the_operator.token), 200)["org_id"]
    orgstructure = hold("orgstructure")
    admin = Person(api, "new admin", admin_phone)  # signs in for the first time now
    assert_error(orgstructure.direct("GET", f"/orgs/{org}", admin), 409, "not_ready")
    orgstructure.release_after(0.3)
    shown = api.get(f"/orgs/{org}", token=admin.token)
    assert shown.status_code == 200 and shown.json["name"] == "Школа № 9", shown
    assert [o["org_id"] for o in api.get("/me/orgs", token=admin.token).json["items"]] == [org]


def test_profiles_of_the_school_at_once(embedded, school, hold):
    api = embedded.api
    identity = hold("identity")
    teacher = joined(api, school, "teacher", "new teacher")
    identity.release_after(0.3)
    profile = api.get(f"/users/{school.admin.id}", token=teacher.token)
    assert profile.status_code == 200, profile
    seen = api.get(f"/users/{teacher.id}", token=school.director.token)
    assert seen.status_code == 200, seen


def test_another_gateway_hears_of_the_joining_too(embedded, school, hold):
    """Gateways are replicas: the next request may reach another one, which
    learns of the fact from the realtime exchange."""
    other = create_app(GatewayConfig(backends=embedded.gateway.extensions["sferum.gateway"]["config"].backends,
                                     amqp_url="memory://"))
    try:
        wait_for(other.extensions["sferum.gateway"]["hub"].ready.is_set, message="the second gateway's feed")
        identity = hold("identity")
        teacher = joined(embedded.api, school, "teacher", "new teacher")
        settling = other.extensions["sferum.gateway"]["settler"].settling
        wait_for(lambda: settling.any_of([f"member:{school.org_id}:{teacher.id}"]),
                 message="the announcement reaching the second gateway")
        identity.release_after(0.3)
        asked = Api(other.test_client()).post("/verifications", {"org_id": school.org_id}, token=teacher.token)
        assert asked.status_code == 201, asked
    finally:
        other.extensions["sferum.gateway"]["hub"].stop()


def test_a_refusal_names_the_memberships_the_service_does_not_have():
    assert membership_lacking("o", "u", in_school=True) == []
    assert membership_lacking("o", "u", in_school=False) == ["member:o:u"]
    assert membership_lacking("o", "u", in_school=True, chat_id="c", in_chat=False) == ["chat-member:c:u"]
    assert membership_lacking("o", "u", in_school=False, chat_id="c", in_chat=False) == [
        "member:o:u", "chat-member:c:u"]
    assert membership_lacking("o", "u", in_school=True, chat_id="c", in_chat=True) == []


def test_an_announced_fact_counts_as_on_its_way_for_the_window_only():
    from gateway.settling import Settling

    now = [1000.0]
    settling = Settling(window_seconds=120, clock=lambda: now[0])
    settling.note(["member:o:u"])
    settling.note_envelope({"type": "platform.settling", "data": {"keys": ["unit:c"]}})
    assert settling.any_of(["member:o:x", "member:o:u"]) and settling.any_of(["unit:c"])
    assert not settling.any_of(["member:o:x"]) and not settling.any_of([])
    now[0] += 119
    assert settling.any_of(["member:o:u"])
    now[0] += 2
    settling.note(["standing:o:u"])  # and what expired is forgotten
    assert not settling.any_of(["member:o:u", "unit:c"]) and settling.any_of(["standing:o:u"])
    settling.note(["-standing:o:u"])  # withdrawn: the fact ended
    assert not settling.any_of(["standing:o:u"])


class _Answers:
    """A service that answers a request with each of `answers` in turn."""

    def __init__(self, *answers):
        self.answers, self.asked = list(answers), 0

    def forward(self, method, path, query, headers, body):
        self.asked += 1
        status, lacking = self.answers.pop(0)
        headers = [("Content-Type", "application/json")] + ([("X-Sferum-Lacking", lacking)] if lacking else [])
        return status, headers, b"{}"


def test_a_refusal_read_before_the_fact_landed_and_its_lack_after_is_asked_once_more():
    from gateway.settling import Settler, Settling

    settling = Settling(window_seconds=120)
    settling.note(["chat-member:c:u"])
    settler = Settler(settling, wait_seconds=5, sleep=lambda seconds: None)
    # Refused as not yet a member; asked again, refused with nothing lacking: the
    # service read the membership before its event landed and what it lacked after.
    skewed = _Answers((404, "chat-member:c:u"), (404, None), (201, None))
    assert settler.forward(skewed, "POST", "/api/v1/calls", b"", {}, None)[0] == 201
    assert skewed.asked == 3
    # A refusal with nothing lacking from the start is the answer, at once.
    stranger = _Answers((404, None))
    assert settler.forward(stranger, "POST", "/api/v1/calls", b"", {}, None)[0] == 404
    assert stranger.asked == 1
    # And a refusal that stays so after the fact landed is the answer too, after one more ask.
    refused = _Answers((404, "chat-member:c:u"), (404, None), (404, None))
    assert settler.forward(refused, "POST", "/api/v1/calls", b"", {}, None)[0] == 404
    assert refused.asked == 3
