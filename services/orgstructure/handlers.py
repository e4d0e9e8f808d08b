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


@handlers.on("messaging.message.created")
def message_created(service, event):
    data = event["data"]
    org_id = data.get("org_id") or event.get("org_id")
    stats.count_in_chat(org_id, data.get("chat_id"), "messages", event["occurred_at"])
    stats.active(org_id, data.get("author_id"), event["occurred_at"])


@handlers.on("messaging.chat.member.joined")
def chat_member_joined(service, event):
    data = event["data"]
    stats.active(data.get("org_id") or event.get("org_id"), data.get("user_id"), event["occurred_at"])


@handlers.on("calls.participant.joined")
def call_participant(service, event):
    data = event["data"]
    stats.active(data.get("org_id") or event.get("org_id"), data.get("user_id"), data.get("at") or event["occurred_at"])


@handlers.on("calls.call.ended")
def call_ended(service, event):
    data = event["data"]
    if not data.get("started_at"):
        return  # rung and never answered (missed, declined): no call took place
    org_id = data.get("org_id") or event.get("org_id")
    stats.count_in_chat(org_id, data.get("chat_id"), "calls", data["started_at"])
    if data.get("ended_at"):
        minutes = (parse_iso(data["ended_at"]) - parse_iso(data["started_at"])).total_seconds() / 60
        stats.count_in_chat(org_id, data.get("chat_id"), "call_minutes", data["started_at"],
                            amount=max(0, round(minutes)))


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
