"""The school's chat-ethics regulation ("Положение об этике общения", seed
002, points 2.2-2.9), one test per point, walked through the gateway of the
in-process platform: moderation on its own database, learning chats,
members and messages from messaging's and orgstructure's events."""
import csv
import io
from datetime import timedelta

import pytest
from support.chats import accept, created, invitation_to, join_official, send, texts
from support.moderation import (RULES, block, group_chat, in_days, log_actions, may_post, remove, report,
                                violations, wait_member, wait_moderating)
from support.school import School
from support.streams import Frames

from devkit.helpers import assert_error, wait_for
from services.common.clock import isoformat, parse_iso, utcnow
from services.moderation.rules import month_after


@pytest.fixture
def embedded(school_platform):
    return school_platform


@pytest.fixture
def school(school_platform):
    return school_platform.school


def test_2_2_the_teacher_who_runs_a_chat_moderates_it_and_removes_what_breaks_its_rules(embedded, school):
    """The chat's creator moderates it: sees the reports (the reported member
    never learns who reported), removes a message citing a rule, and the
    reporter learns the outcome. Nobody else moderates it."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.teacher, s.student, s.parent])
    rude = send(api, s.student, chat, "Сам такой, отстань")
    filed = report(api, s.parent, rude["id"], reason="Грубит учителю", rule=1)
    assert filed.status_code == 201, filed
    assert filed.json["status"] == "open" and filed.json["rule"] == 1
    for person in (s.teacher, s.student, s.parent):
        assert_error(api.get(f"/chats/{chat}/reports", token=person.token), 403)
    for person in (s.admin, s.director, s.other_student):
        assert_error(api.get(f"/chats/{chat}/reports", token=person.token), 404)
    queue = api.get(f"/chats/{chat}/reports", token=s.head.token).json["items"]
    assert [(r["id"], r["reporter"]["id"], r["author"]["id"], r["excerpt"]) for r in queue] == [
        (filed.json["id"], s.parent.id, s.student.id, "Сам такой, отстань")]
    # The reported student learns of the removal and of the rule, never who reported.
    student_stream, parent_stream = Frames(embedded, s.student), Frames(embedded, s.parent)
    removed = remove(api, s.head, rude["id"], rule=1, note="Грубость в адрес одноклассника")
    assert removed.status_code == 201, removed
    assert removed.json["rule_text"] == RULES[0]
    wait_for(lambda: "Сам такой, отстань" not in texts(api, s.teacher, chat), message="the message hidden")
    told = student_stream.wait("moderation.violation")
    assert told["rule"] == 1 and told["rule_text"] == RULES[0] and told["message_removed"]
    assert s.parent.id not in str(student_stream.seen)
    outcome = parent_stream.wait("moderation.report.resolved")
    assert (outcome["status"], outcome["outcome"]) == ("resolved", "removal")
    mine = api.get("/me/reports", params={"status": "all"}, token=s.parent.token).json["items"]
    assert [(r["id"], r["outcome"]) for r in mine] == [(filed.json["id"], "removal")]
    # The removal is in the chat's log with its rule; only moderators read the log.
    entry = api.get(f"/chats/{chat}/moderation-log", token=s.head.token).json["items"][0]
    assert (entry["action"], entry["actor"]["id"], entry["subject"]["id"]) == ("message_removed", s.head.id,
                                                                               s.student.id)
    assert entry["rules"] == [{"number": 1, "text": RULES[0]}] and entry["note"] == "Грубость в адрес одноклассника"
    assert_error(api.get(f"/chats/{chat}/moderation-log", token=s.student.token), 403)
    student_stream.close()
    parent_stream.close()


def test_2_2_who_moderates_follows_the_school(embedded, school):
    """Chat administrators appointed by the director moderate; a dismissed
    teacher stops moderating everywhere within seconds; a new class head takes
    over the class chats; the school's admins moderate the school-wide chats."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.teacher, s.student])
    assert_error(api.get(f"/chats/{chat}/reports", token=s.teacher.token), 403)
    assert created(api.post(f"/chats/{chat}/moderators", {"user_id": s.teacher.id},
                            token=s.director.token))["status"] == "moderator"
    wait_moderating(api, s.teacher, chat)
    assert api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 2},
                    token=s.teacher.token).status_code == 201
    assert api.post(f"/orgs/{s.org_id}/members/{s.teacher.id}/dismiss", token=s.admin.token).status_code == 200
    wait_for(lambda: api.get(f"/chats/{chat}/reports", token=s.teacher.token).status_code == 404,
             timeout=5, message="the dismissed teacher no longer moderating")
    assert_error(api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 2},
                          token=s.teacher.token), 404)
    # The class head moderates 5А's chat; a new class head takes it over.
    class_chat = join_official(api, s.head, s.org_id, "class_students", s.class_a)["id"]
    join_official(api, s.student, s.org_id, "class_students", s.class_a)
    wait_moderating(api, s.head, class_chat)
    new_head = s.invite_and_join("teacher", "new class head of 5А")
    assert api.put(f"/orgs/{s.org_id}/units/{s.class_a}/head", {"user_id": new_head.id},
                   token=s.admin.token).status_code == 200
    accept(api, new_head, invitation_to(api, new_head, lambda c: c["id"] == class_chat))
    wait_moderating(api, new_head, class_chat)
    wait_for(lambda: api.get(f"/chats/{class_chat}/reports", token=s.head.token).status_code == 404,
             message="the former class head no longer moderating")
    # The admins moderate the school channel.
    channel = join_official(api, s.admin, s.org_id, "school")["id"]
    wait_moderating(api, s.admin, channel)


def test_2_2_a_moderator_is_not_judged_by_a_fellow_moderator_but_by_the_school(embedded, school):
    """Reports about a moderator's own message, and reports in a direct chat,
    which nobody moderates, go to the school's admins and director."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.teacher])
    harsh = send(api, s.head, chat, "Опять никто не сделал домашку!")
    filed = report(api, s.student, harsh["id"], reason="Кричит на нас")
    assert api.get(f"/chats/{chat}/reports", token=s.head.token).json["items"] == []
    assert_error(api.post(f"/reports/{filed.json['id']}/resolve", {"action": "dismiss"}, token=s.head.token), 403)
    seen = api.get(f"/orgs/{s.org_id}/reports", token=s.director.token).json["items"]
    assert [(r["id"], r["author"]["id"]) for r in seen] == [(filed.json["id"], s.head.id)]
    assert_error(api.post(f"/reports/{filed.json['id']}/resolve", {"action": "violation", "rule": 1},
                          token=s.admin.token), 422, "subject_moderates")
    dismissed = api.post(f"/reports/{filed.json['id']}/resolve", {"action": "dismiss", "note": "Поговорили лично"},
                         token=s.admin.token)
    assert dismissed.status_code == 200 and dismissed.json["outcome"] == "dismissed"
    # A direct chat has no moderator: the school decides.
    direct = created(api.post("/chats", {"org_id": s.org_id, "kind": "direct", "user_id": s.student.id},
                              token=s.teacher.token))["id"]
    accept(api, s.student, invitation_to(api, s.student, lambda c: c["id"] == direct))
    wait_member(api, s.student, direct)
    rude = send(api, s.teacher, direct, "Ты ничего не понимаешь")
    filed = report(api, s.student, rude["id"], reason="Обидно", rule=1)
    assert filed.status_code == 201, filed
    recorded = api.post(f"/reports/{filed.json['id']}/resolve", {"action": "violation"}, token=s.admin.token)
    assert recorded.status_code == 200 and recorded.json["outcome"] == "violation"
    assert [(v["rule"], v["recorded_by"]) for v in api.get("/me/violations", token=s.teacher.token).json[
        "items"]] == [(1, s.admin.id)]


def test_2_3_nobody_is_put_into_a_chat_not_even_to_moderate_it(embedded, school):
    """An appointed chat administrator who is not in the chat is invited, not
    added: until they join, they neither moderate nor see it."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student])
    message = send(api, s.student, chat, "Когда кружок?")
    assert created(api.post(f"/chats/{chat}/moderators", {"user_id": s.teacher.id},
                            token=s.admin.token))["status"] == "invited"
    assert_error(api.get(f"/chats/{chat}/reports", token=s.teacher.token), 404)
    assert_error(report(api, s.teacher, message["id"]), 404)
    invitation = invitation_to(api, s.teacher, lambda c: c["id"] == chat)
    assert invitation["role"] == "moderator" and invitation["chat"]["rules"] == RULES
    accept(api, s.teacher, invitation)
    wait_moderating(api, s.teacher, chat)


def test_2_4_the_rules_shown_before_joining_are_the_ones_cited(embedded, school):
    """A violation cites a numbered rule of the chat's current rules and keeps
    its text as it was; the log keeps it when the rules change."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student])
    before = api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 3}, token=s.head.token).json
    assert (before["rule"], before["rule_text"], before["rules_version"]) == (3, "Без рекламы.", 1)
    assert_error(api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 4},
                          token=s.head.token), 422, "unknown_rule")
    assert api.patch(f"/chats/{chat}", {"rules": ["Только про кружок."]}, token=s.head.token).status_code == 200
    # An unknown rule is refused with the rules moderation knows: the new ones, once messaging's event arrived.
    wait_for(lambda: api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 99},
                              token=s.head.token).json["error"]["details"]["rules"] == ["Только про кружок."],
             message="moderation knowing the new rules")
    after = api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 1}, token=s.head.token).json
    assert (after["rule_text"], after["rules_version"]) == ("Только про кружок.", 2)
    assert_error(api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 3},
                          token=s.head.token), 422, "unknown_rule")
    mine = api.get("/me/violations", token=s.student.token).json["items"]
    assert [(v["rule"], v["rule_text"]) for v in mine] == [(1, "Только про кружок."), (3, "Без рекламы.")]
    logged = [entry["rules"] for entry in api.get(f"/chats/{chat}/moderation-log", token=s.head.token).json["items"]]
    assert logged[-1] == [{"number": 3, "text": "Без рекламы."}]


def test_2_5_the_moderator_reminds_everyone_of_the_rules(embedded, school):
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.parent])
    assert_error(api.post(f"/chats/{chat}/reminders", token=s.student.token), 403)
    reminded = api.post(f"/chats/{chat}/reminders", token=s.head.token)
    assert reminded.status_code == 202 and reminded.json["rules"] == RULES
    reminder = "Напоминаем правила чата:\n1. Общаемся вежливо.\n2. Пишем по делу.\n3. Без рекламы."
    wait_for(lambda: texts(api, s.parent, chat).count(reminder) == 1, message="the rules posted in the chat")
    # A violation reminds everyone too, naming nobody; the member alone learns which rule.
    api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 2}, token=s.head.token)
    wait_for(lambda: texts(api, s.parent, chat).count(reminder) == 2, message="the reminder after a violation")
    assert not [text for text in texts(api, s.parent, chat) if "student" in text]
    assert [v["rule_text"] for v in api.get("/me/violations", token=s.student.token).json["items"]] == [RULES[1]]
    assert api.get("/me/violations", token=s.parent.token).json["items"] == []
    assert log_actions(api, s.head, chat) == ["violation_recorded", "rules_reminded"]


def test_2_6_a_block_needs_more_than_three_violations_and_lasts_at_most_a_month(embedded, school):
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.parent])
    poll = created(api.post(f"/chats/{chat}/polls", {"question": "Экскурсия?", "options": ["Да", "Нет"]},
                            token=s.head.token))
    three = violations(api, s.head, chat, s.student, 3)
    error = assert_error(block(api, s.head, chat, s.student, three, in_days(7)), 422, "not_enough_violations")
    assert (error["details"]["cited"], error["details"]["needed"]) == (3, 4)
    four = three + violations(api, s.head, chat, s.student, 1, rule=2)
    latest = month_after(utcnow())
    assert_error(block(api, s.head, chat, s.student, four, isoformat(latest + timedelta(minutes=1))), 422,
                 "block_too_long")
    assert_error(block(api, s.head, chat, s.student, four, in_days(-1)), 422, "until_in_the_past")
    assert may_post(api, s.student, chat)
    stream = Frames(embedded, s.student)
    until = isoformat(month_after(utcnow()) - timedelta(seconds=5))
    imposed = block(api, s.head, chat, s.student, four, until)
    assert imposed.status_code == 201, imposed
    assert imposed.json["rules"] == [{"number": 1, "text": RULES[0]}, {"number": 2, "text": RULES[1]}]
    told = stream.wait("moderation.blocked")
    assert (told["until"], told["chat_id"], told["rules"]) == (until, chat, imposed.json["rules"])
    # messaging refuses within seconds: posts and votes; the member still reads.
    wait_for(lambda: not may_post(api, s.student, chat), timeout=5, message="messaging refusing the blocked member")
    assert_error(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                          token=s.student.token), 403, "blocked")
    assert "Экскурсия?" in texts(api, s.student, chat)
    # Cited violations are spent; one block at a time.
    assert_error(block(api, s.head, chat, s.student, four, in_days(1)), 409, "already_blocked")
    assert api.get(f"/chats/{chat}/violations", params={"uncited": "true"}, token=s.head.token).json["items"] == []
    mine = api.get("/me/blocks", token=s.student.token).json["items"]
    assert [(b["id"], b["status"], b["until"]) for b in mine] == [(imposed.json["id"], "active", until)]
    stream.close()


def test_2_6_a_block_ends_by_itself_at_its_time(embedded, school):
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student])
    cited = violations(api, s.head, chat, s.student, 4)
    stream = Frames(embedded, s.student)
    until = utcnow() + timedelta(seconds=3)
    assert block(api, s.head, chat, s.student, cited, isoformat(until)).status_code == 201
    wait_for(lambda: not may_post(api, s.student, chat), timeout=5, message="the block in force")
    ended = stream.wait("moderation.unblocked")
    assert ended["reason"] == "expired" and parse_iso(ended["ended_at"]) >= until
    assert may_post(api, s.student, chat)
    assert [(b["status"], b["end_reason"]) for b in api.get("/me/blocks", token=s.student.token).json["items"]] == [
        ("ended", "expired")]
    assert log_actions(api, s.head, chat)[0] == "block_expired"
    stream.close()


@pytest.fixture
def quick_window(embedded_with):
    """A platform whose members have a second to object to an early unblock."""
    return embedded_with(MODERATION_OBJECTION_WINDOW_SECONDS=1)


def test_2_7_early_unblock_only_after_an_apology_that_nobody_objects_to(quick_window):
    platform = quick_window
    api = platform.api
    s = School(platform, api)
    chat = group_chat(api, s.org_id, s.head, [s.student, s.parent, s.teacher])
    assert block(api, s.head, chat, s.student, violations(api, s.head, chat, s.student, 4),
                 in_days(20)).status_code == 201
    wait_for(lambda: not may_post(api, s.student, chat), message="the block in force")
    assert_error(api.delete(f"/chats/{chat}/blocks/{s.student.id}", token=s.head.token), 409, "no_unblock_request")
    parent_stream = Frames(platform, s.parent)
    apology = "Простите меня, пожалуйста, я больше так не буду."
    opened = api.post(f"/chats/{chat}/unblock-requests", {"apology": apology}, token=s.student.token)
    assert opened.status_code == 201, opened
    assert parent_stream.wait("moderation.unblock_request.opened")["apology"] == apology
    wait_for(lambda: any(apology in text for text in texts(api, s.teacher, chat)), message="the apology in the chat")
    listed = api.get(f"/chats/{chat}/unblock-requests", token=s.parent.token).json["items"]
    assert [(r["id"], r["objections"]) for r in listed] == [(opened.json["id"], 0)]
    # While the window is open: refused.
    assert_error(api.delete(f"/chats/{chat}/blocks/{s.student.id}", token=s.head.token), 409,
                 "objection_window_open")
    objected = api.post(f"/unblock-requests/{opened.json['id']}/objections", {"reason": "Не извинился лично"},
                        token=s.parent.token)
    assert objected.status_code == 201 and objected.json["objections"] == 1
    assert_error(api.post(f"/unblock-requests/{opened.json['id']}/objections", {}, token=s.student.token), 403)
    wait_for(lambda: utcnow() > parse_iso(opened.json["window_ends_at"]), message="the window to pass")
    # After an objection: refused, however long one waits.
    assert_error(api.delete(f"/chats/{chat}/blocks/{s.student.id}", token=s.head.token), 409, "objected")
    assert_error(api.post(f"/unblock-requests/{opened.json['id']}/objections", {}, token=s.teacher.token), 409,
                 "window_closed")
    # A new apology, and a quiet window: the moderator may unblock.
    again = api.post(f"/chats/{chat}/unblock-requests", {"apology": "Прошу прощения у всех."}, token=s.student.token)
    assert again.status_code == 201, again
    wait_for(lambda: utcnow() > parse_iso(again.json["window_ends_at"]), message="a quiet window to pass")
    unblocked = api.delete(f"/chats/{chat}/blocks/{s.student.id}", token=s.head.token)
    assert unblocked.status_code == 200, unblocked
    assert (unblocked.json["status"], unblocked.json["end_reason"]) == ("ended", "apologised")
    wait_for(lambda: may_post(api, s.student, chat), message="the member posting again")
    actions = log_actions(api, s.head, chat)
    assert actions[:4] == ["member_unblocked", "unblock_requested", "objection_filed", "unblock_requested"]
    parent_stream.close()


def test_2_8_nothing_is_removed_or_blocked_but_for_a_rule_and_the_school_hears_appeals(embedded, school):
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.parent])
    message = send(api, s.student, chat, "Не нравится мне этот кружок")
    # No removal without a rule, and none through messaging's own delete.
    assert_error(remove(api, s.head, message["id"]), 422)
    assert_error(remove(api, s.head, message["id"], rule=9), 422, "unknown_rule")
    assert_error(api.delete(f"/messages/{message['id']}", token=s.head.token), 403, "removal_requires_rule")
    assert_error(api.post(f"/chats/{chat}/violations", {"user_id": s.student.id}, token=s.head.token), 422)
    assert_error(api.post(f"/chats/{chat}/blocks", {"user_id": s.student.id, "until": in_days(3)},
                          token=s.head.token), 422)
    assert "Не нравится мне этот кружок" in texts(api, s.parent, chat)
    # A report is dismissed when no rule was broken: logged too.
    filed = report(api, s.parent, message["id"], reason="Негатив")
    dismissed = api.post(f"/reports/{filed.json['id']}/resolve", {"action": "dismiss", "note": "Мнение, не грубость"},
                         token=s.head.token)
    assert (dismissed.json["status"], dismissed.json["outcome"]) == ("resolved", "dismissed")
    assert "Не нравится мне этот кружок" in texts(api, s.parent, chat)
    # The member appeals a block to the school; an admin finds no real violation and lifts it.
    cited = violations(api, s.head, chat, s.student, 4)
    imposed = block(api, s.head, chat, s.student, cited, in_days(10)).json
    appeal = api.post(f"/blocks/{imposed['id']}/appeals", {"text": "Я не нарушал правила, учитель мне мстит."},
                      token=s.student.token)
    assert appeal.status_code == 201, appeal
    assert_error(api.post(f"/blocks/{imposed['id']}/appeals", {"text": "ещё"}, token=s.student.token), 409)
    assert_error(api.post(f"/appeals/{appeal.json['id']}/decision", {"lift": True, "note": "x"},
                          token=s.head.token), 403)
    pending = api.get(f"/orgs/{s.org_id}/appeals", token=s.director.token).json["items"]
    # The school reads which chat the block is in: its admins need not be members of it.
    assert [(a["id"], a["block"]["chat_title"]) for a in pending] == [(appeal.json["id"], "Кружок")]
    decided = api.post(f"/appeals/{appeal.json['id']}/decision",
                       {"lift": True, "note": "Нарушений правил чата нет"}, token=s.admin.token)
    assert decided.status_code == 200 and decided.json["status"] == "lifted"
    wait_for(lambda: may_post(api, s.student, chat), message="the member posting again")
    voided = api.get(f"/chats/{chat}/violations", params={"user_id": s.student.id}, token=s.head.token).json["items"]
    assert {v["id"] for v in voided if v["voided"]} == set(cited)
    assert_error(block(api, s.head, chat, s.student, cited, in_days(3)), 422)
    lifted = next(e for e in api.get(f"/orgs/{s.org_id}/moderation-log", token=s.director.token).json["items"]
                  if e["action"] == "block_lifted")
    assert (lifted["actor"]["id"], lifted["note"], lifted["rules"]) == (
        s.admin.id, "Нарушений правил чата нет", [{"number": 1, "text": RULES[0]}])
    assert {"report_dismissed", "violation_recorded", "member_blocked", "appeal_filed", "block_lifted"} <= set(
        log_actions(api, s.head, chat))


def test_2_8_the_schools_log_is_filtered_and_exported_for_its_admins_and_director(embedded, school):
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.teacher], title="=Кружок")
    assert created(api.post(f"/chats/{chat}/moderators", {"user_id": s.teacher.id},
                            token=s.admin.token))["status"] == "moderator"
    wait_moderating(api, s.teacher, chat)
    started = isoformat(utcnow())
    api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 1, "note": "=HYPERLINK(\"x\")"},
             token=s.head.token)
    api.post(f"/chats/{chat}/violations", {"user_id": s.student.id, "rule": 2, "note": "Не по делу"},
             token=s.teacher.token)
    entries = api.get(f"/orgs/{s.org_id}/moderation-log", params={"from": started}, token=s.admin.token).json
    assert [(e["actor"]["id"], e["rules"][0]["number"]) for e in entries["items"]] == [(s.teacher.id, 2),
                                                                                         (s.head.id, 1)]
    by_teacher = api.get(f"/orgs/{s.org_id}/moderation-log", params={"moderator_id": s.teacher.id},
                         token=s.director.token).json["items"]
    assert [e["note"] for e in by_teacher] == ["Не по делу"]
    assert api.get(f"/orgs/{s.org_id}/moderation-log", params={"to": started},
                   token=s.admin.token).json["items"] == []
    exported = api.get(f"/orgs/{s.org_id}/moderation-log", params={"format": "csv", "from": started},
                       token=s.director.token)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    assert exported.text.startswith("\ufeff")  # spreadsheets then read the Cyrillic as UTF-8
    header, *rows = csv.reader(io.StringIO(exported.text[1:]))
    assert header == ["at", "action", "chat_id", "chat_title", "actor_id", "actor_name", "subject_id",
                      "subject_name", "rules", "note", "refs"]
    latest, earlier = (dict(zip(header, row)) for row in rows)
    assert (latest["action"], latest["actor_id"], latest["actor_name"], latest["subject_name"], latest["rules"],
            latest["note"]) == ("violation_recorded", s.teacher.id, "teacher", "student of 5А", "2. Пишем по делу.",
                                "Не по делу")
    # What a spreadsheet would run as a formula is written as text.
    assert (earlier["chat_title"], earlier["note"]) == ("'=Кружок", "'=HYPERLINK(\"x\")")


def test_2_9_members_who_leave_the_school_take_their_open_matters_with_them(embedded, school):
    """A student expelled with the parent: their block, unblock request,
    appeal and reports close, each in the log; a dismissed teacher's report too."""
    api, s = embedded.api, school
    chat = group_chat(api, s.org_id, s.head, [s.student, s.parent, s.teacher, s.other_student])
    by_classmate = send(api, s.other_student, chat, "Ерунда какая-то")
    by_student = send(api, s.student, chat, "Сам ерунда")
    from_student = report(api, s.student, by_classmate["id"])
    from_parent = report(api, s.parent, by_classmate["id"])
    about_student = report(api, s.teacher, by_student["id"])
    from_teacher = report(api, s.teacher, by_classmate["id"])
    imposed = block(api, s.head, chat, s.student, violations(api, s.head, chat, s.student, 4), in_days(10)).json
    assert api.post(f"/chats/{chat}/unblock-requests", {"apology": "Извините"},
                    token=s.student.token).status_code == 201
    assert api.post(f"/blocks/{imposed['id']}/appeals", {"text": "Несправедливо"},
                    token=s.student.token).status_code == 201
    assert api.post(f"/orgs/{s.org_id}/members/{s.student.id}/expel", token=s.admin.token).status_code == 200
    assert api.post(f"/orgs/{s.org_id}/members/{s.teacher.id}/dismiss", token=s.admin.token).status_code == 200

    def statuses():
        queue = api.get(f"/chats/{chat}/reports", params={"status": "all"}, token=s.head.token).json["items"]
        return {r["id"]: (r["status"], r["outcome"]) for r in queue}

    wait_for(lambda: statuses() == {
        from_student.json["id"]: ("closed", "reporter_left"), from_parent.json["id"]: ("closed", "reporter_left"),
        about_student.json["id"]: ("closed", "author_left"), from_teacher.json["id"]: ("closed", "reporter_left")},
        message="the reports closed")
    assert api.get(f"/chats/{chat}/blocks", params={"status": "all"}, token=s.head.token).json["items"][0][
        "end_reason"] == "member_left"
    assert api.get(f"/chats/{chat}/unblock-requests", token=s.head.token).json["items"] == []
    assert api.get(f"/orgs/{s.org_id}/appeals", params={"status": "all"}, token=s.admin.token).json["items"][0][
        "status"] == "closed"
    closing = [e for e in api.get(f"/orgs/{s.org_id}/moderation-log", params={"limit": 200},
                                  token=s.admin.token).json["items"] if e["actor"] is None]
    assert sorted(e["action"] for e in closing) == sorted(
        ["report_closed"] * 4 + ["unblock_request_closed", "appeal_closed", "block_closed"])
    assert {e["subject"]["id"] for e in closing} == {s.student.id, s.parent.id, s.teacher.id}
    # Those who left find nothing of the school's moderation.
    for person in (s.student, s.parent, s.teacher):
        assert_error(api.get(f"/chats/{chat}/unblock-requests", token=person.token), 404)
    wait_member(api, s.other_student, chat)
