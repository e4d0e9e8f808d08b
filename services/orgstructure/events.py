"""Routing keys orgstructure publishes (events.md)."""
PUBLISHES = (
    "orgstructure.application.submitted", "orgstructure.application.approved",
    "orgstructure.application.rejected", "orgstructure.org.created", "orgstructure.org.updated",
    "orgstructure.unit.created", "orgstructure.unit.updated", "orgstructure.unit.archived",
    "orgstructure.unit.head_assigned", "orgstructure.member.joined",
    "orgstructure.member.roles_changed", "orgstructure.member.transferred",
    "orgstructure.member.expelled", "orgstructure.member.dismissed",
    "orgstructure.parent.linked", "orgstructure.parent.unlinked",
)
