"""Registration of an organisation: the future admin applies, the operator of
the region approves or rejects, and the phone in the application holds admin
rights as soon as it signs in, whether before or after the approval."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.bus import Outbox
from services.common.clock import utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict, Forbidden, NotFound

from . import events, membership, structure
from .models import Application, KnownUser, Organisation, PendingAdmin, Region, db

ORG_KINDS = ("school", "college", "additional")


def create_region(name: str) -> Region:
    region, _ = Region.get_or_create(name=name.strip())
    return region


def submit(outbox: Outbox, applicant: Principal, region_id: str, org: dict, admin: dict,
           document_file_id: str | None) -> Application:
    if Region.get_or_none(Region.id == region_id) is None:
        raise NotFound("No such region.", details={"fields": {"region_id": ["Unknown region."]}})
    with db.atomic():
        application = Application.create(
            applicant_id=applicant.id, region=region_id, org_name=org["name"].strip(),
            org_kind=org["kind"], admin_full_name=admin["full_name"].strip(),
            admin_phone=admin["phone"], document_file_id=document_file_id)
        outbox.add(events.APPLICATION_SUBMITTED, {"application_id": application.id,
                                                  "region_id": region_id, "org_id": None})
    return application


def _operated(operator: Principal, application_id: str) -> Application:
    application = Application.get_or_none(Application.id == application_id)
    if application is None or not operator.operates_region(application.region_id):
        raise NotFound("No such application.")
    return application


def require_operator(user: Principal) -> None:
    if not user.operator:
        raise Forbidden("Only the operator may do this.")


def applications(operator: Principal, status: str | None):
    require_operator(operator)
    query = Application.select().order_by(Application.created_at.desc())
    if operator.operator_regions:
        query = query.where(Application.region.in_(operator.operator_regions))
    if status:
        query = query.where(Application.status == status)
    return query


def approve(outbox: Outbox, operator: Principal, application_id: str) -> Organisation:
    require_operator(operator)
    with db.atomic():
        application = _operated(operator, application_id)
        if application.status != "pending":
            raise Conflict(f"The application is already {application.status}.", code="already_decided")
        org = structure.create_organisation(outbox, application.region_id, application.org_name,
                                            application.org_kind)
        application.status, application.organisation = "approved", org
        application.decided_by, application.decided_at = operator.id, utcnow()
        application.save()
        outbox.add(events.APPLICATION_APPROVED, {"application_id": application.id,
                                                 "region_id": application.region_id, "org_id": org.id},
                   org_id=org.id)
        lock_for_transaction(db, f"admin-phone:{application.admin_phone}")
        grant = PendingAdmin.create(organisation=org, phone=application.admin_phone,
                                    full_name=application.admin_full_name)
        known = KnownUser.get_or_none(KnownUser.phone == application.admin_phone)
        if known is not None:
            grant_admin(outbox, grant, known.user_id)
    return org


def reject(outbox: Outbox, operator: Principal, application_id: str, reason: str) -> Application:
    require_operator(operator)
    with db.atomic():
        application = _operated(operator, application_id)
        if application.status != "pending":
            raise Conflict(f"The application is already {application.status}.", code="already_decided")
        application.status, application.reason = "rejected", reason
        application.decided_by, application.decided_at = operator.id, utcnow()
        application.save()
        outbox.add(events.APPLICATION_REJECTED, {"application_id": application.id,
                                                 "region_id": application.region_id, "org_id": None,
                                                 "reason": reason})
    return application


def grant_admin(outbox: Outbox, grant: PendingAdmin, user_id: str) -> None:
    """The first admin joins as admin and teacher, in the staff room."""
    membership.join(outbox, grant.organisation, user_id, {"admin", "teacher"},
                    display_name=grant.full_name)
    grant.granted_to = user_id
    grant.save()


def user_registered(outbox: Outbox, user_id: str, display_name: str, phone: str | None) -> None:
    """identity.user.registered: remember the user, and hand over admin rights
    waiting for this phone."""
    if phone:
        # An approval for this phone committing at this very moment is seen here, or sees us.
        lock_for_transaction(db, f"admin-phone:{phone}")
    KnownUser.insert(user_id=user_id, phone=phone, display_name=display_name).on_conflict(
        conflict_target=[KnownUser.user_id],
        update={KnownUser.phone: phone, KnownUser.display_name: display_name}).execute()
    if phone:
        for grant in PendingAdmin.select().where(PendingAdmin.phone == phone,
                                                 PendingAdmin.granted_to.is_null()):
            grant_admin(outbox, grant, user_id)
