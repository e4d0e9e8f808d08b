"""The confirmed "teacher" status is mandatory for the school's staff (seed 001
§4.8, §4.10; 003 §4): until an administrator of the school confirms it (for
the school's first administrator, the operator's approval of the school's
application does), a member of the staff cannot create chats or chat links,
invite, moderate or plan calls. Every service that keeps the badge (from
identity's `teacher.verified` / `teacher.unverified`) refuses the same way."""
from __future__ import annotations

from . import settling
from .errors import Forbidden

STAFF_ROLES = frozenset({"admin", "director", "deputy", "teacher"})
VERIFICATIONS_PATH = "/api/v1/verifications"


def required(roles: set[str] | frozenset[str], verified: bool) -> bool:
    """Whether someone with these roles in an organisation must first have
    their teacher status confirmed there: the staff, until it is."""
    return bool(set(roles) & STAFF_ROLES) and not verified


class VerificationRequired(Forbidden):
    code = "verification_required"


def refusal(org_id: str, user_id: str, action: str) -> VerificationRequired:
    """The refusal says why and how to ask; it names the confirmation, which
    may be on its way (settling.py)."""
    return VerificationRequired(
        f"Your teacher status in this organisation is not confirmed yet, so you cannot {action}. "
        f"Ask for it with POST {VERIFICATIONS_PATH} {{\"org_id\": \"{org_id}\"}}: an administrator of the "
        "organisation confirms it (the operator of its region, for its single administrator).",
        details={"org_id": org_id, "action": action,
                 "ask": {"method": "POST", "path": VERIFICATIONS_PATH, "body": {"org_id": org_id}}},
        lacking=[settling.verified(org_id, user_id)])


def check(org_id: str, user_id: str, roles, verified: bool, action: str) -> None:
    if required(roles, verified):
        raise refusal(org_id, user_id, action)
