"""Who may see and do what in an organisation. Another school's things do not
exist for an outsider (404); a member who lacks the right gets 403."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.settling import NotReady
from services.common.verification import check as check_verification

from .models import KnownUser, Member, MemberRole, Organisation, Unit

STAFF_ROLES = frozenset({"admin", "director", "deputy", "teacher"})
TEACHING_ROLES = frozenset({"director", "deputy", "teacher"})
ALL_ROLES = STAFF_ROLES | {"student", "parent"}


def active_member(org_id: str, user_id: str) -> Member | None:
    return (Member.select().where(Member.organisation == org_id, Member.user_id == user_id,
                                  Member.left_at.is_null()).first())


def require_known(user_id: str) -> None:
    """Every user's registration reaches orgstructure as an event: until it
    has, nothing about them (an admin's rights by phone, above all) is known
    here yet, and answering "no such thing" would be wrong."""
    if not KnownUser.select().where(KnownUser.user_id == user_id).exists():
        raise NotReady()


def roles_of(member: Member | None) -> set[str]:
    if member is None:
        return set()
    return {row.role for row in MemberRole.select(MemberRole.role).where(MemberRole.member == member)}


class Access:
    """The caller's standing in one organisation."""

    def __init__(self, org: Organisation, user: Principal):
        self.org = org
        self.user = user
        self.member = active_member(org.id, user.id)
        self.roles = roles_of(self.member)
        self.verified = self.member is not None and self.member.teacher_verified

    @classmethod
    def to(cls, org_id: str, user: Principal) -> "Access":
        """The organisation as the caller may see it: members, and operators of its region."""
        org = Organisation.get_or_none(Organisation.id == org_id)
        if org is not None:
            access = cls(org, user)
            if access.member is not None or user.operates_region(org.region_id):
                return access
        require_known(user.id)
        if org is not None:
            # Read again: a user's first rights (an admin's, by phone) arrive
            # together with orgstructure hearing of them, maybe just now.
            access = cls(org, user)
            if access.member is not None:
                return access
        raise NotFound("No such organisation.")

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only an administrator of this organisation may do this.")

    def require_any(self, *roles: str) -> None:
        if not self.roles & set(roles):
            raise Forbidden("Your role in this organisation does not allow this.")

    def require_open(self) -> None:
        """An archived organisation is read, never changed."""
        if self.org.archived_at is not None:
            raise Conflict("This organisation is archived: it can be read but not changed.", code="org_archived")

    def require_verified(self, action: str) -> None:
        """Staff whose teacher status is not confirmed here yet do not invite."""
        check_verification(self.org.id, self.user.id, self.roles, self.verified, action)

    def unit(self, unit_id: str) -> Unit:
        unit = Unit.get_or_none(Unit.id == unit_id, Unit.organisation == self.org)
        if unit is None:
            raise NotFound("No such unit.")
        return unit

    def heads(self, unit: Unit) -> bool:
        return self.is_staff and unit.head_user_id == self.user.id
