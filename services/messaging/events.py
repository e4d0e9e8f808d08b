"""Routing keys messaging publishes (events.md)."""
PUBLISHES = (
    "messaging.chat.created", "messaging.chat.updated", "messaging.chat.member.joined",
    "messaging.chat.member.removed", "messaging.message.created", "messaging.message.deleted",
)
