"""Routing keys calls publishes (docs/events.md)."""
CALL_SCHEDULED = "calls.call.scheduled"
CALL_CANCELLED = "calls.call.cancelled"
CALL_STARTED = "calls.call.started"
CALL_ENDED = "calls.call.ended"
PARTICIPANT_JOINED = "calls.participant.joined"
PARTICIPANT_LEFT = "calls.participant.left"

PUBLISHES = (CALL_SCHEDULED, CALL_CANCELLED, CALL_STARTED, CALL_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT)
