"""orgstructure's HTTP endpoints: thin adapters around the domain modules."""
from __future__ import annotations

from datetime import timedelta

from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.clock import utcnow
from services.common.errors import ErrorSchema, Unprocessable
from services.common.pagination import PageQuery, paginate
from services.common.phones import normalise_phone
from services.common.requests import field_error, public_url, runtime

from . import invites, membership, registration, roster, schemas, stats, structure
from .access import Access
from .models import Region

blp = Blueprint("orgstructure", __name__,
                description="Regions, registration, organisations, units, members, invites, movement")
BEARER = [{"bearerAuth": []}]


def outbox():
    return runtime().outbox


def access(org_id: str) -> Access:
    return Access.to(org_id, current_user())


@blp.route("/regions", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.RegionPage)
def regions(query):
    """Regions served by the operator."""
    return paginate(Region.select().order_by(Region.name), query["limit"], query["cursor"])


@blp.route("/applications", methods=["POST"])
@blp.arguments(schemas.ApplicationCreate())
@blp.response(201, schemas.Application)
@blp.doc(security=BEARER)
def submit_application(body):
    """An organisation asks to join the platform."""
    user = current_user()
    try:
        body["admin"]["phone"] = normalise_phone(body["admin"]["phone"])
    except ValueError:
        raise Unprocessable("Some fields are not valid.",
                            details={"fields": {"admin": {"phone": ["Not a valid mobile phone number."]}}}) from None
    return registration.submit(outbox(), user, body["region_id"], body["org"], body["admin"],
                               body["document_file_id"])


@blp.route("/applications", methods=["GET"])
@blp.arguments(schemas.ApplicationQuery(), location="query")
@blp.response(200, schemas.ApplicationPage)
@blp.doc(security=BEARER)
def list_applications(query):
    """The operator's queue of applications."""
    return paginate(registration.applications(current_user(), query.get("status")), query["limit"],
                    query["cursor"])


@blp.route("/applications/<application_id>/approve", methods=["POST"])
@blp.response(200, schemas.Approved)
@blp.doc(security=BEARER)
def approve_application(application_id):
    org = registration.approve(outbox(), current_user(), application_id)
    return {"org_id": org.id}


@blp.route("/applications/<application_id>/reject", methods=["POST"])
@blp.arguments(schemas.Rejection())
@blp.response(200, schemas.Application)
@blp.doc(security=BEARER)
def reject_application(body, application_id):
    return registration.reject(outbox(), current_user(), application_id, body["reason"].strip())


@blp.route("/me/orgs", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.MyOrgPage)
@blp.doc(security=BEARER)
def my_orgs(query):
    """The organisations I belong to, with my roles and class."""
    return paginate(membership.my_organisations(current_user().id), query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>", methods=["GET"])
@blp.response(200, schemas.Organisation)
@blp.doc(security=BEARER)
def get_org(org_id):
    return access(org_id).org


@blp.route("/orgs/<org_id>", methods=["PATCH"])
@blp.arguments(schemas.OrganisationUpdate())
@blp.response(200, schemas.Organisation)
@blp.doc(security=BEARER)
def update_org(body, org_id):
    """Name, address and the links to the electronic journal and diary."""
    return structure.update_organisation(outbox(), access(org_id), body)


@blp.route("/orgs/<org_id>/units", methods=["GET"])
@blp.arguments(schemas.UnitQuery(), location="query")
@blp.response(200, schemas.UnitPage)
@blp.doc(security=BEARER)
def list_units(query, org_id):
    units = structure.units(access(org_id), include_archived=query["archived"])
    return paginate(units, query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/units", methods=["POST"])
@blp.arguments(schemas.UnitCreate())
@blp.response(201, schemas.Unit)
@blp.doc(security=BEARER)
def create_unit(body, org_id):
    return structure.create_unit(outbox(), access(org_id), body["name"], body["kind"], body["grade"],
                                 body["academic_year"])


@blp.route("/orgs/<org_id>/units/<unit_id>", methods=["PATCH"])
@blp.arguments(schemas.UnitUpdate())
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def update_unit(body, org_id, unit_id):
    return structure.update_unit(outbox(), access(org_id), unit_id, body)


@blp.route("/orgs/<org_id>/units/<unit_id>/archive", methods=["POST"])
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def archive_unit(org_id, unit_id):
    return structure.archive_unit(outbox(), access(org_id), unit_id)


@blp.route("/orgs/<org_id>/units/<unit_id>/head", methods=["PUT"])
@blp.arguments(schemas.UserRef())
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def assign_head(body, org_id, unit_id):
    """Attach a class head (a teacher of the organisation)."""
    return structure.assign_head(outbox(), access(org_id), unit_id, body["user_id"])


@blp.route("/orgs/<org_id>/members", methods=["GET"])
@blp.arguments(schemas.MemberQuery(), location="query")
@blp.response(200, schemas.MemberPage)
@blp.doc(security=BEARER)
def list_members(query, org_id):
    found = membership.members(access(org_id), query.get("role"), query.get("unit_id"))
    return paginate(found, query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/admins", methods=["POST"])
@blp.arguments(schemas.UserRef())
@blp.response(204)
@blp.doc(security=BEARER)
def appoint_admin(body, org_id):
    """Appoint an additional admin from the organisation's teachers."""
    structure.appoint_admin(outbox(), access(org_id), body["user_id"])


@blp.route("/orgs/<org_id>/invites", methods=["POST"])
@blp.arguments(schemas.InviteCreate())
@blp.response(201, schemas.InviteCreated)
@blp.alt_response(403, schema=ErrorSchema)
@blp.doc(security=BEARER)
def create_invite(body, org_id):
    """A role-bound invite link (admins; class heads for students and parents of their class)."""
    invite, token = invites.create(
        access(org_id), role=body["role"], unit_id=body["unit_id"], child_user_id=body["child_user_id"],
        expires_at=body["expires_at"], max_uses=body["max_uses"],
        requires_approval=body["requires_approval"], full_name=body["full_name"].strip())
    return {"id": invite.id, "token": token, "url": public_url(f"join/{token}"), "expires_at": invite.expires_at}


@blp.route("/orgs/<org_id>/invites", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.InvitePage)
@blp.doc(security=BEARER)
def list_invites(query, org_id):
    return paginate(invites.listing(access(org_id)), query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/invites/<invite_id>", methods=["DELETE"])
@blp.response(200, schemas.Invite)
@blp.doc(security=BEARER)
def revoke_invite(org_id, invite_id):
    return invites.revoke(access(org_id), invite_id)


@blp.route("/orgs/<org_id>/invites/revoke-unused", methods=["POST"])
@blp.response(200, schemas.Revoked)
@blp.doc(security=BEARER)
def revoke_unused_invites(org_id):
    """Revoke every invite that nobody has used."""
    return {"revoked": invites.revoke_unused(access(org_id))}


@blp.route("/invites/<token>", methods=["GET"])
@blp.response(200, schemas.InvitePreview)
def preview_invite(token):
    """What an invite leads to; anyone holding the token may look."""
    return invites.preview(token)


@blp.route("/invites/<token>/accept", methods=["POST"])
@blp.response(200, schemas.Accepted)
@blp.doc(security=BEARER)
def accept_invite(token):
    return invites.accept(outbox(), current_user(), token)


@blp.route("/orgs/<org_id>/join-requests", methods=["GET"])
@blp.arguments(schemas.JoinRequestQuery(), location="query")
@blp.response(200, schemas.JoinRequestPage)
@blp.doc(security=BEARER)
def list_join_requests(query, org_id):
    return paginate(invites.join_requests(access(org_id), query.get("status")), query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/join-requests/<request_id>/approve", methods=["POST"])
@blp.response(200, schemas.JoinRequest)
@blp.doc(security=BEARER)
def approve_join_request(org_id, request_id):
    return invites.decide(outbox(), access(org_id), request_id, approve=True)


@blp.route("/orgs/<org_id>/join-requests/<request_id>/reject", methods=["POST"])
@blp.response(200, schemas.JoinRequest)
@blp.doc(security=BEARER)
def reject_join_request(org_id, request_id):
    return invites.decide(outbox(), access(org_id), request_id, approve=False)


@blp.route("/orgs/<org_id>/members/<user_id>/transfer", methods=["POST"])
@blp.arguments(schemas.Transfer())
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def transfer(body, org_id, user_id):
    """Move a student to another class."""
    placement = membership.transfer(outbox(), access(org_id), user_id, body["unit_id"])
    return {"org_id": org_id, "user_id": user_id, "unit_id": placement.unit_id}


@blp.route("/orgs/<org_id>/members/<user_id>/expel", methods=["POST"])
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def expel(org_id, user_id):
    """A student leaves; with them, every parent who has no other child here."""
    return membership.expel(outbox(), access(org_id), user_id)


@blp.route("/orgs/<org_id>/members/<user_id>/dismiss", methods=["POST"])
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def dismiss(org_id, user_id):
    """An employee leaves."""
    membership.dismiss(outbox(), access(org_id), user_id)
    return {"org_id": org_id, "user_id": user_id, "unit_id": None}


@blp.route("/orgs/<org_id>/stats", methods=["GET"])
@blp.arguments(schemas.StatsQuery(), location="query")
@blp.response(200, schemas.Stats)
@blp.doc(security=BEARER)
def org_stats(query, org_id):
    """Usage by week: joins, messages, calls, call minutes; members by role and unit."""
    end = query.get("to") or utcnow().date()
    start = query.get("from_") or end - timedelta(weeks=8)
    if start > end or (end - start).days > 366:
        raise field_error("from", "The period runs forward and spans at most a year.")
    return stats.report(access(org_id), start, end)


@blp.route("/orgs/<org_id>/roster-imports", methods=["POST"])
@blp.arguments(schemas.RosterUpload(), location="files")
@blp.response(202, schemas.RosterImport)
@blp.doc(security=BEARER)
def upload_roster(files, org_id):
    """A CSV of classes, students and parents; the import runs as a job."""
    upload = files["file"]
    content = upload.read(roster.MAX_BYTES + 1)
    return roster.submit(access(org_id), content)


@blp.route("/orgs/<org_id>/roster-imports/<import_id>", methods=["GET"])
@blp.response(200, schemas.RosterImport)
@blp.doc(security=BEARER)
def roster_status(org_id, import_id):
    return roster.status(access(org_id), import_id)
