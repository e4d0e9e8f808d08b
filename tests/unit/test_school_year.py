"""The school year: every class up a grade (5А → 6А), the graduating classes
let go (their students, and the parents with no other child in the school,
leave the school and its chats), their chats archived and the promoted
classes' chats renamed; a dry run shows the plan and a single confirmation
carries it out, once a year and never in an archived school."""
import pytest
from support.chats import accept, invitation_to, join_official, my_chat

from devkit.helpers import assert_error, wait_for
from services.orgstructure.school_year import UnitFacts, next_name, plan_for

YEAR = "2027/2028"


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    """Школа № 5 with 5А and 5Б (grade 5), and 11А with a student whose parent
    also has a child in 5А."""
    school, api = school_platform.school, school_platform.api
    school.class_11 = api.post(f"/orgs/{school.org_id}/units", {"name": "11А", "grade": 11, "academic_year": "2026/2027"},
                               token=school.admin.token).json["id"]
    school.graduate = school.invite_and_join("student", "выпускник", unit_id=school.class_11)
    accepted = api.post(f"/invites/{school.invite('parent', child_user_id=school.graduate.id)}/accept",
                        token=school.parent.token)
    assert accepted.status_code == 200
    school.lone_parent = school.invite_and_join("parent", "родитель выпускника", child_user_id=school.graduate.id)
    return school


def rollover(api, school, **body):
    return api.post(f"/orgs/{school.org_id}/rollover", {"academic_year": YEAR, **body}, token=school.admin.token)


def units(api, school):
    return {u["id"]: u for u in api.get(f"/orgs/{school.org_id}/units", params={"archived": "true"},
                                        token=school.admin.token).json["items"]}


def calls_members(platform, org_id: str, user_ids: set[str]) -> set[str]:
    """Which of these people calls counts among the school's (its projection, read behind its back)."""
    from services.calls.models import OrgMember

    with platform.apps["calls"].extensions["sferum"].connection():
        return {row.user_id for row in OrgMember.select().where(OrgMember.org_id == org_id,
                                                                OrgMember.user_id.in_(list(user_ids)))}


def test_the_plan_then_a_single_confirmation(embedded, school):
    api, org = embedded.api, school.org_id
    assert api.put(f"/orgs/{org}/units/{school.class_11}/head", {"user_id": school.teacher.id},
                   token=school.admin.token).status_code == 200
    graduates_chat = join_official(api, school.graduate, org, "class_students", school.class_11)["id"]
    join_official(api, school.teacher, org, "class_students", school.class_11)
    lone_parent_chat = join_official(api, school.lone_parent, org, "school")["id"]
    five_a = join_official(api, school.student, org, "class_students", school.class_a)["id"]
    before = units(api, school)

    plan = rollover(api, school)
    assert plan.status_code == 200, plan
    plan = plan.json
    assert plan["dry_run"] is True and plan["academic_year"] == YEAR and plan["final_grade"] == 11
    assert sorted((p["name"], p["new_name"], p["new_grade"]) for p in plan["promoted"]) == [
        ("5А", "6А", 6), ("5Б", "6Б", 6)]
    assert [(g["name"], g["students"]) for g in plan["graduating"]] == [("11А", 1)]
    assert plan["parents_leaving"] == 1 and plan["conflicts"] == []
    # The dry run changed nothing.
    assert units(api, school) == before

    done = rollover(api, school, dry_run=False, plan_id=plan["plan_id"])
    assert done.status_code == 200, done
    assert done.json["dry_run"] is False and done.json["plan_id"] == plan["plan_id"]
    after = units(api, school)
    assert (after[school.class_a]["name"], after[school.class_a]["grade"], after[school.class_a]["academic_year"]) == (
        "6А", 6, YEAR)
    assert after[school.class_b]["name"] == "6Б"
    assert after[school.class_11]["archived"] is True

    # The graduate and the parent with no other child here left the school; the other parent stays.
    members = {m["user_id"] for m in api.get(f"/orgs/{org}/members", params={"limit": 200},
                                             token=school.admin.token).json["items"]}
    assert school.graduate.id not in members and school.lone_parent.id not in members
    assert school.parent.id in members and school.student.id in members
    assert api.get(f"/orgs/{org}/members/{school.graduate.id}/roles",
                   token=school.admin.token).json["left_reason"] == "graduated"
    # Their chats: the graduates leave them; the promoted class's chat is renamed.
    wait_for(lambda: my_chat(api, school.graduate, lambda c: c["id"] == graduates_chat) is None,
             message="the graduate out of the class chat")
    wait_for(lambda: my_chat(api, school.lone_parent, lambda c: c["id"] == lone_parent_chat) is None,
             message="the graduate's parent out of the school channel")
    wait_for(lambda: (my_chat(api, school.student, lambda c: c["id"] == five_a) or {}).get("title") == "6А: ученики",
             message="the class chat renamed")
    # The graduated class's chat is archived: its head still reads it, nobody writes.
    wait_for(lambda: api.get(f"/chats/{graduates_chat}", token=school.teacher.token).json["archived"],
             message="the graduated class's chat archived")
    assert_error(api.post(f"/chats/{graduates_chat}/messages", {"text": "Привет"}, token=school.teacher.token),
                 409, "chat_archived")

    # calls no longer counts them among the school's people.
    wait_for(lambda: not calls_members(embedded, org, {school.graduate.id, school.lone_parent.id}),
             message="calls letting the graduate and their parent go")
    assert calls_members(embedded, org, {school.parent.id, school.student.id}) == {school.parent.id, school.student.id}

    # Once a year.
    assert_error(rollover(api, school), 409, "already_rolled_over")
    assert_error(rollover(api, school, dry_run=False), 409, "already_rolled_over")
    assert units(api, school) == after


def test_a_plan_that_changed_since_it_was_shown_is_not_carried_out(embedded, school):
    api, org = embedded.api, school.org_id
    plan = rollover(api, school).json
    school.invite_and_join("student", "новенький в 11А", unit_id=school.class_11)
    before = units(api, school)
    refused = assert_error(rollover(api, school, dry_run=False, plan_id=plan["plan_id"]), 409, "plan_changed")
    assert refused["details"]["plan"]["graduating"][0]["students"] == 2
    assert units(api, school) == before


def test_two_classes_that_would_share_a_name_stop_the_rollover(embedded, school):
    api, org = embedded.api, school.org_id
    assert api.post(f"/orgs/{org}/units", {"name": "6А", "academic_year": YEAR},
                    token=school.admin.token).status_code == 201
    before = units(api, school)
    plan = rollover(api, school).json
    assert plan["conflicts"] and plan["conflicts"][0]["name"] == "6А"
    assert_error(rollover(api, school, dry_run=False), 409, "rollover_conflicts")
    assert units(api, school) == before


def test_an_archived_school_rolls_over_no_year(embedded, school):
    api, org = embedded.api, school.org_id
    channel = invitation_to(api, school.teacher, lambda c: c["purpose"] == "teachers")
    assert api.post(f"/orgs/{org}/archive", token=school.operator.token).status_code == 200
    before = units(api, school)
    for dry_run in (True, False):
        assert_error(rollover(api, school, dry_run=dry_run), 409, "org_archived")
    assert units(api, school) == before
    # Nothing else changes in it either, and its chats are archived.
    assert_error(api.post(f"/orgs/{org}/units", {"name": "1А"}, token=school.admin.token), 409, "org_archived")
    assert_error(api.post(f"/orgs/{org}/invites", {"role": "teacher"}, token=school.admin.token), 409, "org_archived")
    wait_for(lambda: api.post(f"/chat-invitations/{channel['id']}/accept",
                              {"accepted_rules_version": channel["chat"]["rules_version"]},
                              token=school.teacher.token).status_code == 404,
             message="the archived school's chats closed to newcomers")


@pytest.mark.parametrize("body", [
    {"dry_run": "perhaps"}, {"final_grade": 0}, {"final_grade": 13}, {"academic_year": "2027"},
    {"academic_year": "2027/2029"}, {"plan_id": "x" * 65}, {"unknown": 1},
])
def test_bad_input_rolls_nothing_over(embedded, school, body):
    api = embedded.api
    before = units(api, school)
    assert_error(api.post(f"/orgs/{school.org_id}/rollover", body, token=school.admin.token), 422)
    assert units(api, school) == before


def test_graduating_is_up_to_the_final_grade(embedded, school):
    plan = rollover(embedded.api, school, final_grade=5).json
    assert sorted(g["name"] for g in plan["graduating"]) == ["11А", "5А", "5Б"] and plan["promoted"] == []


@pytest.mark.parametrize("name,grade,new", [
    ("5А", 5, "6А"), ("10-Б", 10, "11-Б"), ("9", 9, "10"), ("1А", 11, "1А"), ("15А", 1, "15А"),
    ("ИС-21", 2, "ИС-21"), ("5 «Звёздочки»", 5, "6 «Звёздочки»"),
])
def test_the_rule_of_names(name, grade, new):
    assert next_name(name, grade) == new


def test_the_plan_as_a_rule():
    units = [UnitFacts("a", "5А", 5, "2026/2027"), UnitFacts("b", "11Б", 11, "2026/2027"),
             UnitFacts("c", "Хор", None, "2026/2027"), UnitFacts("d", "6А", 6, "2026/2027")]
    plan = plan_for(units, 11, YEAR)
    assert [(p["unit_id"], p["new_name"]) for p in plan["promoted"]] == [("a", "6А"), ("d", "7А")]
    assert [g["unit_id"] for g in plan["graduating"]] == ["b"]
    assert plan["unchanged"] == [{"unit_id": "c", "name": "Хор", "reason": "no_grade"}]
    assert plan["conflicts"] == []
    clash = plan_for(units + [UnitFacts("e", "7А", None, YEAR)], 11, YEAR)
    assert clash["conflicts"] == [{"name": "7А", "unit_ids": ["d", "e"]}]
