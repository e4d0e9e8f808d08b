"""Events identity consumes: orgstructure tells who belongs where."""
from services.common.bus import EventHandlers

from . import organisations

handlers = EventHandlers()


@handlers.on("orgstructure.member.joined", "orgstructure.member.roles_changed")
def member_roles(event):
    data = event["data"]
    organisations.record_membership(data["org_id"], data["user_id"], data["roles"])


@handlers.on("orgstructure.member.expelled")
def member_expelled(event):
    data = event["data"]
    for user_id in [data["user_id"], *data.get("parent_ids", [])]:
        organisations.leave(handlers.outbox, data["org_id"], user_id)


@handlers.on("orgstructure.member.dismissed")
def member_dismissed(event):
    data = event["data"]
    organisations.leave(handlers.outbox, data["org_id"], data["user_id"])
