"""moderation's HTTP endpoints: thin adapters around reports, review,
violations, blocks, unblocking, appeals and the log. A chat or message
moderation has not heard of yet answers 409 `not_ready` with Retry-After."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.errors import ErrorSchema, Unprocessable
from services.common.idempotency import idempotent
from services.common.pagination import PageQuery, paginate
from services.common.requests import service

from . import appeals, blocks, directory, erasure, log, reports, review, schemas, unblocking, violations

blp = Blueprint("moderation", __name__, description="The chat-ethics regulation: reports, violations by rule, "
                "blocks of at most a month, early unblock with the members' objection window, appeals, the log")
BEARER = [{"bearerAuth": []}]
NOT_READY = "the chat or message is not known to moderation yet: retry after `Retry-After` seconds (`not_ready`)"
MAX_CSV_ROWS = 100_000


def _errors(*statuses):
    """The error answers an endpoint documents, with what they mean."""
    meaning = {403: "not allowed in this chat or school", 404: "not found, or in another school",
               409: NOT_READY, 422: "not valid; `code` says why"}

    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=ErrorSchema, description=meaning[status])(view)
        return view
    return decorate


def _page(query, args, render):
    page = paginate(query, args["limit"], args["cursor"])
    page["items"] = render(page["items"])
    return page


# Reports.

@blp.route("/reports", methods=["POST"])
@idempotent
@blp.arguments(schemas.ReportCreate())
@blp.response(201, schemas.MyReport)
@_errors(404, 409, 422)
@blp.doc(security=BEARER)
def file_report(body):
    """A member reports a message of their chat, optionally naming the rule it
    breaks. The chat's moderators see it; the reported person never learns who
    reported. The reporter is told the outcome (`moderation.report.resolved`)."""
    report = reports.file(service(), current_user(), body["message_id"], body["rule"], body["reason"])
    return reports.reporter_view(report)


@blp.route("/chats/<chat_id>/reports", methods=["GET"])
@blp.arguments(schemas.StatusQuery(), location="query")
@blp.response(200, schemas.ReportPage)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def chat_reports(args, chat_id):
    """The chat's moderators' queue, newest first (not reports about their own messages)."""
    return _page(reports.queue(current_user(), chat_id, args["status"]), args, reports.views)


@blp.route("/orgs/<org_id>/reports", methods=["GET"])
@blp.arguments(schemas.StatusQuery(), location="query")
@blp.response(200, schemas.ReportPage)
@_errors(403, 404)
@blp.doc(security=BEARER)
def org_reports(args, org_id):
    """Every report of the school, for its admins and director: those about a
    moderator's own message, or in a chat without moderators, are theirs to decide."""
    return _page(reports.of_org(current_user(), org_id, args["status"]), args, reports.views)


@blp.route("/me/export/moderation", methods=["GET"])
@blp.response(200, schemas.ModerationExport)
@blp.doc(security=BEARER)
def export_mine():
    """moderation's part of `GET /me/export`: the user's violations and
    blocks, the reports they filed, their apologies, objections and appeals."""
    return erasure.export(current_user().id)


@blp.route("/me/reports", methods=["GET"])
@blp.arguments(schemas.StatusQuery(), location="query")
@blp.response(200, schemas.MyReportPage)
@blp.doc(security=BEARER)
def my_reports(args):
    """The reports I filed, with their outcome."""
    return _page(reports.mine(current_user(), args["status"]), args,
                 lambda items: [reports.reporter_view(report) for report in items])


@blp.route("/reports/<report_id>/resolve", methods=["POST"])
@blp.arguments(schemas.ReportResolve())
@blp.response(200, schemas.Report)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def resolve_report(body, report_id):
    """A moderator decides: `dismiss`, `violation` or `removal`; the last two
    cite a rule (the reporter's when none is given). Every open report about
    the same message gets the same answer; a held message is released unless
    it is removed."""
    report = review.resolve(service(), current_user(), report_id, body["action"], body["rule"], body["note"])
    return reports.views([report])[0]


# Violations, removals, reminders.

@blp.route("/chats/<chat_id>/violations", methods=["POST"])
@idempotent
@blp.arguments(schemas.ViolationCreate())
@blp.response(201, schemas.Violation)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def record_violation(body, chat_id):
    """A moderator records that a member broke a numbered rule of the chat's
    current rules; the rule's text is kept with it. The member is told which
    rule privately (`moderation.violation`); the chat gets a reminder of its
    rules, naming nobody (2.5)."""
    violation = violations.record(service(), current_user(), chat_id, body["user_id"], body["rule"],
                                  body["message_id"], body["note"])
    return violations.views([violation])[0]


@blp.route("/chats/<chat_id>/violations", methods=["GET"])
@blp.arguments(schemas.ViolationQuery(), location="query")
@blp.response(200, schemas.ViolationPage)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def chat_violations(args, chat_id):
    """For the chat's moderators: newest first; `uncited=true` for those a block may cite."""
    _chat, query = violations.of_chat(current_user(), chat_id, args["user_id"], args["uncited"])
    return _page(query, args, violations.views)


@blp.route("/me/violations", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ViolationPage)
@blp.doc(security=BEARER)
def my_violations(args):
    """The rules I was found to break, with their texts as they were."""
    return _page(violations.mine(current_user()), args, violations.views)


@blp.route("/messages/<message_id>/removal", methods=["POST"])
@idempotent
@blp.arguments(schemas.Removal())
@blp.response(201, schemas.Removed)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def remove_message(body, message_id):
    """A moderator removes a message for breaking a rule of the chat, which is
    cited (2.8); it is a violation by its author. messaging hides the message
    for everyone within seconds."""
    return violations.remove_message(service(), current_user(), message_id, body["rule"], body["note"])


@blp.route("/chats/<chat_id>/reminders", methods=["POST"])
@blp.response(202, schemas.Reminder)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def remind(chat_id):
    """A moderator reminds everyone of the chat's rules (2.5): messaging posts
    them into the chat as the platform's notice."""
    return violations.remind(service(), current_user(), chat_id)


# Blocks.

@blp.route("/chats/<chat_id>/blocks", methods=["POST"])
@idempotent
@blp.arguments(schemas.BlockCreate())
@blp.response(201, schemas.Block)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def block(body, chat_id):
    """A moderator blocks a member of the chat (2.6), citing more than three of
    their violations there that no earlier block cited, until at most one
    month ahead; otherwise 422 (`not_enough_violations`, `block_too_long`,
    `until_in_the_past`). The member reads but cannot post, vote or start
    calls in the chat until it ends, and is told (`moderation.blocked`)."""
    blocked = blocks.impose(service(), current_user(), chat_id, body["user_id"], body["until"],
                            body["violation_ids"], body["note"])
    return blocks.views([blocked])[0]


@blp.route("/chats/<chat_id>/blocks", methods=["GET"])
@blp.arguments(schemas.BlockQuery(), location="query")
@blp.response(200, schemas.BlockPage)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def chat_blocks(args, chat_id):
    return _page(blocks.of_chat(current_user(), chat_id, args["status"]), args, blocks.views)


@blp.route("/chats/<chat_id>/blocks/<user_id>", methods=["DELETE"])
@blp.response(200, schemas.Block)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def unblock(chat_id, user_id):
    """Early unblock (2.7), only through the member's open unblock request whose
    objection window has passed with no objection; otherwise 409
    (`no_unblock_request`, `objection_window_open`, `objected`)."""
    return blocks.views([blocks.unblock_early(service(), current_user(), chat_id, user_id)])[0]


@blp.route("/me/blocks", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.BlockPage)
@blp.doc(security=BEARER)
def my_blocks(args):
    """My blocks, with the rules they cite and when they end."""
    return _page(blocks.mine(current_user()), args, blocks.views)


# Early unblock: requests and objections.

@blp.route("/chats/<chat_id>/unblock-requests", methods=["POST"])
@idempotent
@blp.arguments(schemas.UnblockRequestCreate())
@blp.response(201, schemas.UnblockRequest)
@_errors(404, 409, 422)
@blp.doc(security=BEARER)
def request_unblock(body, chat_id):
    """The blocked member apologises to the chat and asks to be unblocked early.
    Every member is told and may object until `window_ends_at`
    (MODERATION_OBJECTION_WINDOW_SECONDS after now)."""
    request = unblocking.open_request(service(), current_user(), chat_id, body["apology"],
                                      service().config.objection_window_seconds)
    return unblocking.view(request, current_user().id)


@blp.route("/chats/<chat_id>/unblock-requests", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.UnblockRequestPage)
@_errors(404, 409)
@blp.doc(security=BEARER)
def unblock_requests(args, chat_id):
    """The chat's open unblock requests with their window's end, for its members."""
    user = current_user()
    return _page(unblocking.of_chat(user, chat_id), args,
                 lambda items: [unblocking.view(request, user.id) for request in items])


@blp.route("/unblock-requests/<request_id>/objections", methods=["POST"])
@idempotent
@blp.arguments(schemas.ObjectionCreate())
@blp.response(201, schemas.UnblockRequest)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def object_to_unblock(body, request_id):
    """A member of the chat objects to the early unblock while the window is open."""
    user = current_user()
    return unblocking.view(unblocking.object_to(service(), user, request_id, body["reason"]), user.id)


# Appeals to the school.

@blp.route("/blocks/<block_id>/appeals", methods=["POST"])
@idempotent
@blp.arguments(schemas.AppealCreate())
@blp.response(201, schemas.Appeal)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def appeal(body, block_id):
    """The blocked member appeals to the school's admins and director."""
    return appeals.view(appeals.file(service(), current_user(), block_id, body["text"]))


@blp.route("/orgs/<org_id>/appeals", methods=["GET"])
@blp.arguments(schemas.AppealQuery(), location="query")
@blp.response(200, schemas.AppealPage)
@_errors(403, 404)
@blp.doc(security=BEARER)
def org_appeals(args, org_id):
    return _page(appeals.of_org(current_user(), org_id, args["status"]), args,
                 lambda items: [appeals.view(item) for item in items])


@blp.route("/appeals/<appeal_id>/decision", methods=["POST"])
@blp.arguments(schemas.AppealDecision())
@blp.response(200, schemas.Appeal)
@_errors(403, 404, 409, 422)
@blp.doc(security=BEARER)
def decide_appeal(body, appeal_id):
    """An admin or the director decides: a block that was not for a rule
    violation is lifted (and its violations voided); otherwise it stands."""
    return appeals.view(appeals.decide(service(), current_user(), appeal_id, body["lift"], body["note"]))


# The moderation log.

@blp.route("/chats/<chat_id>/moderation-log", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.LogPage)
@_errors(403, 404, 409)
@blp.doc(security=BEARER)
def chat_log(args, chat_id):
    """Every moderation action in the chat, newest first, for its moderators."""
    chat = directory.moderated_chat(current_user().id, chat_id)
    return _page(log.of_chat(chat), args, log.views)


@blp.route("/orgs/<org_id>/moderation-log", methods=["GET"])
@blp.arguments(schemas.OrgLogQuery(), location="query")
@blp.response(200, schemas.LogPage)
@_errors(403, 404, 422)
@blp.doc(security=BEARER, responses={"200": {"description": "a page of the log, or the CSV file", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/LogPage"}},
    "text/csv": {"schema": {"type": "string"}}}}})
def org_log(args, org_id):
    """Every moderation action in the school, newest first, for its admins and
    director: `from` (inclusive) and `to` (exclusive) in UTC, `moderator_id`
    for one person's actions. `format=csv` answers the whole selection as a
    CSV file (UTF-8 with a byte-order mark; columns: at, action, chat_id,
    chat_title, actor_id, actor_name, subject_id, subject_name, rules, note,
    refs), at most 100 000 rows."""
    directory.overseen_org(current_user().id, org_id)
    query = log.of_org(org_id, args["start"], args["end"], args["moderator_id"])
    if args["format"] == "json":
        return _page(query, args, log.views)
    entries = list(query.limit(MAX_CSV_ROWS + 1))
    if len(entries) > MAX_CSV_ROWS:
        raise Unprocessable("Too many entries for one file; choose a shorter period with `from` and `to`.",
                            code="too_many_entries", details={"max": MAX_CSV_ROWS})
    return Response(log.as_csv(entries), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="moderation-log-{org_id}.csv"'})
