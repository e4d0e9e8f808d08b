"""Routing keys identity publishes (events.md)."""
USER_REGISTERED = "identity.user.registered"
USER_UPDATED = "identity.user.updated"
TEACHER_VERIFIED = "identity.teacher.verified"
TEACHER_UNVERIFIED = "identity.teacher.unverified"

PUBLISHES = (USER_REGISTERED, USER_UPDATED, TEACHER_VERIFIED, TEACHER_UNVERIFIED)
