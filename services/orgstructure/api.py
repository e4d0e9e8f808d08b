"""orgstructure's HTTP endpoints: thin adapters around the domain modules."""
from __future__ import annotations

from datetime import timedelta

from flask import Response, request
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.clock import utcnow
from services.common.errors import ErrorSchema, Unprocessable
from services.common.filetypes import disposition
from services.common.pagination import PageQuery, paginate
from services.common.phones import normalise_phone
from services.common.requests import field_error, service

from . import (erasure, invites, membership, registration, roles, roster, schemas, school_year, stats, structure,
               teaching)
from .access import Access, require_known
from .models import Region

blp = Blueprint("orgstructure", __name__,
                description="Regions, registration, organisations, units, members, invites, movement")
BEARER = [{"bearerAuth": []}]


def access(org_id: str) -> Access:
    """The caller's standing in the organisation; an archived one only reads."""
    found = Access.to(org_id, current_user())
    if request.method != "GET":
        found.require_open()
    return found


@blp.route("/regions", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.RegionPage)
def regions(query):
    """Regions served by the operator."""
    return paginate(Region.select().order_by(Region.name), query["limit"], query["cursor"])


@blp.route("/support", methods=["GET"])
@blp.response(200, schemas.Support)
def support():
    """Where to turn for help: the operator's support contact and the link to
    the instructions (`SUPPORT_EMAIL`, `SUPPORT_PHONE`, `SUPPORT_URL`). Public."""
    return service().config.support.view()


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
    return registration.submit(service(), user, body["region_id"], body["org"], body["admin"],
                               body["document_file_id"])


@blp.route("/me/applications", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ApplicationPage)
@blp.doc(security=BEARER)
def my_applications(query):
    """The applications I filed, newest first, with their status and the
    rejection reason. The decision is also sent by SMS (and by e-mail when the
    application gives one) to me and to the admin it names."""
    return paginate(registration.mine(current_user()), query["limit"], query["cursor"])


@blp.route("/applications/<application_id>/document", methods=["POST"])
@blp.arguments(schemas.DocumentUpload(), location="files")
@blp.response(201, schemas.Document)
@blp.alt_response(404, schema=ErrorSchema, description="No such application of the caller's.")
@blp.alt_response(409, schema=ErrorSchema, description="`already_decided`: the operator decided it already.")
@blp.alt_response(413, schema=ErrorSchema, description="`file_too_large`: more than 10 MB.")
@blp.alt_response(415, schema=ErrorSchema, description="Not a PDF, JPEG or PNG, or the content does not match "
                                                        "the name.")
@blp.doc(security=BEARER)
def attach_document(files, application_id):
    """The applicant attaches the director's order appointing the admin
    (multipart field `file`) while the application waits; a new one replaces it."""
    upload = files["file"]
    return registration.attach_document(current_user(), application_id, upload.filename or "", upload.stream)


@blp.route("/applications/<application_id>/document", methods=["GET"])
@blp.response(200, content_type="application/octet-stream")
@blp.alt_response(404, schema=ErrorSchema, description="No such application for the caller (only its applicant "
                                                        "and the operator of its region), or no document.")
@blp.doc(security=BEARER)
def open_document(application_id):
    """The attached appointment order, as a download: for the operator of the
    application's region and for the applicant, nobody else."""
    found = registration.document(current_user(), application_id)
    return Response(bytes(found.content), mimetype=found.content_type, headers={
        "Content-Disposition": disposition(found.name), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


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
    org = registration.approve(service(), current_user(), application_id)
    return {"org_id": org.id}


@blp.route("/applications/<application_id>/reject", methods=["POST"])
@blp.arguments(schemas.Rejection())
@blp.response(200, schemas.Application)
@blp.doc(security=BEARER)
def reject_application(body, application_id):
    return registration.reject(service(), current_user(), application_id, body["reason"].strip())


@blp.route("/me/orgs", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.MyOrgPage)
@blp.doc(security=BEARER)
def my_orgs(query):
    """The organisations I belong to, with my roles and class."""
    user_id = current_user().id
    mine = membership.my_organisations(user_id)
    if not mine:
        require_known(user_id)
        mine = membership.my_organisations(user_id)  # what came with hearing of the user
    return paginate(mine, query["limit"], query["cursor"])


@blp.route("/me/export/orgstructure", methods=["GET"])
@blp.response(200, schemas.OrgstructureExport)
@blp.doc(security=BEARER)
def export_mine():
    """orgstructure's part of `GET /me/export`: schools, roles, classes,
    children, applications and join requests."""
    return erasure.export(current_user().id)


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
    return structure.update_organisation(service(), access(org_id), body)


@blp.route("/orgs/<org_id>/archive", methods=["POST"])
@blp.response(200, schemas.Organisation)
@blp.alt_response(403, schema=ErrorSchema, description="A member of the organisation, not the operator.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation in the operator's regions.")
@blp.alt_response(409, schema=ErrorSchema, description="`org_archived`: archived already.")
@blp.doc(security=BEARER)
def archive_org(org_id):
    """The operator of the region archives an organisation that left the
    platform: everything in it stays readable and nothing changes any more
    (every change answers 409 `org_archived`); its chats are archived too."""
    return structure.archive_organisation(service(), access(org_id))


@blp.route("/orgs/<org_id>/rollover", methods=["POST"])
@blp.arguments(schemas.RolloverRequest())
@blp.response(200, schemas.Rollover)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation for the caller.")
@blp.alt_response(409, schema=ErrorSchema, description="`already_rolled_over` (this academic year), "
                                                        "`org_archived`, `plan_changed` (the plan shown is not "
                                                        "today's: `details.plan`), `rollover_conflicts` (two classes "
                                                        "would share a name).")
@blp.doc(security=BEARER)
def rollover(body, org_id):
    """The school year (admins): every class and group up a grade (5А → 6А) in
    the new academic year, the graduating ones (`final_grade`) let go with
    their students, and the parents who have no other child here; their
    chats archived, the promoted classes' chats renamed. `dry_run` (the
    default) answers the plan only; confirming it carries it out at once,
    once per academic year, exactly the plan shown when `plan_id` is given."""
    return school_year.rollover(service(), access(org_id), dry_run=body["dry_run"],
                                final_grade=body["final_grade"], academic_year=body["academic_year"],
                                plan_id=body["plan_id"])


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
    return structure.create_unit(service(), access(org_id), body["name"], body["kind"], body["grade"],
                                 body["academic_year"])


@blp.route("/orgs/<org_id>/units/<unit_id>", methods=["PATCH"])
@blp.arguments(schemas.UnitUpdate())
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def update_unit(body, org_id, unit_id):
    return structure.update_unit(service(), access(org_id), unit_id, body)


@blp.route("/orgs/<org_id>/units/<unit_id>/archive", methods=["POST"])
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def archive_unit(org_id, unit_id):
    return structure.archive_unit(service(), access(org_id), unit_id)


@blp.route("/orgs/<org_id>/units/<unit_id>/head", methods=["PUT"])
@blp.arguments(schemas.UserRef())
@blp.response(200, schemas.Unit)
@blp.doc(security=BEARER)
def assign_head(body, org_id, unit_id):
    """Attach a class head (a teacher of the organisation)."""
    return structure.assign_head(service(), access(org_id), unit_id, body["user_id"])


@blp.route("/orgs/<org_id>/units/<unit_id>/teachers", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.TeacherPage)
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation or unit for the caller.")
@blp.doc(security=BEARER)
def list_teachers(query, org_id, unit_id):
    """The subject teachers of a class or group (every member of the school)."""
    return paginate(teaching.teachers(access(org_id), unit_id), query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/units/<unit_id>/teachers", methods=["POST"])
@blp.arguments(schemas.TeacherAssignment())
@blp.response(201, schemas.Teacher, description="Assigned now.")
@blp.alt_response(200, schema=schemas.Teacher, description="Assigned already; the subject is the one given now.")
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation or unit for the caller.")
@blp.alt_response(409, schema=ErrorSchema, description="`unit_not_editable`: the staff room or an archived unit.")
@blp.alt_response(422, schema=ErrorSchema, description="`not_a_teacher`: the person is not a teacher, deputy or "
                                                        "director of this organisation.")
@blp.doc(security=BEARER)
def assign_teacher(body, org_id, unit_id):
    """Attach a subject teacher to a class or group (admins); the class's
    teachers' chat invites them."""
    assigned, created = teaching.assign(service(), access(org_id), unit_id, body["user_id"], body["subject"].strip())
    return assigned, 201 if created else 200


@blp.route("/orgs/<org_id>/units/<unit_id>/teachers/<user_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation or unit, or the person does not "
                                                        "teach it.")
@blp.doc(security=BEARER)
def unassign_teacher(org_id, unit_id, user_id):
    """The teacher no longer teaches this class or group (admins); they leave
    its teachers' chat."""
    teaching.unassign(service(), access(org_id), unit_id, user_id)


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
    roles.grant(service(), access(org_id), body["user_id"], "admin", reason="appointed")


@blp.route("/orgs/<org_id>/members/<user_id>/roles", methods=["GET"])
@blp.response(200, schemas.RoleHistory)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation, or nobody by this id was ever a "
                                                        "member of it.")
@blp.doc(security=BEARER)
def role_history(org_id, user_id):
    """A member's roles and the history of their changes (admins), also of a former member."""
    return roles.history(access(org_id), user_id)


@blp.route("/orgs/<org_id>/members/<user_id>/roles", methods=["POST"])
@blp.arguments(schemas.RoleGrant())
@blp.response(200, schemas.Member)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation or member.")
@blp.alt_response(422, schema=ErrorSchema, description="`not_staff`: roles of the staff go to employees; "
                                                        "`not_a_teacher`: admins come from the teachers.")
@blp.doc(security=BEARER)
def grant_role(body, org_id, user_id):
    """Give an employee another role of the staff (admins): admin, director,
    deputy or teacher. Holding it already changes nothing."""
    org_access = access(org_id)
    return membership.view_of(roles.grant(service(), org_access, user_id, body["role"]))


# Only the staff's roles are taken back here (the path says which): students and
# parents leave by expulsion and their children's links.
@blp.route("/orgs/<org_id>/members/<user_id>/roles/<any(admin,director,deputy,teacher):role>", methods=["DELETE"])
@blp.response(200, schemas.Member)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation or member.")
@blp.alt_response(409, schema=ErrorSchema, description="`last_admin`: the school's only admin keeps the rights "
                                                        "until another is appointed; `role_not_held`.")
@blp.alt_response(422, schema=ErrorSchema, description="`last_role`: the member's only role (dismiss instead).")
@blp.doc(security=BEARER)
def revoke_role(org_id, user_id, role):
    """Take a role of the staff back from an employee (admins): admin rights,
    director, deputy or teacher. Someone who no longer teaches loses their
    classes and teaching assignments."""
    return membership.view_of(roles.revoke(service(), access(org_id), user_id, role))


@blp.route("/orgs/<org_id>/invites", methods=["POST"])
@blp.arguments(schemas.InviteCreate())
@blp.response(201, schemas.InviteCreated)
@blp.alt_response(403, schema=ErrorSchema)
@blp.doc(security=BEARER)
def create_invite(body, org_id):
    """A role-bound invite link (admins; class heads for students and parents
    of their class; staff whose teacher status is confirmed). With `send_to`,
    the platform sends the link by SMS or e-mail."""
    send_to = None
    if body["send_to"]:
        if body["send_to"].get("phone"):
            try:
                send_to = ("sms", normalise_phone(body["send_to"]["phone"]))
            except ValueError:
                raise Unprocessable("Some fields are not valid.", details={"fields": {"send_to": {
                    "phone": ["Not a valid mobile phone number."]}}}) from None
        else:
            send_to = ("email", body["send_to"]["email"].strip().lower())
    invite, token = invites.create(
        service(), access(org_id), role=body["role"], unit_id=body["unit_id"], child_user_id=body["child_user_id"],
        expires_at=body["expires_at"], max_uses=body["max_uses"],
        requires_approval=body["requires_approval"], full_name=body["full_name"].strip(), send_to=send_to)
    return {"id": invite.id, "token": token, "url": service().config.link(f"join/{token}"), "expires_at": invite.expires_at,
            "sent_to": invites.sent_to(invite)}


@blp.route("/orgs/<org_id>/invites", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.InvitePage)
@blp.doc(security=BEARER)
def list_invites(query, org_id):
    return paginate(invites.listing(access(org_id)), query["limit"], query["cursor"])


@blp.route("/orgs/<org_id>/invites/<string(length=32):invite_id>", methods=["DELETE"])
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
    """Join with the invite's role (`joined`), or ask to (`pending`): when the
    invite requires an admin's approval, and always for someone who left
    this organisation by expulsion or dismissal."""
    return invites.accept(service(), current_user(), token)


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
    return invites.decide(service(), access(org_id), request_id, approve=True)


@blp.route("/orgs/<org_id>/join-requests/<request_id>/reject", methods=["POST"])
@blp.response(200, schemas.JoinRequest)
@blp.doc(security=BEARER)
def reject_join_request(org_id, request_id):
    return invites.decide(service(), access(org_id), request_id, approve=False)


@blp.route("/orgs/<org_id>/members/<user_id>/transfer", methods=["POST"])
@blp.arguments(schemas.Transfer())
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def transfer(body, org_id, user_id):
    """Move a student to another class."""
    placement = membership.transfer(service(), access(org_id), user_id, body["unit_id"])
    return {"org_id": org_id, "user_id": user_id, "unit_id": placement.unit_id}


@blp.route("/orgs/<org_id>/members/<user_id>/expel", methods=["POST"])
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def expel(org_id, user_id):
    """A student leaves; with them, every parent who has no other child here."""
    return membership.expel(service(), access(org_id), user_id)


@blp.route("/orgs/<org_id>/members/<user_id>/dismiss", methods=["POST"])
@blp.response(200, schemas.Movement)
@blp.doc(security=BEARER)
def dismiss(org_id, user_id):
    """An employee leaves."""
    membership.dismiss(service(), access(org_id), user_id)
    return {"org_id": org_id, "user_id": user_id, "unit_id": None}


@blp.route("/orgs/<org_id>/members/<user_id>/readmit", methods=["POST"])
@blp.arguments(schemas.Readmission())
@blp.response(200, schemas.Member)
@blp.alt_response(403, schema=ErrorSchema, description="Not an administrator of this organisation.")
@blp.alt_response(404, schema=ErrorSchema, description="No such organisation, former member or unit.")
@blp.alt_response(409, schema=ErrorSchema, description="`already_member`: the person is a member now.")
@blp.alt_response(422, schema=ErrorSchema, description="The role's class or child is missing or not valid.")
@blp.doc(security=BEARER)
def readmit(body, org_id, user_id):
    """Take back someone who left by expulsion or dismissal (admins), with the
    role and class they have from now on. Otherwise such a person comes back
    only through a join request: accepting any invite of the organisation
    answers `pending`."""
    org_access = access(org_id)
    member = invites.readmit(service(), org_access, user_id, body["role"], body["unit_id"], body["child_user_id"])
    return membership.view_of(member)


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
