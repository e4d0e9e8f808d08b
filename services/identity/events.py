"""Routing keys identity publishes (events.md)."""
from services.common.revocation import SESSION_REVOKED, SIGNING_KEY_RETIRED

USER_REGISTERED = "identity.user.registered"
USER_UPDATED = "identity.user.updated"
TEACHER_VERIFIED = "identity.teacher.verified"
TEACHER_UNVERIFIED = "identity.teacher.unverified"
ERASURE_REQUESTED = "identity.user.erasure_requested"
ERASURE_CANCELLED = "identity.user.erasure_cancelled"
USER_ERASED = "identity.user.erased"

PUBLISHES = (USER_REGISTERED, USER_UPDATED, TEACHER_VERIFIED, TEACHER_UNVERIFIED, SESSION_REVOKED,
             SIGNING_KEY_RETIRED, ERASURE_REQUESTED, ERASURE_CANCELLED, USER_ERASED)
