"""Events messaging consumes: thin adapters around `official`, `chats` and
`messages`."""
from services.common.consumer import EventHandlers
from services.common.clock import parse_iso

from . import chats, directory, erasure, messages, official, texts
from .models import Block, Chat, OpenReport, Org, Person, Unit, VerifiedTeacher

handlers = EventHandlers()


def _upsert(model, key_field, key, **values):
    model.insert(**{key_field.name: key}, **values).on_conflict(
        conflict_target=[key_field], update={getattr(model, name): value for name, value in values.items()}).execute()


@handlers.on("identity.user.registered", "identity.user.updated")
def user_named(service, event):
    data = event["data"]
    _upsert(Person, Person.user_id, data["user_id"], display_name=data.get("display_name") or "")


@handlers.on("identity.teacher.verified")
def teacher_verified(service, event):
    data = event["data"]
    VerifiedTeacher.insert(org_id=data["org_id"], user_id=data["user_id"]).on_conflict_ignore().execute()


@handlers.on("identity.teacher.unverified")
def teacher_unverified(service, event):
    data = event["data"]
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == data["org_id"],
                                   VerifiedTeacher.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.org.created", "orgstructure.org.updated")
def org_changed(service, event):
    data = event["data"]
    _upsert(Org, Org.org_id, data["org_id"], name=data.get("name") or "",
            journal_url=data.get("journal_url") or "", diary_url=data.get("diary_url") or "")
    if data.get("archived"):
        official.archive_organisation(service, data["org_id"])
    else:
        official.ensure_org_chats(service, data["org_id"])


@handlers.on("orgstructure.unit.created", "orgstructure.unit.updated")
def unit_changed(service, event):
    data = event["data"]
    _upsert(Unit, Unit.unit_id, data["unit_id"], org_id=data["org_id"], kind=data["kind"],
            name=data.get("name") or "")
    official.ensure_class_chats(service, Unit.get_by_id(data["unit_id"]))


@handlers.on("orgstructure.unit.archived")
def unit_archived(service, event):
    data = event["data"]
    _upsert(Unit, Unit.unit_id, data["unit_id"], org_id=data["org_id"], kind=data["kind"],
            name=data.get("name") or "", archived=True)
    official.archive_class_chats(service, Unit.get_by_id(data["unit_id"]))


@handlers.on("orgstructure.unit.head_assigned")
def head_assigned(service, event):
    data = event["data"]
    official.head_assigned(service, data["org_id"], data["unit_id"], data.get("user_id"),
                           data.get("previous_user_id"))


@handlers.on("orgstructure.unit.teacher.assigned")
def teacher_assigned(service, event):
    data = event["data"]
    official.teacher_assigned(service, data["org_id"], data["unit_id"], data["user_id"], data.get("subject"))


@handlers.on("orgstructure.unit.teacher.unassigned")
def teacher_unassigned(service, event):
    data = event["data"]
    official.teacher_unassigned(service, data["org_id"], data["unit_id"], data["user_id"])


@handlers.on("orgstructure.member.joined")
def member_joined(service, event):
    data = event["data"]
    if data.get("display_name"):
        _upsert(Person, Person.user_id, data["user_id"], display_name=data["display_name"])
    official.member_joined(service, data["org_id"], data["user_id"], data["roles"], data.get("unit_id"))


@handlers.on("orgstructure.member.roles_changed")
def roles_changed(service, event):
    data = event["data"]
    official.roles_changed(service, data["org_id"], data["user_id"], data["roles"])


@handlers.on("orgstructure.member.transferred")
def member_transferred(service, event):
    data = event["data"]
    official.transferred(service, data["org_id"], data["user_id"], data["from_unit_id"],
                         data["to_unit_id"], data.get("parent_ids") or [])


@handlers.on("orgstructure.member.expelled")
def member_expelled(service, event):
    data = event["data"]
    official.expelled(service, data["org_id"], data["user_id"], data["unit_id"],
                      data.get("parent_ids") or [], data.get("staying_parent_ids") or [])


@handlers.on("orgstructure.member.dismissed")
def member_dismissed(service, event):
    data = event["data"]
    official.leave_organisation(service, data["org_id"], data["user_id"], "dismissed")


@handlers.on("orgstructure.year.rolled_over")
def year_rolled_over(service, event):
    """The graduates, and the parents who leave with them, leave the school's
    chats; the graduated classes' chats were archived with their units, the
    promoted ones renamed."""
    data = event["data"]
    for graduate in data.get("graduates") or []:
        official.expelled(service, data["org_id"], graduate["user_id"], graduate["unit_id"],
                          graduate.get("parent_ids") or [], graduate.get("staying_parent_ids") or [],
                          reason="graduated")


@handlers.on("orgstructure.parent.linked")
def parent_linked(service, event):
    data = event["data"]
    official.parent_linked(service, data["org_id"], data["parent_id"], data["child_id"],
                           data.get("unit_id"))


@handlers.on("orgstructure.parent.unlinked")
def parent_unlinked(service, event):
    data = event["data"]
    official.parent_unlinked(service, data["org_id"], data["parent_id"], data["child_id"])


@handlers.on("orgstructure.stats.weekly_digest")
def weekly_digest(service, event):
    """The director's weekly figures, in the school's staff channel."""
    official.post_weekly_digest(service, event["data"])


@handlers.on("identity.user.erased")
def user_erased(service, event):
    erasure.erase(service, service.config.storage, event["data"]["user_id"])


@handlers.on("moderation.member.blocked")
def member_blocked(service, event):
    data = event["data"]
    until = parse_iso(data["until"])
    Block.insert(chat_id=data["chat_id"], user_id=data["user_id"], until=until).on_conflict(
        conflict_target=[Block.chat_id, Block.user_id], update={Block.until: until}).execute()


@handlers.on("moderation.member.unblocked")
def member_unblocked(service, event):
    data = event["data"]
    Block.delete().where(Block.chat_id == data["chat_id"], Block.user_id == data["user_id"]).execute()


@handlers.on("moderation.message.removed")
def message_removed(service, event):
    data = event["data"]
    messages.remove_by_moderation(service, data["message_id"], data.get("rule"), data.get("by"))


@handlers.on("moderation.violation.recorded")
def violation_recorded(service, event):
    """Rule 2.5: when rules are broken, everyone is reminded of them."""
    chat = Chat.get_or_none(Chat.id == event["data"]["chat_id"])
    if chat is not None and chat.archived_at is None:
        messages.post_notice(service, chat, texts.rules_reminder(chats.rules_of(chat)))


@handlers.on("moderation.rules.reminded")
def rules_reminded(service, event):
    """Rule 2.5: a moderator reminds everyone of the chat's rules."""
    chat = Chat.get_or_none(Chat.id == event["data"]["chat_id"])
    if chat is not None and chat.archived_at is None:
        messages.post_notice(service, chat, texts.rules_reminder(chats.rules_of(chat)))


@handlers.on("moderation.message.released")
def message_released(service, event):
    messages.release(service, event["data"]["message_id"])


@handlers.on("moderation.report.filed")
def report_filed(service, event):
    data = event["data"]
    OpenReport.insert(report_id=data["report_id"], chat_id=data["chat_id"]).on_conflict_ignore().execute()


@handlers.on("moderation.report.resolved")
def report_resolved(service, event):
    OpenReport.delete().where(OpenReport.report_id == event["data"]["report_id"]).execute()


@handlers.on("moderation.unblock_request.opened", "moderation.unblock_request.objected",
             "moderation.unblock_request.closed")
def unblock_request(service, event):
    """Rule 2.7: the chat hears of the apology and of the outcome; an objection
    is announced once, never saying who objected."""
    data, kind = event["data"], event["type"].rsplit(".", 1)[1]
    chat = Chat.get_or_none(Chat.id == data["chat_id"])
    if chat is None or chat.archived_at is not None:
        return
    name = directory.people(chat.org_id, [data["user_id"]])[data["user_id"]]["display_name"]
    if kind == "opened":
        ends = parse_iso(data["window_ends_at"]).strftime("%d.%m.%Y %H:%M UTC")
        messages.post_notice(service, chat, texts.unblock_requested(name, data.get("apology") or "", ends),
                             about=data["user_id"])
    elif kind == "objected" and data.get("objections") == 1:
        messages.post_notice(service, chat, texts.unblock_objected(name), about=data["user_id"])
    elif kind == "closed" and data.get("outcome") == "unblocked":
        messages.post_notice(service, chat, texts.unblocked_early(name), about=data["user_id"])


def _call_chat(data: dict) -> Chat | None:
    chat = Chat.get_or_none(Chat.id == data.get("chat_id")) if data.get("chat_id") else None
    return chat if chat is not None and chat.archived_at is None else None


@handlers.on("calls.call.started", "calls.call.ended")
def call_notice(service, event):
    data = event["data"]
    chat = _call_chat(data)
    if chat is None:
        return
    call_id = data.get("call_id")
    if event["type"].endswith(".started"):
        messages.post_notice(service, chat, texts.call_started(data.get("kind", "")), call_id=call_id)
    elif data.get("started_at") and data.get("ended_at"):
        minutes = (parse_iso(data["ended_at"]) - parse_iso(data["started_at"])).total_seconds() / 60
        messages.post_notice(service, chat, texts.call_ended(max(0, round(minutes))), call_id=call_id)
    elif data.get("outcome") in ("missed", "cancelled"):
        # Rung and never answered: the person called sees it when they open the chat.
        messages.post_notice(service, chat, texts.call_missed(), call_id=call_id)
    elif data.get("outcome") == "declined":
        messages.post_notice(service, chat, texts.call_declined(), call_id=call_id)


@handlers.on("calls.call.scheduled", "calls.call.cancelled")
def planned_call_notice(service, event):
    """A planned lesson or meeting in its chat, with its time and a join button."""
    data = event["data"]
    chat = _call_chat(data)
    if chat is None:
        return
    if event["type"].endswith(".cancelled"):
        text = texts.call_cancelled(data.get("kind", ""), data.get("title") or "")
    else:
        text = texts.call_scheduled(data.get("kind", ""), data.get("title") or "", parse_iso(data["scheduled_at"]),
                                    moved=bool(data.get("previous_scheduled_at")))
    messages.post_notice(service, chat, text, call_id=data.get("call_id"))
