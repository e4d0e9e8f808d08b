"""Routing keys moderation publishes (events.md)."""
PUBLISHES = (
    "moderation.violation.recorded", "moderation.member.blocked", "moderation.member.unblocked",
    "moderation.message.removed",
)
