"""Registration of an organisation: the future admin applies, the operator of
the region approves or rejects, and the phone in the application holds admin
rights as soon as it signs in, whether before or after the approval."""
from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import BinaryIO

from services.common import filetypes
from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import utcnow
from services.common.db import lock_for_transaction
from services.common.errors import ApiError, Conflict, Forbidden, NotFound

from . import events, membership, structure
from .models import Application, ApplicationDocument, KnownUser, Organisation, PendingAdmin, Region, db

ORG_KINDS = ("school", "college", "additional")
DOCUMENT_MAX_BYTES = 10 << 20
DOCUMENT_KINDS = (".pdf", ".jpg", ".jpeg", ".png")


class DocumentTooLarge(ApiError):
    status, code, message = 413, "file_too_large", "The document is larger than 10 MB."


class UnsupportedDocument(ApiError):
    status, code, message = 415, "unsupported_media_type", "The document is a PDF or a picture (JPEG, PNG)."


def create_region(name: str) -> Region:
    region, _ = Region.get_or_create(name=name.strip())
    return region


def submit(service: Service, applicant: Principal, region_id: str, org: dict, admin: dict,
           document_file_id: str | None) -> Application:
    if Region.get_or_none(Region.id == region_id) is None:
        raise NotFound("No such region.", details={"fields": {"region_id": ["Unknown region."]}})
    with db.atomic():
        application = Application.create(
            applicant_id=applicant.id, region=region_id, org_name=org["name"].strip(),
            org_kind=org["kind"], admin_full_name=admin["full_name"].strip(),
            admin_phone=admin["phone"], admin_email=(admin.get("email") or "").strip().lower() or None,
            document_file_id=document_file_id)
        service.outbox.add(events.APPLICATION_SUBMITTED, {"application_id": application.id,
                                                  "region_id": region_id, "org_id": None})
    return application


def _operated(operator: Principal, application_id: str) -> Application:
    application = Application.get_or_none(Application.id == application_id)
    if application is None or not operator.operates_region(application.region_id):
        raise NotFound("No such application.")
    return application


def mine(applicant: Principal):
    """The applications the caller filed, newest first."""
    return (Application.select().where(Application.applicant_id == applicant.id)
            .order_by(Application.created_at.desc(), Application.id))


def _document_holder(user: Principal, application_id: str) -> Application:
    """The application, for its applicant and the operator of its region only."""
    application = Application.get_or_none(Application.id == application_id)
    if application is None or not (application.applicant_id == user.id or user.operates_region(application.region_id)):
        raise NotFound("No such application.")
    return application


def attach_document(applicant: Principal, application_id: str, name: str, stream: BinaryIO) -> ApplicationDocument:
    """The applicant attaches the appointment order (a PDF or a picture) while
    the application waits for the decision; a new one replaces the old."""
    application = Application.get_or_none(Application.id == application_id,
                                          Application.applicant_id == applicant.id)
    if application is None:
        raise NotFound("No such application.")
    if application.status != "pending":
        raise Conflict(f"The application is already {application.status}.", code="already_decided")
    extension = PurePath(name).suffix.lower()
    if extension not in DOCUMENT_KINDS:
        raise UnsupportedDocument(details={"extensions": sorted(DOCUMENT_KINDS)})
    content = stream.read(DOCUMENT_MAX_BYTES + 1)
    if len(content) > DOCUMENT_MAX_BYTES:
        raise DocumentTooLarge(details={"max_bytes": DOCUMENT_MAX_BYTES})
    kind = filetypes.kind_of(extension)
    try:
        filetypes.check_head(kind, content[:filetypes.HEAD_BYTES])
    except filetypes.Refused as error:
        raise UnsupportedDocument(str(error), details={"extensions": sorted(DOCUMENT_KINDS)}) from None
    values = {"name": PurePath(name).name[-255:] or f"document{extension}", "content_type": kind.content_type,
              "size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "content": content,
              "uploaded_at": utcnow()}
    with db.atomic():
        ApplicationDocument.insert(application=application, **values).on_conflict(
            conflict_target=[ApplicationDocument.application],
            update={getattr(ApplicationDocument, key): value for key, value in values.items()}).execute()
    return ApplicationDocument.get_by_id(application.id)


def document(user: Principal, application_id: str) -> ApplicationDocument:
    application = _document_holder(user, application_id)
    found = ApplicationDocument.get_or_none(ApplicationDocument.application == application)
    if found is None:
        raise NotFound("No document is attached to this application.", code="no_document")
    return found


def has_document(application: Application) -> bool:
    return ApplicationDocument.select().where(ApplicationDocument.application == application).exists()


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


def approve(service: Service, operator: Principal, application_id: str) -> Organisation:
    require_operator(operator)
    with db.atomic():
        application = _operated(operator, application_id)
        if application.status != "pending":
            raise Conflict(f"The application is already {application.status}.", code="already_decided")
        org = structure.create_organisation(service, application.region_id, application.org_name,
                                            application.org_kind)
        application.status, application.organisation = "approved", org
        application.decided_by, application.decided_at = operator.id, utcnow()
        application.save()
        service.outbox.add(events.APPLICATION_APPROVED, decision_data(application), org_id=org.id)
        lock_for_transaction(db, f"admin-phone:{application.admin_phone}")
        grant = PendingAdmin.create(organisation=org, phone=application.admin_phone,
                                    full_name=application.admin_full_name)
        known = KnownUser.get_or_none(KnownUser.phone == application.admin_phone)
        if known is not None:
            grant_admin(service, grant, known.user_id)
    return org


def reject(service: Service, operator: Principal, application_id: str, reason: str) -> Application:
    require_operator(operator)
    with db.atomic():
        application = _operated(operator, application_id)
        if application.status != "pending":
            raise Conflict(f"The application is already {application.status}.", code="already_decided")
        application.status, application.reason = "rejected", reason
        application.decided_by, application.decided_at = operator.id, utcnow()
        application.save()
        service.outbox.add(events.APPLICATION_REJECTED, decision_data(application))
    return application


def decision_data(application: Application) -> dict:
    """What the decision's event carries: enough for identity to tell the
    applicant and the admin named in the application (by SMS, and by e-mail
    when one was given) without asking back."""
    return {"application_id": application.id, "region_id": application.region_id,
            "org_id": application.organisation_id, "status": application.status,
            "reason": application.reason, "org_name": application.org_name,
            "applicant_id": application.applicant_id, "admin_phone": application.admin_phone,
            "admin_email": application.admin_email}


def grant_admin(service: Service, grant: PendingAdmin, user_id: str) -> None:
    """The first admin joins as admin and teacher, in the staff room, their
    teacher status confirmed by the operator's approval of the application."""
    application = Application.get(Application.organisation == grant.organisation)
    membership.join(service, grant.organisation, user_id, {"admin", "teacher"},
                    display_name=grant.full_name, application=application)
    grant.granted_to = user_id
    grant.save()


def user_registered(service: Service, user_id: str, display_name: str, phone: str | None) -> None:
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
            grant_admin(service, grant, user_id)
