"""Routing keys moderation publishes (events.md)."""
REPORT_FILED = "moderation.report.filed"
REPORT_RESOLVED = "moderation.report.resolved"
VIOLATION_RECORDED = "moderation.violation.recorded"
MESSAGE_REMOVED = "moderation.message.removed"
MESSAGE_RELEASED = "moderation.message.released"
MEMBER_BLOCKED = "moderation.member.blocked"
MEMBER_UNBLOCKED = "moderation.member.unblocked"
RULES_REMINDED = "moderation.rules.reminded"
UNBLOCK_REQUEST_OPENED = "moderation.unblock_request.opened"
UNBLOCK_REQUEST_OBJECTED = "moderation.unblock_request.objected"
UNBLOCK_REQUEST_CLOSED = "moderation.unblock_request.closed"

PUBLISHES = (
    REPORT_FILED, REPORT_RESOLVED, VIOLATION_RECORDED, MESSAGE_REMOVED, MESSAGE_RELEASED, MEMBER_BLOCKED,
    MEMBER_UNBLOCKED, RULES_REMINDED, UNBLOCK_REQUEST_OPENED, UNBLOCK_REQUEST_OBJECTED, UNBLOCK_REQUEST_CLOSED,
)
