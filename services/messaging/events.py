"""Routing keys messaging publishes (events.md)."""
CHAT_CREATED = "messaging.chat.created"
CHAT_UPDATED = "messaging.chat.updated"
CHAT_MEMBER_JOINED = "messaging.chat.member.joined"
CHAT_MEMBER_REMOVED = "messaging.chat.member.removed"
CHAT_MODERATOR_ADDED = "messaging.chat.moderator.added"
CHAT_MODERATOR_REMOVED = "messaging.chat.moderator.removed"
MESSAGE_CREATED = "messaging.message.created"
MESSAGE_UPDATED = "messaging.message.updated"
MESSAGE_DELETED = "messaging.message.deleted"

PUBLISHES = (CHAT_CREATED, CHAT_UPDATED, CHAT_MEMBER_JOINED, CHAT_MEMBER_REMOVED, CHAT_MODERATOR_ADDED,
             CHAT_MODERATOR_REMOVED, MESSAGE_CREATED,
             MESSAGE_UPDATED, MESSAGE_DELETED)
