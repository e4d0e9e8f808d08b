"""Who is who, as messaging knows it from orgstructure's and identity's events:
the organisations, their classes, their active members with roles, parents'
links to children, names and teacher badges. Read-only helpers; the handlers
keep the tables current."""
from __future__ import annotations

import peewee

from services.common import verification

from .models import OrgMember, ParentLink, Person, TeachingAssignment, Unit, VerifiedTeacher

STAFF_ROLES = frozenset({"admin", "director", "deputy", "teacher"})
# Who speaks to any class of the school: its administration.
ADMINISTRATION = frozenset({"admin", "director", "deputy"})
ERASED_NAME = "Удалённый пользователь"


# Rules: plain functions of what they are given.

def may_address_class(roles: set[str], heads_it: bool, teaches_it: bool) -> bool:
    """Who invites a whole class (or its parents) to a chat at once: the
    school's administration, the class head and the class's subject teachers."""
    return bool(roles & ADMINISTRATION) or (bool(roles & STAFF_ROLES) and (heads_it or teaches_it))


def of_unit(roles: set[str], unit_id: str, own_unit: str | None, children_units: set[str], heads_it: bool,
            teaches_it: bool) -> bool:
    """The people of a class or group: its students, their parents, its class
    head and its subject teachers (those a class's chat link is for)."""
    staff = bool(roles & STAFF_ROLES)
    return (("student" in roles and own_unit == unit_id) or ("parent" in roles and unit_id in children_units)
            or (staff and (heads_it or teaches_it)))


def audience_roles(audience: str | None) -> set[str]:
    return {"students": {"student"}, "parents": {"parent"}, "both": {"student", "parent"}}.get(audience or "", set())


# Reading the projections.


def roles(org_id: str, user_id: str) -> set[str]:
    member = OrgMember.get_or_none(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    return set(filter(None, member.roles.split(","))) if member else set()


def is_member(org_id: str, user_id: str) -> bool:
    return OrgMember.select().where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).exists()


def is_staff(org_id: str, user_id: str) -> bool:
    return bool(roles(org_id, user_id) & STAFF_ROLES)


def members_with(org_id: str, wanted: set[str]) -> list[str]:
    """Active members of the organisation holding any of the roles."""
    return [member.user_id for member in OrgMember.select().where(OrgMember.org_id == org_id)
            if set(member.roles.split(",")) & wanted]


def students_of(unit_id: str) -> list[str]:
    return [m.user_id for m in OrgMember.select(OrgMember.user_id).where(OrgMember.unit_id == unit_id)]


def parents_in(unit_id: str) -> list[str]:
    return sorted({link.parent_id for link in ParentLink.select().where(ParentLink.unit_id == unit_id)})


def has_child_in(parent_id: str, unit_id: str) -> bool:
    return ParentLink.select().where(ParentLink.parent_id == parent_id, ParentLink.unit_id == unit_id).exists()


def is_parent_of(org_id: str, parent_id: str, child_id: str) -> bool:
    return ParentLink.select().where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id,
                                     ParentLink.child_id == child_id).exists()


def is_verified(org_id: str, user_id: str) -> bool:
    return VerifiedTeacher.select().where(VerifiedTeacher.org_id == org_id, VerifiedTeacher.user_id == user_id).exists()


def require_verified(org_id: str, user_id: str, action: str) -> None:
    """Chats, links and moderation are for staff whose teacher status is
    confirmed (services.common.verification)."""
    verification.check(org_id, user_id, roles(org_id, user_id), is_verified(org_id, user_id), action)


def head_of(unit_id: str) -> str | None:
    unit = Unit.get_or_none(Unit.unit_id == unit_id)
    return unit.head_user_id if unit else None


def people(org_id: str, user_ids) -> dict[str, dict]:
    """How users appear to others: a name and the teacher badge, never a phone."""
    ids = list(dict.fromkeys(user_ids))
    found = {}
    if ids:
        badge = VerifiedTeacher.alias()
        rows = (Person.select(Person.user_id, Person.display_name, badge.user_id.alias("verified"))
                .join(badge, peewee.JOIN.LEFT_OUTER,
                      on=((badge.user_id == Person.user_id) & (badge.org_id == org_id)))
                .where(Person.user_id.in_(ids)).dicts())
        found = {row["user_id"]: row for row in rows}
    return {user_id: {"id": user_id, "display_name": found[user_id]["display_name"] if user_id in found else "",
                      "teacher_verified": bool(found.get(user_id, {}).get("verified"))} for user_id in ids}


def unit_in(org_id: str, unit_id: str) -> bool:
    return Unit.select().where(Unit.unit_id == unit_id, Unit.org_id == org_id).exists()


def teaches(unit_id: str, user_id: str) -> bool:
    return TeachingAssignment.select().where(TeachingAssignment.unit_id == unit_id,
                                             TeachingAssignment.user_id == user_id).exists()


def teachers_of(unit_id: str) -> list[str]:
    return [row.user_id for row in TeachingAssignment.select(TeachingAssignment.user_id)
            .where(TeachingAssignment.unit_id == unit_id)]


def taught_units(org_id: str, user_id: str) -> set[str]:
    return {row.unit_id for row in TeachingAssignment.select(TeachingAssignment.unit_id).where(
        TeachingAssignment.org_id == org_id, TeachingAssignment.user_id == user_id)}


def children_units(org_id: str, parent_id: str) -> set[str]:
    return {link.unit_id for link in ParentLink.select(ParentLink.unit_id)
            .where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id) if link.unit_id}


def in_unit(org_id: str, unit_id: str, user_id: str) -> bool:
    member = OrgMember.get_or_none(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    if member is None:
        return False
    return of_unit(set(filter(None, member.roles.split(","))), unit_id, member.unit_id,
                   children_units(org_id, user_id), head_of(unit_id) == user_id, teaches(unit_id, user_id))


def audience_of(org_id: str, unit_id: str, audience: str) -> list[str]:
    """The class's students, their parents, or both, as `audience` says."""
    wanted = audience_roles(audience)
    people = []
    if "student" in wanted:
        people += [m.user_id for m in OrgMember.select(OrgMember.user_id, OrgMember.roles).where(
            OrgMember.org_id == org_id, OrgMember.unit_id == unit_id) if "student" in m.roles.split(",")]
    if "parent" in wanted:
        people += [link.parent_id for link in ParentLink.select(ParentLink.parent_id).where(
            ParentLink.org_id == org_id, ParentLink.unit_id == unit_id)]
    return list(dict.fromkeys(people))
