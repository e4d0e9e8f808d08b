"""What identity knows of organisations: their regions and who belongs where
with which roles (from orgstructure's events), the teacher-status verification
and its badge, and which profiles a user may see."""
from __future__ import annotations

from services.common import settling
from services.common.auth import Principal
from services.common.clock import utcnow
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.service import Service

from . import events
from .models import Organisation, OrgMembership, User, Verification

TEACHING_ROLES = frozenset({"teacher", "director", "deputy"})


def record_organisation(org_id: str, region_id: str) -> None:
    (Organisation.insert(org_id=org_id, region_id=region_id)
     .on_conflict(conflict_target=[Organisation.org_id], update={Organisation.region_id: region_id})
     .execute())


def record_membership(org_id: str, user_id: str, roles, active: bool = True) -> None:
    (OrgMembership.insert(org_id=org_id, user_id=user_id, roles=",".join(sorted(roles)), active=active)
     .on_conflict(conflict_target=[OrgMembership.org_id, OrgMembership.user_id],
                  update={OrgMembership.roles: ",".join(sorted(roles)), OrgMembership.active: active})
     .execute())


def leave(service: Service, org_id: str, user_id: str) -> None:
    """Someone left the organisation; a confirmed teacher status there ends."""
    OrgMembership.update(active=False).where(OrgMembership.org_id == org_id,
                                             OrgMembership.user_id == user_id).execute()
    for verification in Verification.select().where(Verification.org_id == org_id,
                                                    Verification.user == user_id,
                                                    Verification.status == "approved"):
        verification.status, verification.decided_at = "revoked", utcnow()
        verification.save()
        service.outbox.add(events.TEACHER_UNVERIFIED, {"user_id": user_id, "org_id": org_id}, org_id=org_id)


def _membership(org_id: str, user_id: str) -> OrgMembership | None:
    return OrgMembership.get_or_none(OrgMembership.org_id == org_id, OrgMembership.user_id == user_id,
                                     OrgMembership.active == True)  # noqa: E712


def _require_role(org_id: str, user_id: str, roles, message: str) -> None:
    membership = _membership(org_id, user_id)
    if membership is None:
        # Their joining (or coming back) may be on its way from orgstructure.
        raise NotFound("No such organisation.", lacking=[settling.member(org_id, user_id)])
    if not membership.role_set & roles:
        raise Forbidden(message, lacking=[settling.standing(org_id, user_id)])


def request_verification(user: User, org_id: str) -> Verification:
    _require_role(org_id, user.id, TEACHING_ROLES, "Only teachers of this organisation ask for the teacher status.")
    open_request = Verification.get_or_none(Verification.user == user, Verification.org_id == org_id,
                                            Verification.status.in_(("pending", "approved")))
    if open_request is not None:
        raise Conflict(f"Your request is already {open_request.status}.", code="already_requested")
    return Verification.create(user=user, org_id=org_id)


def operator_decides(requester_id: str, admin_ids: frozenset[str]) -> bool:
    """Whether the request is one only the region's operator can decide: that of
    a school's single administrator, whom no other administrator can confirm."""
    return requester_id in admin_ids and not admin_ids - {requester_id}


def check_decider(org_id: str, decider_id: str, decider_roles: frozenset[str] | None, operates_region: bool,
                  requester_id: str, admin_ids: frozenset[str]) -> None:
    """May this person approve or reject this teacher's request? An administrator
    of the organisation may, but never on their own request; the operator of the
    organisation's region only when no other administrator could. Raises the
    refusal, saying why: 404 to whoever has no business in the organisation.
    `decider_roles` is None for someone who is not an active member; a refusal
    names what may still be on its way (a joining, a new role)."""
    is_admin = decider_roles is not None and "admin" in decider_roles
    if is_admin and decider_id != requester_id:
        return
    if is_admin:
        if admin_ids - {decider_id}:
            raise Forbidden("Another administrator of this organisation confirms your own teacher status.",
                            code="own_request")
        raise Forbidden("You are the only administrator of this organisation: the operator of its region "
                        "confirms your own teacher status.", code="own_request")
    if operates_region:
        if decider_id != requester_id and operator_decides(requester_id, admin_ids):
            return
        raise Forbidden("The administrators of this organisation decide this request; the operator decides "
                        "only the request of a school's single administrator.", code="decided_by_admins")
    if decider_roles is not None:
        raise Forbidden("Only an administrator of this organisation may do this.",
                        lacking=[settling.standing(org_id, decider_id)])
    raise NotFound("No such verification request.", lacking=[settling.member(org_id, decider_id)])


def _admin_ids(org_id: str) -> frozenset[str]:
    members = OrgMembership.select(OrgMembership.user_id, OrgMembership.roles).where(
        OrgMembership.org_id == org_id, OrgMembership.active == True)  # noqa: E712
    return frozenset(member.user_id for member in members if "admin" in member.role_set)


def _roles(org_id: str, user_id: str) -> frozenset[str] | None:
    membership = _membership(org_id, user_id)
    return frozenset(membership.role_set) if membership is not None else None


def _operates(principal: Principal, org_id: str) -> bool:
    """Whether the caller is an operator of the organisation's region (an
    organisation whose region identity has not heard of yet has none)."""
    if not principal.operator:
        return False
    organisation = Organisation.get_or_none(Organisation.org_id == org_id)
    return organisation is not None and principal.operates_region(organisation.region_id)


def verifications(principal: Principal, org_id: str, status: str | None):
    """An administrator sees the organisation's requests; the operator of its
    region sees those it decides: the single administrator's own."""
    roles = _roles(org_id, principal.id)
    query = (Verification.select(Verification, User).join(User)
             .where(Verification.org_id == org_id).order_by(Verification.created_at))
    if roles is None or "admin" not in roles:
        if _operates(principal, org_id):
            admin_ids = _admin_ids(org_id)
            query = query.where(Verification.user.in_([a for a in admin_ids if operator_decides(a, admin_ids)]))
        elif roles is not None:
            raise Forbidden("Only an administrator of this organisation may do this.",
                            lacking=[settling.standing(org_id, principal.id)])
        else:
            raise NotFound("No such organisation.", lacking=[settling.member(org_id, principal.id)])
    return query.where(Verification.status == status) if status else query


def decide(service: Service, principal: Principal, verification_id: str, approve: bool) -> Verification:
    verification = Verification.get_or_none(Verification.id == verification_id)
    if verification is None:
        raise NotFound("No such verification request.")
    org_id = verification.org_id
    check_decider(org_id, principal.id, _roles(org_id, principal.id), _operates(principal, org_id),
                  verification.user_id, _admin_ids(org_id))
    if verification.status != "pending":
        raise Conflict(f"The request is already {verification.status}.", code="already_decided")
    verification.status = "approved" if approve else "rejected"
    verification.decided_by, verification.decided_at = principal.id, utcnow()
    verification.save()
    if approve:
        _confirmed(service, verification)
    return verification


def confirm_by_application(service: Service, org_id: str, user_id: str, approved_by: str | None) -> None:
    """The school's first admin: the operator's approval of the school's
    application, which named them with the director's order, confirms their
    teacher status there."""
    if Verification.select().where(Verification.user == user_id, Verification.org_id == org_id,
                                   Verification.status == "approved").exists():
        return
    verification = Verification.get_or_none(Verification.user == user_id, Verification.org_id == org_id,
                                            Verification.status == "pending")
    if verification is None:
        verification = Verification.create(user=user_id, org_id=org_id, status="approved", decided_by=approved_by,
                                           decided_at=utcnow())
    else:
        verification.status, verification.decided_by, verification.decided_at = "approved", approved_by, utcnow()
        verification.save()
    _confirmed(service, verification)


def _confirmed(service: Service, verification: Verification) -> None:
    service.outbox.add(events.TEACHER_VERIFIED, {"user_id": verification.user_id, "org_id": verification.org_id,
                                                 "approved_by": verification.decided_by},
                       org_id=verification.org_id)
    service.announce(settling.verified(verification.org_id, verification.user_id))


def teacher_verified(user_id: str) -> bool:
    return Verification.select().where(Verification.user == user_id, Verification.status == "approved").exists()


def shared_organisations(viewer_id: str, user_id: str) -> list[str]:
    theirs = OrgMembership.select(OrgMembership.org_id).where(OrgMembership.user_id == user_id,
                                                             OrgMembership.active == True)  # noqa: E712
    return [row.org_id for row in OrgMembership.select(OrgMembership.org_id).where(
        OrgMembership.user_id == viewer_id, OrgMembership.active == True,  # noqa: E712
        OrgMembership.org_id.in_(theirs))]


def share_an_organisation(viewer_id: str, user_id: str) -> bool:
    theirs = OrgMembership.select(OrgMembership.org_id).where(OrgMembership.user_id == user_id,
                                                             OrgMembership.active == True)  # noqa: E712
    return OrgMembership.select().where(OrgMembership.user_id == viewer_id, OrgMembership.active == True,  # noqa: E712
                                        OrgMembership.org_id.in_(theirs)).exists()


def shared_membership_lacking(viewer_id: str, user_id: str) -> list[str]:
    """Two people who share no organisation here might yet: one of them may
    have just joined one of the other's."""
    def orgs(user: str) -> list[str]:
        return [row.org_id for row in OrgMembership.select(OrgMembership.org_id).where(
            OrgMembership.user_id == user, OrgMembership.active == True)]  # noqa: E712

    return ([settling.member(org_id, viewer_id) for org_id in orgs(user_id)]
            + [settling.member(org_id, user_id) for org_id in orgs(viewer_id)])
