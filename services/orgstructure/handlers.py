"""Events orgstructure consumes."""
from services.common.consumer import EventHandlers
from services.common.clock import parse_iso

from . import erasure, registration, stats
from .models import KnownUser, Member

handlers = EventHandlers()


@handlers.on("identity.user.registered")
def user_registered(service, event):
    data = event["data"]
    registration.user_registered(service, data["user_id"], data.get("display_name", ""),
                                 data.get("phone"))


@handlers.on("identity.user.updated")
def user_updated(service, event):
    data = event["data"]
    KnownUser.insert(user_id=data["user_id"], display_name=data["display_name"]).on_conflict(
        conflict_target=[KnownUser.user_id], update={KnownUser.display_name: data["display_name"]}).execute()
    if data["display_name"]:
        Member.update(display_name=data["display_name"]).where(Member.user_id == data["user_id"]).execute()


@handlers.on("identity.teacher.verified", "identity.teacher.unverified")
def teacher_badge(service, event):
    data = event["data"]
    (Member.update(teacher_verified=event["type"].endswith(".verified"))
     .where(Member.organisation == data["org_id"], Member.user_id == data["user_id"]).execute())


@handlers.on("messaging.chat.created", "messaging.chat.updated")
def chat_changed(service, event):
    stats.chat_changed(event["data"])


@handlers.gathered("messaging.message.created", "messaging.chat.member.joined", "calls.participant.joined",
                   "calls.call.ended")
def counted(service, events):
    stats.count(events)


@handlers.on("identity.user.erasure_requested")
def erasure_requested(service, event):
    data = event["data"]
    erasure.requested(data["user_id"], parse_iso(data["erase_at"]))


@handlers.on("identity.user.erasure_cancelled")
def erasure_cancelled(service, event):
    erasure.cancelled(event["data"]["user_id"])


@handlers.on("identity.user.erased")
def user_erased(service, event):
    erasure.erase(service, event["data"]["user_id"])
