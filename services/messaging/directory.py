"""Who is who, as messaging knows it from orgstructure's and identity's events:
the organisations, their classes, their active members with roles, parents'
links to children, names and teacher badges. Read-only helpers; the handlers
keep the tables current."""
from __future__ import annotations

import peewee

from .models import OrgMember, ParentLink, Person, Unit, VerifiedTeacher

STAFF_ROLES = frozenset({"admin", "director", "deputy", "teacher"})


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
