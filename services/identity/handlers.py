"""Events identity consumes: orgstructure tells which organisations there are
and who belongs where."""
from services.common.consumer import EventHandlers

from . import erasure, notices, organisations

handlers = EventHandlers()


@handlers.on("orgstructure.org.created", "orgstructure.org.updated")
def organisation(service, event):
    data = event["data"]
    organisations.record_organisation(data["org_id"], data["region_id"])


@handlers.on("orgstructure.member.joined", "orgstructure.member.roles_changed")
def member_roles(service, event):
    data = event["data"]
    organisations.record_membership(data["org_id"], data["user_id"], data["roles"])
    if data.get("application_id"):
        organisations.confirm_by_application(service, data["org_id"], data["user_id"], data.get("approved_by"))


@handlers.on("orgstructure.member.expelled")
def member_expelled(service, event):
    data = event["data"]
    for user_id in [data["user_id"], *data.get("parent_ids", [])]:
        organisations.leave(service, data["org_id"], user_id)
    erasure.unlink_parent(data["org_id"], None, data["user_id"])


@handlers.on("orgstructure.parent.linked")
def parent_linked(service, event):
    data = event["data"]
    erasure.link_parent(data["org_id"], data["parent_id"], data["child_id"])


@handlers.on("orgstructure.parent.unlinked")
def parent_unlinked(service, event):
    data = event["data"]
    erasure.unlink_parent(data["org_id"], data["parent_id"], data["child_id"])


@handlers.on("orgstructure.year.rolled_over")
def year_rolled_over(service, event):
    data = event["data"]
    for graduate in data.get("graduates") or []:
        for user_id in [graduate["user_id"], *graduate.get("parent_ids", [])]:
            organisations.leave(service, data["org_id"], user_id)
        erasure.unlink_parent(data["org_id"], None, graduate["user_id"])


@handlers.on("orgstructure.member.dismissed")
def member_dismissed(service, event):
    data = event["data"]
    organisations.leave(service, data["org_id"], data["user_id"])


@handlers.on("orgstructure.application.approved", "orgstructure.application.rejected")
def application_decided(service, event):
    """The applicant is told of the decision (identity owns the SMS and mail providers)."""
    notices.application_decided(event["data"], approved=event["type"].endswith(".approved"))


@handlers.on("orgstructure.invite.sent")
def invite_sent(service, event):
    notices.invite(event["data"])
