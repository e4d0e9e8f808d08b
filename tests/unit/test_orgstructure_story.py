"""The registration and admin story of domain.md, through the gateway of the
in-process platform: events flow between identity and orgstructure."""
import pytest
from support.chats import join_official, send
from support.school import Person, create_region, operator

from devkit.helpers import assert_error, phone, wait_for


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def test_registration_story(embedded):
    api = embedded.api
    region_id = create_region(embedded)
    assert {"id": region_id, "name": "Тестовый регион"} in api.get("/regions").json["items"]
    the_operator = operator(api)
    applicant = Person(api, "future admin")
    body = {"region_id": region_id, "org": {"name": "Гимназия № 2", "kind": "school"},
            "admin": {"full_name": "Ольга Петрова", "phone": applicant.phone}}
    submitted = api.post("/applications", body, token=applicant.token)
    assert submitted.status_code == 201 and submitted.json["status"] == "pending"
    # Nobody but the operator sees or decides applications.
    assert_error(api.get("/applications", token=applicant.token), 403)
    assert_error(api.post(f"/applications/{submitted.json['id']}/approve", token=applicant.token), 403)
    queue = api.get("/applications", params={"status": "pending"}, token=the_operator.token).json["items"]
    assert [item["id"] for item in queue] == [submitted.json["id"]]
    assert queue[0]["admin"]["phone"] == applicant.phone
    org_id = api.post(f"/applications/{submitted.json['id']}/approve", token=the_operator.token).json["org_id"]
    assert_error(api.post(f"/applications/{submitted.json['id']}/approve", token=the_operator.token), 409)
    # The phone signed in before the approval: it is admin now.
    wait_for(lambda: any(o["org_id"] == org_id and "admin" in o["roles"]
                         for o in api.get("/me/orgs", token=applicant.token).json["items"]),
             message="admin rights for the applicant's phone")
    units = api.get(f"/orgs/{org_id}/units", token=applicant.token).json["items"]
    assert [(u["kind"], u["name"]) for u in units] == [("staff_room", "Учительская")]

    # A second application whose admin phone signs in only after the approval.
    later_phone = phone(777)
    second = api.post("/applications", dict(body, org={"name": "Колледж", "kind": "college"},
                                            admin={"full_name": "Иван Иванов", "phone": later_phone}),
                      token=applicant.token)
    second_org = api.post(f"/applications/{second.json['id']}/approve", token=the_operator.token).json["org_id"]
    latecomer = Person(api, "latecomer", later_phone)
    wait_for(lambda: any(o["org_id"] == second_org and "admin" in o["roles"]
                         for o in api.get("/me/orgs", token=latecomer.token).json["items"]),
             message="admin rights granted on first sign-in")

    # Rejection carries a reason.
    third = api.post("/applications", body, token=applicant.token).json["id"]
    assert_error(api.post(f"/applications/{third}/reject", {}, token=the_operator.token), 422)
    rejected = api.post(f"/applications/{third}/reject", {"reason": "Нет приказа о назначении"},
                        token=the_operator.token)
    assert rejected.json["status"] == "rejected" and rejected.json["reason"] == "Нет приказа о назначении"


def test_admin_story(embedded, school):
    api, admin, org = embedded.api, school.admin, school.org_id
    # Organisation information, with the journal and diary links.
    patched = api.patch(f"/orgs/{org}", {"journal_url": "https://journal.example.ru/school5",
                                         "diary_url": "https://diary.example.ru/school5"}, token=admin.token)
    assert patched.status_code == 200
    assert api.get(f"/orgs/{org}", token=school.student.token).json["diary_url"] == "https://diary.example.ru/school5"
    # Members with roles and units.
    members = {m["user_id"]: m for m in api.get(f"/orgs/{org}/members", token=admin.token).json["items"]}
    assert members[school.student.id]["unit_id"] == school.class_a
    assert members[school.student.id]["roles"] == ["student"]
    assert members[school.head.id]["display_name"] == "class head of 5А"
    assert set(members) == {p.id for p in school.everyone.values()} | {school.other_student.id}
    # Teacher verification: a new teacher asks, the admin approves, the badge shows.
    newcomer = school.invite_and_join("teacher", "new teacher", verified=False)
    asked = api.post("/verifications", {"org_id": org}, token=newcomer.token)
    assert asked.status_code == 201
    assert_error(api.post("/verifications", {"org_id": org}, token=newcomer.token), 409)
    assert_error(api.post("/verifications", {"org_id": org}, token=school.student.token), 403)
    pending = api.get(f"/orgs/{org}/verifications", params={"status": "pending"}, token=admin.token).json["items"]
    assert [v["user_id"] for v in pending] == [newcomer.id]
    assert_error(api.post(f"/verifications/{asked.json['id']}/approve", token=school.head.token), 403)
    assert api.post(f"/verifications/{asked.json['id']}/approve", token=admin.token).json["status"] == "approved"
    assert api.get(f"/users/{newcomer.id}", token=school.parent.token).json["teacher_verified"] is True
    wait_for(lambda: {m["user_id"]: m for m in api.get(f"/orgs/{org}/members", token=admin.token).json["items"]}
             [newcomer.id]["teacher_verified"], message="the badge in the member list")
    # An additional admin, appointed from the teachers only.
    assert_error(api.post(f"/orgs/{org}/admins", {"user_id": school.parent.id}, token=admin.token), 422)
    assert api.post(f"/orgs/{org}/admins", {"user_id": school.teacher.id}, token=admin.token).status_code == 204
    school.wait_roles(school.teacher, {"admin", "teacher"})
    # The class head must be a teacher.
    assert_error(api.put(f"/orgs/{org}/units/{school.class_b}/head", {"user_id": school.student.id},
                         token=admin.token), 422)


def test_a_student_belongs_to_exactly_one_class(embedded, school):
    api = embedded.api
    token = school.invite("student", unit_id=school.class_b)
    refused = api.post(f"/invites/{token}/accept", token=school.student.token)
    assert_error(refused, 409, "already_in_a_class")
    # Accepting an invite to one's own class again changes nothing.
    again = school.invite("student", unit_id=school.class_a)
    assert api.post(f"/invites/{again}/accept", token=school.student.token).json["status"] == "joined"
    assert school.roles(school.student) == {"student"}


def test_transfer_and_expulsion_with_history(embedded, school):
    api, admin, org = embedded.api, school.admin, school.org_id
    moved = api.post(f"/orgs/{org}/members/{school.student.id}/transfer", {"unit_id": school.class_b},
                     token=admin.token)
    assert moved.status_code == 200 and moved.json["unit_id"] == school.class_b
    assert_error(api.post(f"/orgs/{org}/members/{school.student.id}/transfer", {"unit_id": school.class_b},
                          token=admin.token), 409)
    expelled = api.post(f"/orgs/{org}/members/{school.student.id}/expel", token=admin.token)
    assert expelled.json["parent_ids"] == [school.parent.id]
    left = {m["user_id"] for m in api.get(f"/orgs/{org}/members", token=admin.token).json["items"]}
    assert school.student.id not in left and school.parent.id not in left
    assert_error(api.get(f"/orgs/{org}", token=school.student.token), 404)
    assert_error(api.get(f"/orgs/{org}", token=school.parent.token), 404)
    # Identity forgets them too: profiles across the school are gone.
    wait_for(lambda: api.get(f"/users/{school.admin.id}", token=school.parent.token).status_code == 404,
             message="identity learning the parent left")
    from services.orgstructure.models import Placement

    runtime = embedded.apps["orgstructure"].extensions["sferum"]
    with runtime.connection():
        history = [(p.unit_id, p.end_reason) for p in
                   Placement.select().where(Placement.user_id == school.student.id).order_by(Placement.started_at)]
    assert history == [(school.class_a, "transferred"), (school.class_b, "expelled")]


def test_a_parent_with_another_child_stays(embedded, school):
    api, org = embedded.api, school.org_id
    token = school.invite("parent", child_user_id=school.other_student.id)
    assert api.post(f"/invites/{token}/accept", token=school.parent.token).json["status"] == "joined"
    expelled = api.post(f"/orgs/{org}/members/{school.student.id}/expel", token=school.admin.token).json
    assert expelled["parent_ids"] == [] and expelled["staying_parent_ids"] == [school.parent.id]
    assert api.get(f"/orgs/{org}", token=school.parent.token).status_code == 200
    mine = api.get("/me/orgs", token=school.parent.token).json["items"]
    assert [o["children"] for o in mine if o["org_id"] == org] == [[school.other_student.id]]


def test_dismissal_ends_roles_class_headship_and_badge(embedded, school):
    api, admin, org = embedded.api, school.admin, school.org_id
    # The class head's status was confirmed when they joined (support.school).
    assert api.get("/me", token=school.head.token).json["teacher_verified"] is True
    assert_error(api.post(f"/orgs/{org}/members/{school.student.id}/dismiss", token=admin.token), 422)
    assert_error(api.post(f"/orgs/{org}/members/{admin.id}/dismiss", token=admin.token), 409)
    assert api.post(f"/orgs/{org}/members/{school.head.id}/dismiss", token=admin.token).status_code == 200
    units = {u["id"]: u for u in api.get(f"/orgs/{org}/units", token=admin.token).json["items"]}
    assert units[school.class_a]["head_user_id"] is None
    wait_for(lambda: api.get("/me", token=school.head.token).json["teacher_verified"] is False,
             message="the badge revoked on dismissal")
    assert_error(api.get(f"/orgs/{org}", token=school.head.token), 404)


def test_invites_expire_get_used_up_and_are_revoked(embedded, school):
    api, admin, org = embedded.api, school.admin, school.org_id
    once = school.invite("teacher", max_uses=1)
    preview = api.get(f"/invites/{once}").json
    assert preview["org_name"] == "Школа № 5" and preview["role"] == "teacher"
    assert api.post(f"/invites/{once}/accept", token=Person(api, "t1").token).status_code == 200
    assert_error(api.post(f"/invites/{once}/accept", token=Person(api, "t2").token), 410)
    unused = school.invite("teacher")
    unused_too = school.invite("student", unit_id=school.class_a)
    assert api.post(f"/orgs/{org}/invites/revoke-unused", token=admin.token).json["revoked"] >= 2
    for token in (unused, unused_too):
        assert_error(api.get(f"/invites/{token}"), 410)
        assert_error(api.post(f"/invites/{token}/accept", token=Person(api, "late").token), 410)
    one = api.post(f"/orgs/{org}/invites", {"role": "teacher"}, token=admin.token).json
    assert api.delete(f"/orgs/{org}/invites/{one['id']}", token=admin.token).json["revoked"] is True
    assert_error(api.get(f"/invites/{one['token']}"), 410)
    assert_error(api.get("/invites/no-such-token"), 404)
    listed = api.get(f"/orgs/{org}/invites", token=admin.token).json["items"]
    assert all("token" not in invite for invite in listed)


def test_invite_tokens_are_random_and_stored_hashed(embedded, school):
    from services.orgstructure.models import Invite

    tokens = {school.invite("teacher") for _ in range(5)}
    assert len(tokens) == 5 and all(len(token) >= 32 for token in tokens)
    runtime = embedded.apps["orgstructure"].extensions["sferum"]
    with runtime.connection():
        stored = {invite.token_hash for invite in Invite.select()}
    assert not tokens & stored


def test_join_requests_need_an_admin(embedded, school):
    api, admin, org = embedded.api, school.admin, school.org_id
    token = school.invite("teacher", requires_approval=True)
    newcomer, stranger = Person(api, "newcomer"), Person(api, "stranger")
    assert api.post(f"/invites/{token}/accept", token=newcomer.token).json["status"] == "pending"
    assert api.post(f"/invites/{token}/accept", token=stranger.token).json["status"] == "pending"
    assert school.roles(newcomer) == set()
    requests = api.get(f"/orgs/{org}/join-requests", params={"status": "pending"}, token=admin.token).json["items"]
    by_user = {r["user_id"]: r["id"] for r in requests}
    assert api.post(f"/orgs/{org}/join-requests/{by_user[newcomer.id]}/approve", token=admin.token).json["status"] == "approved"
    assert api.post(f"/orgs/{org}/join-requests/{by_user[stranger.id]}/reject", token=admin.token).json["status"] == "rejected"
    assert_error(api.post(f"/orgs/{org}/join-requests/{by_user[stranger.id]}/approve", token=admin.token), 409)
    assert school.roles(newcomer) == {"teacher"} and school.roles(stranger) == set()


def test_class_heads_invite_to_their_own_class_only(embedded, school):
    api, org, head = embedded.api, school.org_id, school.head
    assert api.post(f"/orgs/{org}/invites", {"role": "student", "unit_id": school.class_a},
                    token=head.token).status_code == 201
    assert api.post(f"/orgs/{org}/invites", {"role": "parent", "child_user_id": school.student.id},
                    token=head.token).status_code == 201
    assert_error(api.post(f"/orgs/{org}/invites", {"role": "student", "unit_id": school.class_b},
                          token=head.token), 403)
    assert_error(api.post(f"/orgs/{org}/invites", {"role": "parent", "child_user_id": school.other_student.id},
                          token=head.token), 403)
    assert_error(api.post(f"/orgs/{org}/invites", {"role": "teacher"}, token=head.token), 403)
    assert_error(api.post(f"/orgs/{org}/invites", {"role": "student", "unit_id": school.class_a},
                          token=school.teacher.token), 403)


def test_statistics_for_admins_and_directors(embedded, school):
    api, org = embedded.api, school.org_id
    report = api.get(f"/orgs/{org}/stats", token=school.director.token)
    assert report.status_code == 200
    # Counts of people below five are not shown: two students, one in each class.
    assert report.json["members_by_role"]["student"] is None
    assert sum(week["joins"] for week in report.json["weeks"]) == len(school.everyone) + 1
    by_unit = {u["unit_id"]: u["members"] for u in report.json["members_by_unit"]}
    assert by_unit[school.class_a] is None and by_unit[school.class_b] is None
    assert sum(week["messages"] for week in report.json["weeks"]) == 0

    chat_id = join_official(api, school.head, org, "class_students", school.class_a)["id"]
    for text in ("Доброе утро", "Завтра контрольная", "Не забудьте тетради"):
        send(api, school.head, chat_id, text)

    def messages_counted():
        weeks = api.get(f"/orgs/{org}/stats", token=school.admin.token).json["weeks"]
        return sum(week["messages"] for week in weeks)

    wait_for(lambda: messages_counted() == 3, message="three messages counted for the week")
    assert_error(api.get(f"/orgs/{org}/stats", token=school.teacher.token), 403)
    assert_error(api.get(f"/orgs/{org}/stats", params={"from": "2026-12-01", "to": "2026-01-01"},
                         token=school.admin.token), 422)
