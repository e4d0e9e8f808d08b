"""The gateway: token check, routing, rate limits, docs and realtime fan-out."""
