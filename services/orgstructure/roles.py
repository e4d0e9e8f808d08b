"""Roles change, not only grow (seed 000 §2.1, the movement of the staff): an
admin gives an employee another role of the staff (admin, director, deputy,
teacher) or takes one back, and each change is kept in the member's history.
The school never ends with no admin; a role is taken back only while
another remains (leaving the school altogether is a dismissal); someone who
no longer teaches heads no class and teaches none."""
from __future__ import annotations

from services.common import settling
from services.common.db import lock_for_transaction
from services.common.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from services.common.service import Service

from . import events, membership, teaching
from .access import STAFF_ROLES, TEACHING_ROLES, Access, active_member, roles_of
from .models import Member, MemberRole, RoleChange, db


def grant_refusal(role: str, held: set[str]) -> ApiError | None:
    """Why this member may not be given this role, or None."""
    if not held & STAFF_ROLES:
        return Unprocessable("Roles of the staff are given to employees; others join by an invite.",
                             code="not_staff", details={"fields": {"user_id": ["Not an employee here."]}})
    if role == "admin" and not held & TEACHING_ROLES:
        return Unprocessable("Admins are appointed from the organisation's teachers.", code="not_a_teacher",
                             details={"fields": {"user_id": ["Not a teacher here."]}})
    return None


def revoke_refusal(role: str, held: set[str], admins: int) -> ApiError | None:
    """Why this role may not be taken back from a member who holds `held`,
    in a school with `admins` admins, or None."""
    if role not in held:
        return Conflict("This member does not hold this role.", code="role_not_held")
    if role == "admin" and admins <= 1:
        return Conflict("This is the school's last admin: appoint another admin first.", code="last_admin")
    if held == {role}:
        return Unprocessable("This is the member's only role: an employee who leaves is dismissed.",
                             code="last_role")
    return None


def _employee(access: Access, user_id: str) -> Member:
    member = active_member(access.org.id, user_id)
    if member is None:
        raise NotFound("No such member.")
    return member


def grant(service: Service, access: Access, user_id: str, role: str, reason: str = "granted") -> Member:
    access.require_admin()
    with db.atomic():
        member = _employee(access, user_id)
        refusal = grant_refusal(role, roles_of(member))
        if refusal is not None:
            raise refusal
        membership.add_roles(service, member, {role}, by=access.user.id, reason=reason)
    return member


def _admins(org_id: str) -> int:
    return (MemberRole.select().join(Member)
            .where(Member.organisation == org_id, Member.left_at.is_null(), MemberRole.role == "admin").count())


def revoke(service: Service, access: Access, user_id: str, role: str) -> Member:
    access.require_admin()
    org_id = access.org.id
    with db.atomic():
        # Two admins taking each other's rights at once: one of them goes first,
        # and the other is no longer an admin when its turn comes.
        lock_for_transaction(db, f"org-admins:{org_id}")
        if "admin" not in roles_of(active_member(org_id, access.user.id)):
            raise Forbidden("Only an administrator of this organisation may do this.")
        member = _employee(access, user_id)
        held = roles_of(member)
        refusal = revoke_refusal(role, held, _admins(org_id) if role == "admin" else 0)
        if refusal is not None:
            raise refusal
        MemberRole.delete().where(MemberRole.member == member, MemberRole.role == role).execute()
        RoleChange.create(organisation=access.org, user_id=user_id, role=role, change="revoked", reason="revoked",
                          by=access.user.id)
        remaining = held - {role}
        if not remaining & TEACHING_ROLES:
            membership.release_headship(service, org_id, user_id)
            teaching.end_for_teacher(service, org_id, user_id, "role_revoked")
        service.outbox.add(events.MEMBER_ROLES_CHANGED, {
            "org_id": org_id, "user_id": user_id, "roles": sorted(remaining), "added": [], "removed": [role],
            "by": access.user.id}, org_id=org_id)
        # A refusal for the role just taken back is final: nothing is on its way.
        service.withdraw(settling.standing(org_id, user_id))
    return member


def history(access: Access, user_id: str) -> dict:
    """A member's roles now and every change of them (also of a former member)."""
    access.require_admin()
    member = Member.get_or_none(Member.organisation == access.org, Member.user_id == user_id)
    if member is None:
        raise NotFound("No such member.")
    changes = (RoleChange.select().where(RoleChange.organisation == access.org, RoleChange.user_id == user_id)
               .order_by(RoleChange.at, RoleChange.id))
    return {"user_id": user_id, "roles": sorted(roles_of(member)) if member.left_at is None else [],
            "left_at": member.left_at, "left_reason": member.left_reason,
            "history": [{"role": c.role, "change": c.change, "reason": c.reason, "by": c.by, "at": c.at}
                        for c in changes]}
