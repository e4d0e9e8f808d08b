"""moderation's request and response schemas (the OpenAPI contract)."""
import marshmallow as ma
from marshmallow import validate

from services.common.fields import JsonBoolean, UtcDateTime
from services.common.pagination import PageQuery, page_schema

Id = ma.fields.String
ID = validate.Length(min=1, max=32)
RULE_HELP = "the number of a rule of the chat (1 is the first of its current rules)"


class Text(ma.fields.String):
    """Free text, trimmed; the length limits apply to what is left."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text_field(required: bool, max_length: int, description: str):
    limits = validate.Length(min=1 if required else 0, max=max_length)
    extra = {"required": True} if required else {"load_default": ""}
    return Text(validate=limits, metadata={"description": description}, **extra)


def rule_field(required: bool = True):
    extra = {"required": True} if required else {"load_default": None, "allow_none": True}
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=100),
                             metadata={"description": RULE_HELP}, **extra)


class Person(ma.Schema):
    id = ma.fields.String(allow_none=True)
    display_name = ma.fields.String()
    erased = ma.fields.Boolean(metadata={"description": "a person whose data was erased: «Удалённый пользователь»"})


class CitedRule(ma.Schema):
    number = ma.fields.Integer()
    text = ma.fields.String(metadata={"description": "the rule's text when it was cited"})


# Reports.

class ReportCreate(ma.Schema):
    message_id = Id(required=True, validate=ID)
    rule = rule_field(required=False)
    reason = text_field(True, 2000, "what is wrong with the message")


class StatusQuery(PageQuery):
    status = ma.fields.String(load_default="open", validate=validate.OneOf(("open", "resolved", "closed", "all")))


class Report(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    chat_title = ma.fields.String(allow_none=True)
    message_id = ma.fields.String()
    author = ma.fields.Nested(Person, metadata={"description": "whose message was reported"})
    reporter = ma.fields.Nested(Person, allow_none=True, metadata={"description": "null when the filters flagged it"})
    source = ma.fields.String(metadata={"description": "member | filter"})
    rule = ma.fields.Integer(allow_none=True)
    rule_text = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    flags = ma.fields.Dict(metadata={"description": "the filters' findings: stop_word, outside_link, flooding"})
    excerpt = ma.fields.String(metadata={"description": "the message's text when it was reported"})
    held = ma.fields.Boolean(metadata={"description": "the message waits for review, unseen by the chat"})
    status = ma.fields.String(metadata={"description": "open | resolved | closed"})
    outcome = ma.fields.String(allow_none=True, metadata={"description": "dismissed | violation | removal | "
                                                           "reporter_left | author_left"})
    note = ma.fields.String()
    violation_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    resolved_at = ma.fields.String(allow_none=True)


ReportPage = page_schema(Report, "ReportPage")


class MyReport(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    message_id = ma.fields.String()
    rule = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String()
    status = ma.fields.String()
    outcome = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    resolved_at = ma.fields.String(allow_none=True)


MyReportPage = page_schema(MyReport, "MyReportPage")


class ReportResolve(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(("dismiss", "violation", "removal")),
                              metadata={"description": "dismiss (no rule broken; a held message is released), "
                                        "violation (recorded against the author), removal (the message is "
                                        "removed for the rule, a violation too)"})
    rule = rule_field(required=False)
    note = text_field(False, 1000, "why")


# Violations, removals, reminders.

class ViolationCreate(ma.Schema):
    user_id = Id(required=True, validate=ID)
    rule = rule_field()
    message_id = Id(load_default=None, allow_none=True, validate=ID)
    note = text_field(False, 1000, "why")


class Violation(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    chat_title = ma.fields.String(allow_none=True)
    user_id = ma.fields.String()
    rule = ma.fields.Integer()
    rule_text = ma.fields.String(metadata={"description": "the rule's text when the violation was recorded"})
    rules_version = ma.fields.Integer()
    message_id = ma.fields.String(allow_none=True)
    note = ma.fields.String()
    recorded_by = ma.fields.String()
    created_at = ma.fields.String()
    block_id = ma.fields.String(allow_none=True, metadata={"description": "the block that cited it"})
    voided = ma.fields.Boolean(metadata={"description": "the school found on appeal that it was no violation"})


ViolationPage = page_schema(Violation, "ViolationPage")


class ViolationQuery(PageQuery):
    user_id = Id(load_default=None, validate=ID)
    uncited = ma.fields.Boolean(load_default=False, metadata={"description": "only those no block cited yet"})


class Removal(ma.Schema):
    rule = rule_field()
    note = text_field(False, 1000, "why")


class Removed(ma.Schema):
    message_id = ma.fields.String()
    chat_id = ma.fields.String()
    rule = ma.fields.Integer()
    rule_text = ma.fields.String()
    violation_id = ma.fields.String()


class Reminder(ma.Schema):
    chat_id = ma.fields.String()
    rules_version = ma.fields.Integer()
    rules = ma.fields.List(ma.fields.String())


# Blocks, unblock requests, appeals.

class BlockCreate(ma.Schema):
    user_id = Id(required=True, validate=ID)
    until = UtcDateTime(required=True, metadata={
        "description": "when the block ends: in the future and at most one month ahead, that is the same day and "
                       "time of the next month (UTC), or its last day when the next month is shorter"})
    violation_ids = ma.fields.List(Id(validate=ID), required=True, validate=validate.Length(min=1, max=50),
                                   metadata={"description": "the member's violations in this chat the block cites: "
                                             "more than three, none cited by an earlier block"})
    note = text_field(False, 1000, "why")


class Block(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    chat_title = ma.fields.String(allow_none=True)
    user_id = ma.fields.String()
    blocked_by = ma.fields.String()
    note = ma.fields.String()
    created_at = ma.fields.String()
    until = ma.fields.String()
    status = ma.fields.String(metadata={"description": "active | ended"})
    ended_at = ma.fields.String(allow_none=True)
    end_reason = ma.fields.String(allow_none=True, metadata={"description": "expired | apologised | appeal | "
                                                              "member_left"})
    violation_ids = ma.fields.List(ma.fields.String())
    rules = ma.fields.List(ma.fields.Nested(CitedRule))


BlockPage = page_schema(Block, "BlockPage")


class BlockQuery(PageQuery):
    status = ma.fields.String(load_default="active", validate=validate.OneOf(("active", "ended", "all")))


class UnblockRequestCreate(ma.Schema):
    apology = text_field(True, 2000, "the apology to the members of the chat, who are all shown it")


class ObjectionCreate(ma.Schema):
    reason = text_field(False, 1000, "why (seen by the chat's moderators only)")


class UnblockRequest(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    block_id = ma.fields.String()
    user = ma.fields.Nested(Person)
    apology = ma.fields.String()
    created_at = ma.fields.String()
    window_ends_at = ma.fields.String(metadata={"description": "members may object until then"})
    objections = ma.fields.Integer(metadata={"description": "how many objected (never who)"})
    objected_by_me = ma.fields.Boolean()
    status = ma.fields.String(metadata={"description": "open | closed"})
    outcome = ma.fields.String(allow_none=True, metadata={"description": "unblocked | objected | block_ended | "
                                                           "member_left"})


UnblockRequestPage = page_schema(UnblockRequest, "UnblockRequestPage")


class AppealCreate(ma.Schema):
    text = text_field(True, 4000, "why the block was not for breaking the chat's rules")


class AppealDecision(ma.Schema):
    lift = JsonBoolean(required=True, metadata={
        "description": "true: the block was not for a rule violation; it ends and the violations it cited are "
                       "voided. false: it stands"})
    note = text_field(True, 1000, "why")


class AppealQuery(PageQuery):
    status = ma.fields.String(load_default="open", validate=validate.OneOf(("open", "upheld", "lifted", "closed",
                                                                            "all")))


class Appeal(ma.Schema):
    id = ma.fields.String()
    org_id = ma.fields.String()
    chat_id = ma.fields.String()
    block_id = ma.fields.String()
    user = ma.fields.Nested(Person)
    text = ma.fields.String()
    created_at = ma.fields.String()
    status = ma.fields.String(metadata={"description": "open | upheld | lifted | closed"})
    note = ma.fields.String()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = ma.fields.String(allow_none=True)
    block = ma.fields.Nested(Block, allow_none=True)


AppealPage = page_schema(Appeal, "AppealPage")


# The moderation log.

class LogEntry(ma.Schema):
    id = ma.fields.String()
    at = ma.fields.String()
    action = ma.fields.String(metadata={"description": "violation_recorded, message_removed, member_blocked, "
                                        "member_unblocked, block_expired, block_lifted, appeal_filed, "
                                        "appeal_upheld, report_dismissed, rules_reminded, unblock_requested, "
                                        "objection_filed, report_closed, block_closed, unblock_request_closed, "
                                        "appeal_closed"})
    org_id = ma.fields.String()
    chat_id = ma.fields.String(allow_none=True)
    chat_title = ma.fields.String()
    actor = ma.fields.Nested(Person, allow_none=True, metadata={"description": "who; null: the platform"})
    subject = ma.fields.Nested(Person, allow_none=True, metadata={"description": "whom"})
    rules = ma.fields.List(ma.fields.Nested(CitedRule), metadata={"description": "which rules, with their texts "
                                                                   "at that moment"})
    note = ma.fields.String(metadata={"description": "why, in the words of who acted (empty once that person's data "
                                      "was erased)"})
    refs = ma.fields.Dict(metadata={"description": "ids of what it concerns: violation, block, report, request, "
                                    "appeal, message"})


LogPage = page_schema(LogEntry, "LogPage")


class OrgLogQuery(PageQuery):
    start = UtcDateTime(data_key="from", load_default=None, metadata={"description": "from this moment (UTC)"})
    end = UtcDateTime(data_key="to", load_default=None, metadata={"description": "before this moment (UTC)"})
    moderator_id = Id(load_default=None, validate=ID, metadata={"description": "actions of this person only"})
    format = ma.fields.String(load_default="json", validate=validate.OneOf(("json", "csv")), metadata={
        "description": "csv: the whole selection (no paging) as a UTF-8 CSV file to open in a spreadsheet"})

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError("`from` comes before `to`.", "to")


class ModerationExport(ma.Schema):
    violations = ma.fields.List(ma.fields.Dict(), metadata={"description": "rules the user broke, with their texts"})
    blocks = ma.fields.List(ma.fields.Dict())
    reports = ma.fields.List(ma.fields.Dict(), metadata={"description": "reports the user filed, with outcomes"})
    apologies = ma.fields.List(ma.fields.Dict(), metadata={"description": "unblock requests"})
    objections = ma.fields.List(ma.fields.Dict())
    appeals = ma.fields.List(ma.fields.Dict())
