"""Routing keys orgstructure publishes (events.md)."""
APPLICATION_SUBMITTED = "orgstructure.application.submitted"
APPLICATION_APPROVED = "orgstructure.application.approved"
APPLICATION_REJECTED = "orgstructure.application.rejected"
ORG_CREATED = "orgstructure.org.created"
ORG_UPDATED = "orgstructure.org.updated"
UNIT_CREATED = "orgstructure.unit.created"
UNIT_UPDATED = "orgstructure.unit.updated"
UNIT_ARCHIVED = "orgstructure.unit.archived"
UNIT_HEAD_ASSIGNED = "orgstructure.unit.head_assigned"
UNIT_TEACHER_ASSIGNED = "orgstructure.unit.teacher.assigned"
UNIT_TEACHER_UNASSIGNED = "orgstructure.unit.teacher.unassigned"
MEMBER_JOINED = "orgstructure.member.joined"
MEMBER_ROLES_CHANGED = "orgstructure.member.roles_changed"
MEMBER_TRANSFERRED = "orgstructure.member.transferred"
MEMBER_EXPELLED = "orgstructure.member.expelled"
MEMBER_DISMISSED = "orgstructure.member.dismissed"
PARENT_LINKED = "orgstructure.parent.linked"
PARENT_UNLINKED = "orgstructure.parent.unlinked"
INVITE_SENT = "orgstructure.invite.sent"
WEEKLY_DIGEST = "orgstructure.stats.weekly_digest"
YEAR_ROLLED_OVER = "orgstructure.year.rolled_over"

PUBLISHES = (
    APPLICATION_SUBMITTED, APPLICATION_APPROVED, APPLICATION_REJECTED, ORG_CREATED, ORG_UPDATED,
    UNIT_CREATED, UNIT_UPDATED, UNIT_ARCHIVED, UNIT_HEAD_ASSIGNED, UNIT_TEACHER_ASSIGNED,
    UNIT_TEACHER_UNASSIGNED, MEMBER_JOINED,
    MEMBER_ROLES_CHANGED, MEMBER_TRANSFERRED, MEMBER_EXPELLED, MEMBER_DISMISSED,
    PARENT_LINKED, PARENT_UNLINKED, INVITE_SENT, WEEKLY_DIGEST, YEAR_ROLLED_OVER,
)
