"""What identity knows of organisations: who belongs where with which roles
(from orgstructure's events), the teacher-status verification and its badge,
and which profiles a user may see."""
from __future__ import annotations

from services.common.bus import Outbox
from services.common.clock import utcnow
from services.common.errors import Conflict, Forbidden, NotFound

from . import events
from .models import OrgMembership, User, Verification

TEACHING_ROLES = frozenset({"teacher", "director", "deputy"})


def record_membership(org_id: str, user_id: str, roles, active: bool = True) -> None:
    (OrgMembership.insert(org_id=org_id, user_id=user_id, roles=",".join(sorted(roles)), active=active)
     .on_conflict(conflict_target=[OrgMembership.org_id, OrgMembership.user_id],
                  update={OrgMembership.roles: ",".join(sorted(roles)), OrgMembership.active: active})
     .execute())


def leave(outbox: Outbox, org_id: str, user_id: str) -> None:
    """Someone left the organisation; a confirmed teacher status there ends."""
    OrgMembership.update(active=False).where(OrgMembership.org_id == org_id,
                                             OrgMembership.user_id == user_id).execute()
    for verification in Verification.select().where(Verification.org_id == org_id,
                                                    Verification.user == user_id,
                                                    Verification.status == "approved"):
        verification.status, verification.decided_at = "revoked", utcnow()
        verification.save()
        outbox.add(events.TEACHER_UNVERIFIED, {"user_id": user_id, "org_id": org_id}, org_id=org_id)


def _membership(org_id: str, user_id: str) -> OrgMembership | None:
    return OrgMembership.get_or_none(OrgMembership.org_id == org_id, OrgMembership.user_id == user_id,
                                     OrgMembership.active == True)  # noqa: E712


def _require_admin(org_id: str, user_id: str) -> None:
    membership = _membership(org_id, user_id)
    if membership is None:
        raise NotFound("No such organisation.")
    if "admin" not in membership.role_set:
        raise Forbidden("Only an administrator of this organisation may do this.")


def request_verification(user: User, org_id: str) -> Verification:
    membership = _membership(org_id, user.id)
    if membership is None:
        raise NotFound("No such organisation.")
    if not membership.role_set & TEACHING_ROLES:
        raise Forbidden("Only teachers of this organisation ask for the teacher status.")
    open_request = Verification.get_or_none(Verification.user == user, Verification.org_id == org_id,
                                            Verification.status.in_(("pending", "approved")))
    if open_request is not None:
        raise Conflict(f"Your request is already {open_request.status}.", code="already_requested")
    return Verification.create(user=user, org_id=org_id)


def verifications(admin_id: str, org_id: str, status: str | None):
    _require_admin(org_id, admin_id)
    query = (Verification.select(Verification, User).join(User)
             .where(Verification.org_id == org_id).order_by(Verification.created_at))
    return query.where(Verification.status == status) if status else query


def decide(outbox: Outbox, admin_id: str, verification_id: str, approve: bool) -> Verification:
    verification = Verification.get_or_none(Verification.id == verification_id)
    if verification is None or _membership(verification.org_id, admin_id) is None:
        raise NotFound("No such verification request.")
    _require_admin(verification.org_id, admin_id)
    if verification.status != "pending":
        raise Conflict(f"The request is already {verification.status}.", code="already_decided")
    verification.status = "approved" if approve else "rejected"
    verification.decided_by, verification.decided_at = admin_id, utcnow()
    verification.save()
    if approve:
        outbox.add(events.TEACHER_VERIFIED, {"user_id": verification.user_id, "org_id": verification.org_id,
                                             "approved_by": admin_id}, org_id=verification.org_id)
    return verification


def teacher_verified(user_id: str) -> bool:
    return Verification.select().where(Verification.user == user_id, Verification.status == "approved").exists()


def share_an_organisation(viewer_id: str, user_id: str) -> bool:
    theirs = OrgMembership.select(OrgMembership.org_id).where(OrgMembership.user_id == user_id,
                                                             OrgMembership.active == True)  # noqa: E712
    return OrgMembership.select().where(OrgMembership.user_id == viewer_id, OrgMembership.active == True,  # noqa: E712
                                        OrgMembership.org_id.in_(theirs)).exists()
