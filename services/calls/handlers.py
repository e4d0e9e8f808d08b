"""Events calls consumes: the projections of who is who (orgstructure,
identity), of chats with their members and moderators (messaging) and of
blocks (moderation)."""
from services.common.clock import parse_iso
from services.common.consumer import EventHandlers

from . import erasure
from .models import Block, Chat, ChatMember, Org, OrgMember, Person, VerifiedTeacher

handlers = EventHandlers()


def _upsert(model, key_fields, keys: dict, **values):
    query = model.insert(**keys, **values)
    if values:
        query = query.on_conflict(conflict_target=key_fields,
                                  update={getattr(model, name): value for name, value in values.items()})
    else:
        query = query.on_conflict_ignore()
    query.execute()


@handlers.on("orgstructure.org.created", "orgstructure.org.updated")
def org_changed(service, event):
    data = event["data"]
    _upsert(Org, [Org.org_id], {"org_id": data["org_id"]}, name=data.get("name") or "")


@handlers.on("identity.user.registered", "identity.user.updated")
def user_named(service, event):
    data = event["data"]
    _upsert(Person, [Person.user_id], {"user_id": data["user_id"]}, display_name=data.get("display_name") or "")


@handlers.on("identity.teacher.verified")
def teacher_verified(service, event):
    data = event["data"]
    _upsert(VerifiedTeacher, [VerifiedTeacher.org_id, VerifiedTeacher.user_id],
            {"org_id": data["org_id"], "user_id": data["user_id"]})


@handlers.on("identity.teacher.unverified")
def teacher_unverified(service, event):
    data = event["data"]
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == data["org_id"],
                                   VerifiedTeacher.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.member.joined")
def member_joined(service, event):
    data = event["data"]
    if data.get("display_name"):
        _upsert(Person, [Person.user_id], {"user_id": data["user_id"]}, display_name=data["display_name"])
    _upsert(OrgMember, [OrgMember.org_id, OrgMember.user_id], {"org_id": data["org_id"], "user_id": data["user_id"]},
            roles=",".join(sorted(data["roles"])), unit_id=data.get("unit_id"))


@handlers.on("orgstructure.member.roles_changed")
def roles_changed(service, event):
    data = event["data"]
    OrgMember.update(roles=",".join(sorted(data["roles"]))).where(
        OrgMember.org_id == data["org_id"], OrgMember.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.member.transferred")
def member_transferred(service, event):
    data = event["data"]
    OrgMember.update(unit_id=data["to_unit_id"]).where(
        OrgMember.org_id == data["org_id"], OrgMember.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.member.expelled", "orgstructure.member.dismissed")
def member_left(service, event):
    """Out of the school: no call of it is theirs to join or see any more."""
    data = event["data"]
    OrgMember.delete().where(OrgMember.org_id == data["org_id"], OrgMember.user_id == data["user_id"]).execute()
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == data["org_id"],
                                   VerifiedTeacher.user_id == data["user_id"]).execute()


@handlers.on("orgstructure.year.rolled_over")
def year_rolled_over(service, event):
    """The graduates, and the parents who leave with them, are out of the school."""
    data = event["data"]
    for graduate in data.get("graduates") or []:
        leaving = [graduate["user_id"], *(graduate.get("parent_ids") or [])]
        OrgMember.delete().where(OrgMember.org_id == data["org_id"], OrgMember.user_id.in_(leaving)).execute()


@handlers.on("messaging.chat.created", "messaging.chat.updated")
def chat_changed(service, event):
    data = event["data"]
    _upsert(Chat, [Chat.chat_id], {"chat_id": data["chat_id"]}, org_id=data["org_id"], kind=data["kind"],
            purpose=data.get("purpose"), unit_id=data.get("unit_id"), title=data.get("title") or "",
            moderator_ids=",".join(sorted(data.get("moderator_ids") or [])), archived=bool(data.get("archived")))


@handlers.on("messaging.chat.member.joined")
def chat_member_joined(service, event):
    data = event["data"]
    _upsert(ChatMember, [ChatMember.chat_id, ChatMember.user_id], {"chat_id": data["chat_id"], "user_id": data["user_id"]})


@handlers.on("messaging.chat.member.removed")
def chat_member_removed(service, event):
    data = event["data"]
    ChatMember.delete().where(ChatMember.chat_id == data["chat_id"], ChatMember.user_id == data["user_id"]).execute()


@handlers.on("moderation.member.blocked")
def member_blocked(service, event):
    data = event["data"]
    until = parse_iso(data["until"])
    _upsert(Block, [Block.chat_id, Block.user_id], {"chat_id": data["chat_id"], "user_id": data["user_id"]},
            until=until)


@handlers.on("moderation.member.unblocked")
def member_unblocked(service, event):
    data = event["data"]
    Block.delete().where(Block.chat_id == data["chat_id"], Block.user_id == data["user_id"]).execute()


@handlers.on("identity.user.erased")
def user_erased(service, event):
    erasure.erase(service, event["data"]["user_id"])
