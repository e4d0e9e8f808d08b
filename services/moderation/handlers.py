"""Events moderation consumes: thin adapters around `projections`, `flags`
and `hygiene`."""
from services.common.consumer import EventHandlers

from . import erasure, flags, hygiene, projections

handlers = EventHandlers()


def _filters(service):
    return service.config.filters


@handlers.on("identity.user.registered", "identity.user.updated")
def user_named(service, event):
    data = event["data"]
    projections.person_named(data["user_id"], data.get("display_name") or "")


@handlers.on("identity.teacher.verified", "identity.teacher.unverified")
def teacher_badge(service, event):
    data = event["data"]
    projections.teacher_verified(data["org_id"], data["user_id"], event["type"].endswith(".verified"))


@handlers.on("identity.user.erased")
def user_erased(service, event):
    erasure.erase(service, event["data"]["user_id"])


@handlers.on("orgstructure.member.joined")
def member_joined_school(service, event):
    data = event["data"]
    if data.get("display_name"):
        projections.person_named(data["user_id"], data["display_name"])
    projections.member_roles(data["org_id"], data["user_id"], data["roles"])


@handlers.on("orgstructure.member.roles_changed")
def roles_changed(service, event):
    data = event["data"]
    projections.roles_changed(data["org_id"], data["user_id"], data["roles"])


@handlers.on("orgstructure.member.expelled")
def member_expelled(service, event):
    """2.9: the student and the parents who leave with them."""
    data = event["data"]
    hygiene.left_school(service, data["org_id"], data["user_id"], "expelled")
    for parent_id in data.get("parent_ids") or []:
        hygiene.left_school(service, data["org_id"], parent_id, "child_expelled")


@handlers.on("orgstructure.member.dismissed")
def member_dismissed(service, event):
    """2.9, and a dismissed teacher stops moderating everywhere at once."""
    data = event["data"]
    hygiene.left_school(service, data["org_id"], data["user_id"], "dismissed")


@handlers.on("orgstructure.year.rolled_over")
def year_rolled_over(service, event):
    """2.9 at the end of the school year: the graduates and the parents who
    leave with them."""
    data = event["data"]
    for graduate in data.get("graduates") or []:
        hygiene.left_school(service, data["org_id"], graduate["user_id"], "graduated")
        for parent_id in graduate.get("parent_ids") or []:
            hygiene.left_school(service, data["org_id"], parent_id, "child_graduated")


@handlers.on("messaging.chat.created", "messaging.chat.updated")
def chat_changed(service, event):
    projections.chat_changed(event["data"])


@handlers.on("messaging.chat.member.joined")
def member_joined_chat(service, event):
    data = event["data"]
    projections.member_joined(data["chat_id"], data["user_id"])


@handlers.on("messaging.chat.member.removed")
def member_removed_from_chat(service, event):
    data = event["data"]
    projections.member_removed(data["chat_id"], data["user_id"])


@handlers.on("messaging.chat.moderator.added")
def moderator_added(service, event):
    data = event["data"]
    projections.moderator_added(data["chat_id"], data["user_id"])


@handlers.on("messaging.chat.moderator.removed")
def moderator_removed(service, event):
    data = event["data"]
    projections.moderator_removed(data["chat_id"], data["user_id"])


@handlers.gathered("messaging.message.created")
def messages_created(service, events):
    flags.messages_posted(service, _filters(service), [event["data"] for event in events])


@handlers.on("messaging.message.updated")
def message_updated(service, event):
    flags.message_edited(service, _filters(service), event["data"])


@handlers.on("messaging.message.deleted")
def message_deleted(service, event):
    flags.message_deleted(event["data"])
