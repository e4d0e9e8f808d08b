"""Routing keys calls publishes (events.md)."""
PUBLISHES = (
    "calls.call.started", "calls.call.ended", "calls.participant.joined", "calls.participant.left",
)
