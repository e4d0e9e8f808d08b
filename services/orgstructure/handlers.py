"""Events orgstructure consumes."""
from services.common.bus import EventHandlers
from services.common.clock import parse_iso

from . import registration, stats
from .models import KnownUser, Member

handlers = EventHandlers()


@handlers.on("identity.user.registered")
def user_registered(event):
    data = event["data"]
    registration.user_registered(handlers.outbox, data["user_id"], data.get("display_name", ""),
                                 data.get("phone"))


@handlers.on("identity.user.updated")
def user_updated(event):
    data = event["data"]
    KnownUser.insert(user_id=data["user_id"], display_name=data["display_name"]).on_conflict(
        conflict_target=[KnownUser.user_id], update={KnownUser.display_name: data["display_name"]}).execute()
    if data["display_name"]:
        Member.update(display_name=data["display_name"]).where(Member.user_id == data["user_id"]).execute()


@handlers.on("identity.teacher.verified", "identity.teacher.unverified")
def teacher_badge(event):
    data = event["data"]
    (Member.update(teacher_verified=event["type"].endswith(".verified"))
     .where(Member.organisation == data["org_id"], Member.user_id == data["user_id"]).execute())


@handlers.on("messaging.message.created")
def message_created(event):
    stats.count(event["data"].get("org_id") or event.get("org_id"), "messages", event["occurred_at"])


@handlers.on("calls.call.ended")
def call_ended(event):
    data = event["data"]
    org_id = data.get("org_id") or event.get("org_id")
    stats.count(org_id, "calls", data.get("started_at") or event["occurred_at"])
    if data.get("started_at") and data.get("ended_at"):
        minutes = (parse_iso(data["ended_at"]) - parse_iso(data["started_at"])).total_seconds() / 60
        stats.count(org_id, "call_minutes", data["started_at"], amount=max(0, round(minutes)))
