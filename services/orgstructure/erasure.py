"""Personal data (152-FZ) in orgstructure: what it holds of a person, for
the person (`GET /me/export/orgstructure`), and its erasure when identity
publishes `identity.user.erased`.

Erased are the person's memberships with their roles, classes and family
links, their role history, teaching assignments and activity counted for the
statistics, their join requests and what identity told us of them (name,
phone); their name, phone and e-mail leave applications (with the documents
they attached), the admin grants of approved applications, the invites sent
to them and the roster imports that carried them. What they did for the
school stays without pointing to them: invites they made keep working,
classes they headed lose their head."""
from __future__ import annotations

from datetime import datetime

from services.common.clock import isoformat, utcnow
from services.common.service import Service

from .models import (Activity, Application, ApplicationDocument, ErasureNotice, Invite, JoinRequest, KnownUser, Member,
                     MemberRole, Organisation, ParentLink, PendingAdmin, Placement, RoleChange, RosterImport,
                     TeachingAssignment, Unit, YearRollover)


def requested(user_id: str, erase_at: datetime) -> None:
    (ErasureNotice.insert(user_id=user_id, erase_at=erase_at)
     .on_conflict(conflict_target=[ErasureNotice.user_id], update={ErasureNotice.erase_at: erase_at}).execute())


def cancelled(user_id: str) -> None:
    ErasureNotice.delete().where(ErasureNotice.user_id == user_id).execute()


def notices(user_ids: list[str]) -> dict[str, datetime]:
    if not user_ids:
        return {}
    return dict(ErasureNotice.select(ErasureNotice.user_id, ErasureNotice.erase_at)
                .where(ErasureNotice.user_id.in_(user_ids)).tuples())


def export(user_id: str) -> dict:
    members = list(Member.select(Member, Organisation).join(Organisation).where(Member.user_id == user_id)
                   .order_by(Member.joined_at))
    roles: dict[int, list[str]] = {}
    for row in MemberRole.select().where(MemberRole.member.in_([m.id for m in members])):
        roles.setdefault(row.member_id, []).append(row.role)
    placements = (Placement.select(Placement, Unit).join(Unit).where(Placement.user_id == user_id)
                  .order_by(Placement.started_at))
    children = ParentLink.select().where(ParentLink.parent_id == user_id).order_by(ParentLink.created_at)
    names = {row.user_id: row.display_name for row in KnownUser.select().where(
        KnownUser.user_id.in_([link.child_id for link in children]))}
    return {
        "memberships": [{"org_id": m.organisation_id, "org_name": m.organisation.name,
                         "display_name": m.display_name, "roles": sorted(roles.get(m.id, [])),
                         "joined_at": isoformat(m.joined_at), "left_at": isoformat(m.left_at),
                         "left_reason": m.left_reason} for m in members],
        "classes": [{"org_id": p.organisation_id, "unit_id": p.unit_id, "unit_name": p.unit.name, "role": p.role,
                     "from": isoformat(p.started_at), "until": isoformat(p.ended_at), "end_reason": p.end_reason}
                    for p in placements],
        "children": [{"org_id": link.organisation_id, "child_id": link.child_id,
                      "display_name": names.get(link.child_id, ""), "since": isoformat(link.created_at),
                      "until": isoformat(link.ended_at)} for link in children],
        "applications": [{"id": a.id, "org_name": a.org_name, "org_kind": a.org_kind, "status": a.status,
                          "admin_full_name": a.admin_full_name, "admin_phone": a.admin_phone,
                          "admin_email": a.admin_email,
                          "reason": a.reason, "submitted_at": isoformat(a.created_at)}
                         for a in Application.select().where(Application.applicant_id == user_id)],
        "join_requests": [{"org_id": r.organisation_id, "status": r.status, "created_at": isoformat(r.created_at)}
                          for r in JoinRequest.select().where(JoinRequest.user_id == user_id)],
        "role_history": [{"org_id": c.organisation_id, "role": c.role, "change": c.change, "reason": c.reason,
                          "at": isoformat(c.at)}
                         for c in RoleChange.select().where(RoleChange.user_id == user_id).order_by(RoleChange.at)],
        "teaching": [{"org_id": a.organisation_id, "unit_id": a.unit_id, "subject": a.subject,
                      "from": isoformat(a.assigned_at), "until": isoformat(a.ended_at)}
                     for a in TeachingAssignment.select().where(TeachingAssignment.user_id == user_id)
                     .order_by(TeachingAssignment.assigned_at)],
    }


def erase(service: Service, user_id: str) -> None:
    known = KnownUser.get_or_none(KnownUser.user_id == user_id)
    phone = known.phone if known else None
    names = {m.display_name for m in Member.select(Member.display_name).where(Member.user_id == user_id)}
    names |= {known.display_name} if known else set()
    names.discard("")
    now = utcnow()

    members = list(Member.select(Member.id, Member.organisation).where(Member.user_id == user_id))
    member_ids, org_ids = [m.id for m in members], {m.organisation_id for m in members}
    MemberRole.delete().where(MemberRole.member.in_(member_ids)).execute()
    Member.delete().where(Member.id.in_(member_ids)).execute()
    Placement.delete().where(Placement.user_id == user_id).execute()
    ParentLink.delete().where((ParentLink.parent_id == user_id) | (ParentLink.child_id == user_id)).execute()
    JoinRequest.delete().where(JoinRequest.user_id == user_id).execute()
    JoinRequest.update(decided_by=None).where(JoinRequest.decided_by == user_id).execute()
    Unit.update(head_user_id=None).where(Unit.head_user_id == user_id).execute()
    RoleChange.delete().where(RoleChange.user_id == user_id).execute()
    RoleChange.update(by=None).where(RoleChange.by == user_id).execute()
    TeachingAssignment.delete().where(TeachingAssignment.user_id == user_id).execute()
    TeachingAssignment.update(assigned_by="").where(TeachingAssignment.assigned_by == user_id).execute()
    Activity.delete().where(Activity.user_id == user_id).execute()
    YearRollover.update(by="").where(YearRollover.by == user_id).execute()

    # Personal invites naming them end; invites they made or used keep working, by no one.
    (Invite.update(revoked_at=now).where(Invite.child_user_id == user_id, Invite.revoked_at.is_null()).execute())
    Invite.update(child_user_id=None).where(Invite.child_user_id == user_id).execute()
    # An invite sent to their phone or address and used by them no longer says where it went.
    Invite.update(accepted_by=None, full_name="", sent_to=None).where(Invite.accepted_by == user_id).execute()
    Invite.update(created_by="").where(Invite.created_by == user_id).execute()

    filed = [row.id for row in Application.select(Application.id).where(Application.applicant_id == user_id)]
    ApplicationDocument.delete().where(ApplicationDocument.application.in_(filed)).execute()
    Application.update(admin_email=None).where(Application.id.in_(filed)).execute()
    Application.update(applicant_id="").where(Application.applicant_id == user_id).execute()
    Application.update(decided_by=None).where(Application.decided_by == user_id).execute()
    PendingAdmin.update(granted_to=None, phone="", full_name="").where(PendingAdmin.granted_to == user_id).execute()
    if phone:
        Application.update(admin_phone="", admin_full_name="", admin_email=None).where(
            Application.admin_phone == phone).execute()
        Invite.update(sent_to=None).where(Invite.sent_to == f"sms:{phone}").execute()
        PendingAdmin.update(phone="", full_name="").where(PendingAdmin.phone == phone).execute()
    RosterImport.update(created_by="").where(RosterImport.created_by == user_id).execute()
    # A roster of their school that named them (a child, a parent's phone) keeps its counts, not its lines.
    for roster in RosterImport.select(RosterImport.id, RosterImport.content, RosterImport.errors).where(
            RosterImport.organisation.in_(list(org_ids))):
        if any(value and (value in roster.content or value in roster.errors) for value in [phone, *names]):
            RosterImport.update(content="", errors="[]").where(RosterImport.id == roster.id).execute()

    ErasureNotice.delete().where(ErasureNotice.user_id == user_id).execute()
    KnownUser.delete().where(KnownUser.user_id == user_id).execute()
    kit = service.outbox.kit
    kit.IdempotentRequest.delete().where(kit.IdempotentRequest.user_id == user_id).execute()
