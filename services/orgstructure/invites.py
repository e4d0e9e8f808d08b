"""Role-bound invite links, and the admin's decisions on who comes in. A
token carries 192 random bits and only its hash is kept. Admins invite
anyone; a class head invites students and parents to their own class only.
An invite may require an admin's approval of each join; someone who left
by expulsion or dismissal always needs one (a join request), or an admin
re-admits them explicitly."""
from __future__ import annotations

from datetime import datetime, timedelta

from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import isoformat, utcnow
from services.common.tokens import digest, new_token
from services.common.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable

from . import events, membership
from .access import Access, active_member
from .models import Invite, JoinRequest, Member, Organisation, Unit, db

INVITABLE_ROLES = ("director", "deputy", "teacher", "student", "parent")
DEFAULT_LIFETIME = timedelta(days=7)
MAX_LIFETIME = timedelta(days=180)


class InviteGone(ApiError):
    status, code, message = 410, "invite_not_usable", "This invite has expired, was used up or was revoked."


def placement(access: Access, role: str, unit_id: str | None, child_user_id: str | None,
              child_invite: Invite | None = None) -> Unit | None:
    """Where someone joining with this role belongs: a student's class or group,
    a parent's child's class (the child named, or to be known from a roster's
    invite), the staff room or nothing for staff."""
    org = access.org
    unit = access.unit(unit_id) if unit_id else None
    if unit is not None and unit.archived_at is not None:
        raise Unprocessable("This unit is archived.", code="bad_unit")
    if role == "student":
        if unit is None or unit.kind not in ("class", "group"):
            raise Unprocessable("A student invite names a class or group.",
                                details={"fields": {"unit_id": ["A class or group is required."]}})
    elif role == "parent":
        if child_user_id is None and child_invite is None:
            raise Unprocessable("A parent invite names the child.",
                                details={"fields": {"child_user_id": ["The child is required."]}})
        if child_user_id is not None:
            child = membership.current_placement(org.id, child_user_id, "student")
            if child is None:
                raise Unprocessable("The child is not a student of this organisation.",
                                    details={"fields": {"child_user_id": ["Not a student here."]}})
            unit = Unit.get_by_id(child.unit_id)
    elif unit is not None and unit.kind != "staff_room":
        raise Unprocessable("Staff are invited to the staff room.", details={"fields": {"unit_id": ["Not the staff room."]}})
    return unit


def create(service: Service, access: Access, *, role: str, unit_id: str | None, child_user_id: str | None,
           expires_at: datetime | None, max_uses: int | None, requires_approval: bool,
           full_name: str = "", child_invite: Invite | None = None,
           send_to: tuple[str, str] | None = None) -> tuple[Invite, str]:
    """A new invite and its token. With `send_to` ("sms", phone) or ("email",
    address) the platform sends the link there (identity's providers, by
    `invite.sent`); such a personal invite is used once unless it says more."""
    org = access.org
    unit = placement(access, role, unit_id, child_user_id, child_invite)
    if not access.is_admin:
        heads_it = unit is not None and access.heads(unit)
        if role not in ("student", "parent") or not heads_it:
            raise Forbidden("A class head invites students and parents to their own class only.")
    access.require_verified("invite")
    now = utcnow()
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now or expires_at > now + MAX_LIFETIME:
        raise Unprocessable("The invite must expire in the future, within 180 days.",
                            details={"fields": {"expires_at": ["Out of range."]}})
    token = new_token()
    if send_to is not None and max_uses is None:
        max_uses = 1
    with db.atomic():
        invite = Invite.create(organisation=org, role=role, unit=unit, child_user_id=child_user_id,
                               child_invite=child_invite, full_name=full_name, token_hash=digest(token),
                               expires_at=expires_at, max_uses=max_uses,
                               requires_approval=requires_approval, created_by=access.user.id)
        if send_to is not None:
            _send(service, invite, token, *send_to)
    return invite, token


def _send(service: Service, invite: Invite, token: str, channel: str, to: str) -> None:
    """The link leaves only in this event, on its way to be sent; the invite
    keeps where it went."""
    invite.sent_to, invite.sent_at = f"{channel}:{to}", utcnow()
    invite.save()
    service.outbox.add(events.INVITE_SENT, {
        "org_id": invite.organisation_id, "invite_id": invite.id, "channel": channel, "to": to,
        "url": service.config.link(f"join/{token}"), "org_name": invite.organisation.name, "role": invite.role,
        "unit_name": invite.unit.name if invite.unit_id else None, "expires_at": isoformat(invite.expires_at),
        "by": invite.created_by}, org_id=invite.organisation_id)


def sent_to(invite: Invite) -> dict | None:
    if not invite.sent_to:
        return None
    channel, _, to = invite.sent_to.partition(":")
    return {"channel": channel, "to": to, "sent_at": invite.sent_at}


def listing(access: Access):
    access.require_admin()
    return Invite.select().where(Invite.organisation == access.org).order_by(Invite.created_at.desc())


def revoke(access: Access, invite_id: str) -> Invite:
    access.require_admin()
    invite = Invite.get_or_none(Invite.id == invite_id, Invite.organisation == access.org)
    if invite is None:
        raise NotFound("No such invite.")
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        invite.save()
    return invite


def revoke_unused(access: Access) -> int:
    """For security, the admin revokes every invite nobody has used yet."""
    access.require_admin()
    return (Invite.update(revoked_at=utcnow())
            .where(Invite.organisation == access.org, Invite.uses == 0, Invite.revoked_at.is_null())
            .execute())


def by_token(token: str) -> Invite:
    invite = Invite.get_or_none(Invite.token_hash == digest(token))
    if invite is None:
        raise NotFound("No such invite.")
    return invite


def usable(invite: Invite) -> bool:
    return (invite.revoked_at is None and invite.expires_at > utcnow()
            and (invite.max_uses is None or invite.uses < invite.max_uses))


def preview(token: str) -> dict:
    invite = by_token(token)
    if not usable(invite) or invite.organisation.archived_at is not None:
        raise InviteGone()
    return {"org_id": invite.organisation_id, "org_name": invite.organisation.name, "role": invite.role,
            "unit_name": invite.unit.name if invite.unit_id else None, "expires_at": invite.expires_at,
            "requires_approval": invite.requires_approval}


def accept(service: Service, user: Principal, token: str) -> dict:
    with db.atomic():
        invite = by_token(token)
        org = invite.organisation
        if not usable(invite) or org.archived_at is not None:
            raise InviteGone()
        _check_fits(org, user.id, invite)
        left = membership.left_by_decision(org.id, user.id)
        if invite.requires_approval or left is not None:
            pending = JoinRequest.get_or_none(JoinRequest.invite == invite, JoinRequest.user_id == user.id,
                                              JoinRequest.status == "pending")
            if pending is None:
                _use(invite, user.id)
                JoinRequest.create(organisation=org, invite=invite, user_id=user.id,
                                   left_reason=left.left_reason if left else None)
            return {"status": "pending", "org_id": org.id}
        _use(invite, user.id)
        _join_by(service, invite, user.id)
    return {"status": "joined", "org_id": org.id}


def _check_fits(org: Organisation, user_id: str, invite: Invite) -> None:
    if invite.role == "student":
        placement = membership.current_placement(org.id, user_id, "student")
        if placement is not None and placement.unit_id != invite.unit_id:
            raise Conflict("You already belong to another class of this organisation; "
                           "moving is a transfer by an admin.", code="already_in_a_class")
    if invite.role == "parent" and invite.child_user_id == user_id:
        raise Conflict("A student cannot be their own parent.", code="bad_invite_use")


def _use(invite: Invite, user_id: str) -> None:
    claimed = (Invite.update(uses=Invite.uses + 1, accepted_by=user_id)
               .where(Invite.id == invite.id, Invite.max_uses.is_null() | (Invite.uses < Invite.max_uses))
               .execute())
    if claimed != 1:
        raise InviteGone()


def _join_by(service: Service, invite: Invite, user_id: str) -> None:
    org = invite.organisation
    child_id = invite.child_user_id or (invite.child_invite.accepted_by if invite.child_invite_id else None)
    _admit(service, org, user_id, invite.role, invite.unit, child_id, invite.created_by, invite.full_name)
    if invite.role == "student":
        # Parents invited from a roster before the child joined are linked now.
        for parent_invite in invite.parent_invites:
            if parent_invite.accepted_by and active_member(org.id, parent_invite.accepted_by):
                membership.link_parent(service, org, parent_invite.accepted_by, user_id)


def _admit(service: Service, org: Organisation, user_id: str, role: str, unit: Unit | None,
           child_id: str | None, by: str, display_name: str = "", reason: str = "joined") -> None:
    if role == "student":
        membership.join(service, org, user_id, {"student"}, unit=unit, display_name=display_name, by=by,
                        reason=reason)
    elif role == "parent":
        if child_id and membership.current_placement(org.id, child_id, "student") is None:
            child_id = None
        membership.join(service, org, user_id, {"parent"}, child_id=child_id, display_name=display_name, by=by,
                        reason=reason)
    else:
        membership.join(service, org, user_id, {role}, display_name=display_name, by=by, reason=reason)


def join_requests(access: Access, status: str | None):
    access.require_admin()
    query = JoinRequest.select().where(JoinRequest.organisation == access.org).order_by(JoinRequest.created_at)
    return query.where(JoinRequest.status == status) if status else query


def decide(service: Service, access: Access, request_id: str, approve: bool) -> JoinRequest:
    access.require_admin()
    with db.atomic():
        request = JoinRequest.get_or_none(JoinRequest.id == request_id, JoinRequest.organisation == access.org)
        if request is None:
            raise NotFound("No such join request.")
        if request.status != "pending":
            raise Conflict(f"The request is already {request.status}.", code="already_decided")
        if approve:
            _check_fits(access.org, request.user_id, request.invite)
            _join_by(service, request.invite, request.user_id)
        request.status = "approved" if approve else "rejected"
        request.decided_by, request.decided_at = access.user.id, utcnow()
        request.save()
    return request


def readmit(service: Service, access: Access, user_id: str, role: str, unit_id: str | None,
            child_user_id: str | None) -> Member:
    """An admin takes back someone who left by expulsion or dismissal, with the
    role and the class they have from now on; their history stays."""
    access.require_admin()
    with db.atomic():
        left = membership.left_by_decision(access.org.id, user_id)
        if left is None:
            if active_member(access.org.id, user_id) is not None:
                raise Conflict("This person is a member of the organisation.", code="already_member")
            raise NotFound("No such former member.")
        unit = placement(access, role, unit_id, child_user_id)
        _admit(service, access.org, user_id, role, unit, child_user_id, access.user.id, reason="readmitted")
        (JoinRequest.update(status="approved", decided_by=access.user.id, decided_at=utcnow())
         .where(JoinRequest.organisation == access.org, JoinRequest.user_id == user_id,
                JoinRequest.status == "pending", JoinRequest.left_reason.is_null(False)).execute())
    return active_member(access.org.id, user_id)

