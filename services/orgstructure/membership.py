"""Members and their movement: joining with a role, parents linked to their
children, transfer between classes, expulsion of a student (who leaves with the
parents who have no other child here), dismissal of an employee. Placements
keep the history of who was in which unit when."""
from __future__ import annotations

from services.common.bus import Outbox
from services.common.clock import utcnow
from services.common.errors import Conflict, NotFound, Unprocessable

from . import events
from .access import STAFF_ROLES, TEACHING_ROLES, Access, active_member, roles_of
from .models import KnownUser, Member, MemberRole, Organisation, ParentLink, Placement, Unit, db


def current_placement(org_id: str, user_id: str, role: str) -> Placement | None:
    return (Placement.select().where(Placement.organisation == org_id, Placement.user_id == user_id,
                                     Placement.role == role, Placement.ended_at.is_null()).first())


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


def join(outbox: Outbox, org: Organisation, user_id: str, roles: set[str], *, unit: Unit | None = None,
         child_id: str | None = None, display_name: str = "") -> Member:
    """Someone joins the organisation (or takes one more role in it)."""
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
        now_roles = had | roles
        student_unit = current_placement(org.id, user_id, "student")
        if not had:
            outbox.add(events.MEMBER_JOINED, {
                "org_id": org.id, "user_id": user_id, "roles": sorted(now_roles),
                "unit_id": student_unit.unit_id if student_unit else None,
                "display_name": member.display_name}, org_id=org.id)
        elif now_roles != had:
            outbox.add(events.MEMBER_ROLES_CHANGED, {"org_id": org.id, "user_id": user_id,
                                                     "roles": sorted(now_roles)}, org_id=org.id)
        if child_id:
            link_parent(outbox, org, user_id, child_id)
    return member


def add_roles(outbox: Outbox, member: Member, roles: set[str]) -> None:
    join(outbox, member.organisation, member.user_id, roles)


def link_parent(outbox: Outbox, org: Organisation, parent_id: str, child_id: str) -> None:
    placement = current_placement(org.id, child_id, "student")
    if placement is None:
        raise Unprocessable("The child is not a student of this organisation.", code="not_a_student")
    exists = ParentLink.get_or_none(ParentLink.organisation == org, ParentLink.parent_id == parent_id,
                                    ParentLink.child_id == child_id, ParentLink.ended_at.is_null())
    if exists is None:
        ParentLink.create(organisation=org, parent_id=parent_id, child_id=child_id)
        outbox.add(events.PARENT_LINKED, {"org_id": org.id, "parent_id": parent_id, "child_id": child_id,
                                          "unit_id": placement.unit_id}, org_id=org.id)


def _student(access: Access, user_id: str) -> Placement:
    placement = current_placement(access.org.id, user_id, "student")
    if placement is None:
        if active_member(access.org.id, user_id) is None:
            raise NotFound("No such member.")
        raise Unprocessable("This member is not a student.", code="not_a_student")
    return placement


def transfer(outbox: Outbox, access: Access, user_id: str, unit_id: str) -> Placement:
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
        outbox.add(events.MEMBER_TRANSFERRED, {
            "org_id": access.org.id, "user_id": user_id, "from_unit_id": placement.unit_id,
            "to_unit_id": target.id, "parent_ids": parents_of(access.org.id, user_id)}, org_id=access.org.id)
    return moved


def _leave(member: Member, reason: str) -> None:
    now = utcnow()
    (Placement.update(ended_at=now, end_reason=reason)
     .where(Placement.organisation == member.organisation, Placement.user_id == member.user_id,
            Placement.ended_at.is_null()).execute())
    member.left_at, member.left_reason = now, reason
    member.save()


def expel(outbox: Outbox, access: Access, user_id: str) -> dict:
    """A student leaves. Their parents leave with them, except a parent who has
    another child here: that parent stays, no longer linked to this child."""
    access.require_admin()
    org_id = access.org.id
    with db.atomic():
        placement = _student(access, user_id)
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
                outbox.add(events.PARENT_UNLINKED, {"org_id": org_id, "parent_id": parent_id,
                                                    "child_id": user_id, "unit_id": placement.unit_id},
                           org_id=org_id)
            else:
                leaving.append(parent_id)
                _leave(parent, "expelled")
        _leave(member, "expelled")
        data = {"org_id": org_id, "user_id": user_id, "unit_id": placement.unit_id,
                "parent_ids": leaving, "staying_parent_ids": staying}
        outbox.add(events.MEMBER_EXPELLED, data, org_id=org_id)
    return data


def dismiss(outbox: Outbox, access: Access, user_id: str) -> dict:
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
        headed = list(Unit.select().where(Unit.organisation == org_id, Unit.head_user_id == user_id))
        for unit in headed:
            unit.head_user_id = None
            unit.save()
            outbox.add(events.UNIT_HEAD_ASSIGNED, {"org_id": org_id, "unit_id": unit.id, "user_id": None,
                                                   "previous_user_id": user_id}, org_id=org_id)
        _leave(member, "dismissed")
        data = {"org_id": org_id, "user_id": user_id, "roles": sorted(roles),
                "headed_unit_ids": [unit.id for unit in headed]}
        outbox.add(events.MEMBER_DISMISSED, data, org_id=org_id)
    return data


def member_view(member: Member, roles: set[str], unit_id: str | None) -> dict:
    return {"user_id": member.user_id, "display_name": member.display_name, "roles": sorted(roles),
            "unit_id": unit_id, "teacher_verified": member.teacher_verified,
            "joined_at": member.joined_at}


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
        if unit_id and unit_id not in theirs:
            continue
        result.append(member_view(member, roles, student_unit.get(member.user_id)))
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
