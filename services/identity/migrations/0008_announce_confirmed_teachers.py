"""Moderation now refuses moderating to staff whose teacher status is not
confirmed, from a projection of identity's badge events that starts empty:
every status confirmed before this step is announced again, so that no
confirmed moderator is refused after the upgrade. Consumers record a badge
idempotently; hearing it twice changes nothing."""
import json

from services.common.bus import make_envelope
from services.common.clock import utcnow

TEACHER_VERIFIED = "identity.teacher.verified"


def up(db, kit):
    now = utcnow()
    confirmed = db.execute_sql("SELECT user_id, org_id, decided_by FROM verification WHERE status = 'approved'")
    for user_id, org_id, decided_by in confirmed.fetchall():
        envelope = make_envelope(TEACHER_VERIFIED, {"user_id": user_id, "org_id": org_id, "approved_by": decided_by},
                                 producer="identity", org_id=org_id, request_id="")
        kit.Outbox.insert(event_id=envelope["id"], routing_key=TEACHER_VERIFIED,
                          body=json.dumps(envelope, ensure_ascii=False), created_at=now, attempts=0,
                          next_attempt_at=now).execute()
