"""Events messaging consumes: thin adapters around `official`, `chats` and
`messages`."""
from services.common.bus import EventHandlers
from services.common.clock import parse_iso

from . import chats, messages, official, texts
from .models import Block, Chat, Org, Person, Unit, VerifiedTeacher

handlers = EventHandlers()


def _upsert(model, key_field, key, **values):
    model.insert(**{key_field.name: key}, **values).on_conflict(
        conflict_target=[key_field], update={getattr(model, name): value for name, value in values.items()}).execute()


@handlers.on("identity.user.registered", "identity.user.updated")
def user_named(event):
    data = event["data"]
    _upsert(Person, Person.user_id, data["user_id"], display_name=data.get("display_name") or "")


@handlers.on("identity.teacher.verified")
def teacher_verified(event):
    data = event["data"]
    VerifiedTeacher.insert(org_id=data["org_id"], user_id=data["user_id"]).on_conflict_ignore().execute()


@handlers.on("identity.teacher.unverified")
def teacher_unverified(event):
    data = event["data"]
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == data["org_id"],
                                   VerifiedTeacher.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.org.created", "orgstructure.org.updated")
def org_changed(event):
    data = event["data"]
    _upsert(Org, Org.org_id, data["org_id"], name=data.get("name") or "",
            journal_url=data.get("journal_url") or "", diary_url=data.get("diary_url") or "")
    official.ensure_org_chats(handlers.outbox, data["org_id"])


@handlers.on("orgstructure.unit.created", "orgstructure.unit.updated")
def unit_changed(event):
    data = event["data"]
    _upsert(Unit, Unit.unit_id, data["unit_id"], org_id=data["org_id"], kind=data["kind"],
            name=data.get("name") or "")
    official.ensure_class_chats(handlers.outbox, Unit.get_by_id(data["unit_id"]))


@handlers.on("orgstructure.unit.archived")
def unit_archived(event):
    data = event["data"]
    _upsert(Unit, Unit.unit_id, data["unit_id"], org_id=data["org_id"], kind=data["kind"],
            name=data.get("name") or "", archived=True)
    official.archive_class_chats(handlers.outbox, Unit.get_by_id(data["unit_id"]))


@handlers.on("orgstructure.unit.head_assigned")
def head_assigned(event):
    data = event["data"]
    official.head_assigned(handlers.outbox, data["org_id"], data["unit_id"], data.get("user_id"),
                           data.get("previous_user_id"))


@handlers.on("orgstructure.member.joined")
def member_joined(event):
    data = event["data"]
    if data.get("display_name"):
        _upsert(Person, Person.user_id, data["user_id"], display_name=data["display_name"])
    official.member_joined(handlers.outbox, data["org_id"], data["user_id"], data["roles"], data.get("unit_id"))


@handlers.on("orgstructure.member.roles_changed")
def roles_changed(event):
    data = event["data"]
    official.roles_changed(handlers.outbox, data["org_id"], data["user_id"], data["roles"])


@handlers.on("orgstructure.member.transferred")
def member_transferred(event):
    data = event["data"]
    official.transferred(handlers.outbox, data["org_id"], data["user_id"], data["from_unit_id"],
                         data["to_unit_id"], data.get("parent_ids") or [])


@handlers.on("orgstructure.member.expelled")
def member_expelled(event):
    data = event["data"]
    official.expelled(handlers.outbox, data["org_id"], data["user_id"], data["unit_id"],
                      data.get("parent_ids") or [], data.get("staying_parent_ids") or [])


@handlers.on("orgstructure.member.dismissed")
def member_dismissed(event):
    data = event["data"]
    official.leave_organisation(handlers.outbox, data["org_id"], data["user_id"], "dismissed")


@handlers.on("orgstructure.parent.linked")
def parent_linked(event):
    data = event["data"]
    official.parent_linked(handlers.outbox, data["org_id"], data["parent_id"], data["child_id"],
                           data.get("unit_id"))


@handlers.on("orgstructure.parent.unlinked")
def parent_unlinked(event):
    data = event["data"]
    official.parent_unlinked(handlers.outbox, data["org_id"], data["parent_id"], data["child_id"])


@handlers.on("moderation.member.blocked")
def member_blocked(event):
    data = event["data"]
    until = parse_iso(data["until"])
    Block.insert(chat_id=data["chat_id"], user_id=data["user_id"], until=until).on_conflict(
        conflict_target=[Block.chat_id, Block.user_id], update={Block.until: until}).execute()


@handlers.on("moderation.member.unblocked")
def member_unblocked(event):
    data = event["data"]
    Block.delete().where(Block.chat_id == data["chat_id"], Block.user_id == data["user_id"]).execute()


@handlers.on("moderation.message.removed")
def message_removed(event):
    data = event["data"]
    messages.remove_by_moderation(handlers.outbox, data["message_id"], data.get("rule"), data.get("by"))


@handlers.on("moderation.violation.recorded")
def violation_recorded(event):
    """Rule 2.5: when rules are broken, everyone is reminded of them."""
    chat = Chat.get_or_none(Chat.id == event["data"]["chat_id"])
    if chat is not None and chat.archived_at is None:
        messages.post_notice(chat, texts.rules_reminder(chats.rules_of(chat)))


@handlers.on("calls.call.started", "calls.call.ended")
def call_notice(event):
    data = event["data"]
    chat = Chat.get_or_none(Chat.id == data.get("chat_id")) if data.get("chat_id") else None
    if chat is None or chat.archived_at is not None:
        return
    if event["type"].endswith(".started"):
        messages.post_notice(chat, texts.call_started(data.get("kind", "")))
    elif data.get("started_at") and data.get("ended_at"):
        minutes = (parse_iso(data["ended_at"]) - parse_iso(data["started_at"])).total_seconds() / 60
        messages.post_notice(chat, texts.call_ended(max(0, round(minutes))))
