"""Members and their movement: joining with a role, parents linked to their
children, transfer between classes, expulsion of a student (who leaves with the
parents who have no other child here), dismissal of an employee. Placements
keep the history of who was in which unit when. Whoever left by expulsion or
dismissal comes back only by an admin's decision (invites.py)."""
from __future__ import annotations

from services.common import settling
from services.common.service import Service
from services.common.clock import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable

from . import erasure, events, teaching
from .access import STAFF_ROLES, TEACHING_ROLES, Access, active_member, roles_of
from .models import (Application, Invite, KnownUser, Member, MemberRole, Organisation, ParentLink, Placement,
                     RoleChange, Unit, db)

LEFT_BY_DECISION = ("expelled", "dismissed")


def current_placement(org_id: str, user_id: str, role: str) -> Placement | None:
    return (Placement.select().where(Placement.organisation == org_id, Placement.user_id == user_id,
                                     Placement.role == role, Placement.ended_at.is_null()).first())


def left_by_decision(org_id: str, user_id: str) -> Member | None:
    """The person's former membership, when they left by expulsion or dismissal."""
    return Member.get_or_none(Member.organisation == org_id, Member.user_id == user_id,
                              Member.left_at.is_null(False), Member.left_reason.in_(LEFT_BY_DECISION))


def students_of(unit: Unit):
    return Placement.select().where(Placement.unit == unit, Placement.role == "student",
                                    Placement.ended_at.is_null())


def children_of(org_id: str, parent_id: str) -> list[str]:
    return [link.child_id for link in ParentLink.select(ParentLink.child_id).where(
        ParentLink.organisation == org_id, ParentLink.parent_id == parent_id, ParentLink.ended_at.is_null())]


def parents_of(org_id: str, child_id: str) -> list[str]:
    return [link.parent_id for link in ParentLink.select(ParentLink.parent_id).where(
        ParentLink.organisation == org_id, ParentLink.child_id == child_id, ParentLink.ended_at.is_null())]


def _name(user_id: str, fallback: str) -> str:
    known = KnownUser.get_or_none(KnownUser.user_id == user_id)
    return (known.display_name if known and known.display_name else "") or fallback


def join(service: Service, org: Organisation, user_id: str, roles: set[str], *, unit: Unit | None = None,
         child_id: str | None = None, display_name: str = "", application: Application | None = None,
         by: str | None = None, reason: str = "joined") -> Member:
    """Someone joins the organisation (or takes one more role in it). The
    school's first admin joins through its approved `application`, which
    stands for the confirmation of their teacher status: identity confirms it
    on hearing of it."""
    from .structure import staff_room

    with db.atomic():
        member = Member.get_or_none(Member.organisation == org, Member.user_id == user_id)
        rejoining = member is not None and member.left_at is not None
        if member is None:
            member = Member.create(organisation=org, user_id=user_id, display_name=_name(user_id, display_name))
        elif rejoining:
            MemberRole.delete().where(MemberRole.member == member).execute()
            member.left_at = member.left_reason = None
            member.joined_at = utcnow()
            member.save()
        had = set() if rejoining else roles_of(member)
        if "student" in roles:
            placement = current_placement(org.id, user_id, "student")
            if placement is not None and placement.unit_id != unit.id:
                raise Conflict("This student already belongs to another class of this organisation; "
                               "an admin moves students by transfer.", code="already_in_a_class")
            if placement is None:
                Placement.create(organisation=org, user_id=user_id, unit=unit, role="student")
        if roles & STAFF_ROLES and current_placement(org.id, user_id, "staff") is None:
            Placement.create(organisation=org, user_id=user_id, unit=staff_room(org), role="staff")
        for role in roles - had:
            MemberRole.create(member=member, role=role)
            RoleChange.create(organisation=org, user_id=user_id, role=role, change="granted",
                              reason="application" if application is not None else reason,
                              by=application.decided_by if application is not None else by)
        now_roles = had | roles
        student_unit = current_placement(org.id, user_id, "student")
        confirmed = {}
        if application is not None:
            confirmed = {"application_id": application.id, "approved_by": application.decided_by}
            service.announce(settling.verified(org.id, user_id))
        if not had:
            service.outbox.add(events.MEMBER_JOINED, {
                "org_id": org.id, "user_id": user_id, "roles": sorted(now_roles),
                "unit_id": student_unit.unit_id if student_unit else None,
                "display_name": member.display_name, **confirmed}, org_id=org.id)
            service.announce(settling.member(org.id, user_id))
        elif now_roles != had or confirmed:
            service.outbox.add(events.MEMBER_ROLES_CHANGED, {
                "org_id": org.id, "user_id": user_id, "roles": sorted(now_roles), "added": sorted(now_roles - had),
                "removed": [], "by": by, **confirmed}, org_id=org.id)
            service.announce(settling.standing(org.id, user_id))
        if child_id:
            # A parent joining with their child: their joining is what others wait for.
            link_parent(service, org, user_id, child_id, announce=bool(had))
    return member


def add_roles(service: Service, member: Member, roles: set[str], by: str, reason: str) -> None:
    join(service, member.organisation, member.user_id, roles, by=by, reason=reason)


def link_parent(service: Service, org: Organisation, parent_id: str, child_id: str, announce: bool = True) -> None:
    placement = current_placement(org.id, child_id, "student")
    if placement is None:
        raise Unprocessable("The child is not a student of this organisation.", code="not_a_student")
    exists = ParentLink.get_or_none(ParentLink.organisation == org, ParentLink.parent_id == parent_id,
                                    ParentLink.child_id == child_id, ParentLink.ended_at.is_null())
    if exists is None:
        ParentLink.create(organisation=org, parent_id=parent_id, child_id=child_id)
        service.outbox.add(events.PARENT_LINKED, {"org_id": org.id, "parent_id": parent_id, "child_id": child_id,
                                          "unit_id": placement.unit_id}, org_id=org.id)
        if announce:
            service.announce(settling.standing(org.id, parent_id))


def _student(access: Access, user_id: str) -> Placement:
    placement = current_placement(access.org.id, user_id, "student")
    if placement is None:
        if active_member(access.org.id, user_id) is None:
            raise NotFound("No such member.")
        raise Unprocessable("This member is not a student.", code="not_a_student")
    return placement


def transfer(service: Service, access: Access, user_id: str, unit_id: str) -> Placement:
    access.require_admin()
    with db.atomic():
        placement = _student(access, user_id)
        target = access.unit(unit_id)
        if target.kind not in ("class", "group") or target.archived_at is not None:
            raise Unprocessable("Students move to an active class or group.", code="bad_unit")
        if target.id == placement.unit_id:
            raise Conflict("The student is already in this class.", code="same_unit")
        placement.ended_at, placement.end_reason = utcnow(), "transferred"
        placement.save()
        moved = Placement.create(organisation=access.org, user_id=user_id, unit=target, role="student")
        service.outbox.add(events.MEMBER_TRANSFERRED, {
            "org_id": access.org.id, "user_id": user_id, "from_unit_id": placement.unit_id,
            "to_unit_id": target.id, "parent_ids": parents_of(access.org.id, user_id)}, org_id=access.org.id)
    return moved


def _leave(service: Service, member: Member, reason: str) -> None:
    now = utcnow()
    (Placement.update(ended_at=now, end_reason=reason)
     .where(Placement.organisation == member.organisation, Placement.user_id == member.user_id,
            Placement.ended_at.is_null()).execute())
    member.left_at, member.left_reason = now, reason
    member.save()
    _revoke_personal_invites(member.organisation_id, member.user_id)
    service.withdraw(settling.member(member.organisation_id, member.user_id),
                     settling.standing(member.organisation_id, member.user_id))


def _revoke_personal_invites(org_id: str, user_id: str) -> None:
    """The invites made for the one who leaves: the single-use ones they took,
    and parents' invites naming them as the child (directly, or through the
    roster invite they took). A reusable class or staff link stays, since it
    belongs to others too; whoever left cannot come back by it without an admin."""
    theirs = Invite.select(Invite.id).where(Invite.organisation == org_id, Invite.accepted_by == user_id,
                                            Invite.max_uses == 1)
    (Invite.update(revoked_at=utcnow())
     .where(Invite.organisation == org_id, Invite.revoked_at.is_null(),
            Invite.id.in_(theirs) | (Invite.child_user_id == user_id) | Invite.child_invite.in_(theirs))
     .execute())


def let_go(service: Service, org_id: str, placement: Placement, reason: str) -> dict:
    """A student leaves the school (`expelled`, or `graduated` at the end of
    the school year). Their parents leave with them, except a parent who has
    another child here or works here: that parent stays, no longer linked to
    this child."""
    user_id = placement.user_id
    member = active_member(org_id, user_id)
    parents = parents_of(org_id, user_id)
    (ParentLink.update(ended_at=utcnow())
     .where(ParentLink.organisation == org_id, ParentLink.child_id == user_id,
            ParentLink.ended_at.is_null()).execute())
    leaving, staying = [], []
    for parent_id in parents:
        parent = active_member(org_id, parent_id)
        if children_of(org_id, parent_id) or roles_of(parent) - {"parent"}:
            staying.append(parent_id)
            service.outbox.add(events.PARENT_UNLINKED, {"org_id": org_id, "parent_id": parent_id,
                                                        "child_id": user_id, "unit_id": placement.unit_id},
                               org_id=org_id)
        else:
            leaving.append(parent_id)
            _leave(service, parent, reason)
    _leave(service, member, reason)
    return {"org_id": org_id, "user_id": user_id, "unit_id": placement.unit_id,
            "parent_ids": leaving, "staying_parent_ids": staying}


def expel(service: Service, access: Access, user_id: str) -> dict:
    access.require_admin()
    with db.atomic():
        placement = _student(access, user_id)
        data = let_go(service, access.org.id, placement, "expelled")
        service.outbox.add(events.MEMBER_EXPELLED, data, org_id=access.org.id)
    return data


def dismiss(service: Service, access: Access, user_id: str) -> dict:
    """An employee leaves: their roles, their staff-room place and the classes
    they headed."""
    access.require_admin()
    org_id = access.org.id
    with db.atomic():
        member = active_member(org_id, user_id)
        if member is None:
            raise NotFound("No such member.")
        roles = roles_of(member)
        if not roles & STAFF_ROLES:
            raise Unprocessable("Only employees are dismissed; students are expelled.", code="not_staff")
        if user_id == access.user.id:
            raise Conflict("You cannot dismiss yourself.", code="self_dismissal")
        headed = release_headship(service, org_id, user_id)
        teaching.end_for_teacher(service, org_id, user_id, "dismissed")
        _leave(service, member, "dismissed")
        data = {"org_id": org_id, "user_id": user_id, "roles": sorted(roles),
                "headed_unit_ids": [unit.id for unit in headed]}
        service.outbox.add(events.MEMBER_DISMISSED, data, org_id=org_id)
    return data


def release_headship(service: Service, org_id: str, user_id: str) -> list[Unit]:
    """The classes someone headed lose their head (they left, or teach no more)."""
    headed = list(Unit.select().where(Unit.organisation == org_id, Unit.head_user_id == user_id))
    for unit in headed:
        unit.head_user_id = None
        unit.save()
        service.outbox.add(events.UNIT_HEAD_ASSIGNED, {"org_id": org_id, "unit_id": unit.id, "user_id": None,
                                                       "previous_user_id": user_id}, org_id=org_id)
    return headed


def member_view(member: Member, roles: set[str], unit_id: str | None, taught: list[dict] = ()) -> dict:
    return {"user_id": member.user_id, "display_name": member.display_name, "roles": sorted(roles),
            "unit_id": unit_id, "teacher_verified": member.teacher_verified,
            "joined_at": member.joined_at, "teaching": list(taught)}


def view_of(member: Member) -> dict:
    placement = current_placement(member.organisation_id, member.user_id, "student")
    return member_view(member, roles_of(member), placement.unit_id if placement else None,
                       teaching.by_teacher(member.organisation_id).get(member.user_id, []))


def members(access: Access, role: str | None, unit_id: str | None) -> list[dict]:
    """Staff see everyone. Students and parents see the staff and the people of
    their own (their children's) classes: a child's classmates in other classes
    are none of a stranger's business."""
    org_id = access.org.id
    active = list(Member.select().where(Member.organisation == org_id, Member.left_at.is_null())
                  .order_by(Member.display_name, Member.user_id))
    role_rows: dict[int, set[str]] = {}
    for row in MemberRole.select().join(Member).where(Member.organisation == org_id, Member.left_at.is_null()):
        role_rows.setdefault(row.member_id, set()).add(row.role)
    student_unit = {p.user_id: p.unit_id for p in Placement.select().where(
        Placement.organisation == org_id, Placement.role == "student", Placement.ended_at.is_null())}
    children: dict[str, set[str]] = {}
    for link in ParentLink.select().where(ParentLink.organisation == org_id, ParentLink.ended_at.is_null()):
        children.setdefault(link.parent_id, set()).add(link.child_id)
    taught = teaching.by_teacher(org_id)

    def units_of(user_id: str) -> set[str]:
        own = {student_unit[user_id]} if user_id in student_unit else set()
        return own | {student_unit[c] for c in children.get(user_id, ()) if c in student_unit}

    sees_all = access.is_staff or access.user.operates_region(access.org.region_id)
    mine = units_of(access.user.id)
    result = []
    for member in active:
        roles = role_rows.get(member.id, set())
        theirs = units_of(member.user_id)
        if not sees_all and not (roles & STAFF_ROLES or theirs & mine or member.user_id == access.user.id):
            continue
        if role and role not in roles:
            continue
        teaches = taught.get(member.user_id, [])
        if unit_id and unit_id not in theirs | {row["unit_id"] for row in teaches}:
            continue
        result.append(member_view(member, roles, student_unit.get(member.user_id), teaches))
    # Whose data will be erased, and when: for those who run the school.
    leaving = erasure.notices([item["user_id"] for item in result]) if sees_all else {}
    for item in result:
        item["erase_at"] = leaving.get(item["user_id"])
    return result


def my_organisations(user_id: str) -> list[dict]:
    result = []
    for member in (Member.select(Member, Organisation).join(Organisation)
                   .where(Member.user_id == user_id, Member.left_at.is_null())):
        placement = current_placement(member.organisation_id, user_id, "student")
        result.append({"org_id": member.organisation_id, "name": member.organisation.name,
                       "kind": member.organisation.kind, "roles": sorted(roles_of(member)),
                       "unit_id": placement.unit_id if placement else None,
                       "children": children_of(member.organisation_id, user_id)})
    return result


def shares_organisation(viewer_id: str, user_id: str) -> bool:
    return (Member.select().where(Member.user_id == viewer_id, Member.left_at.is_null(),
                                  Member.organisation.in_(Member.select(Member.organisation).where(
                                      Member.user_id == user_id, Member.left_at.is_null()))).exists())


def is_teacher(org_id: str, user_id: str) -> bool:
    return bool(roles_of(active_member(org_id, user_id)) & TEACHING_ROLES)
