"""Publishing an event on the platform's bus as another service would, for
what a service consumes before the service that owns the event publishes it."""
from __future__ import annotations

import json

from services.common.bus import EVENTS_EXCHANGE, connect, events_exchange, make_envelope


def publish(platform, event_type: str, data: dict, org_id: str | None = None) -> dict:
    """The event, as its owner (the routing key's first word) would put it on the bus."""
    amqp_url = platform.apps["messaging"].extensions["sferum"].settings.amqp_url
    envelope = make_envelope(event_type, data, producer=event_type.split(".", 1)[0], org_id=org_id)
    with connect(amqp_url) as connection:
        channel = connection.channel()
        events_exchange(channel).declare()
        message = channel.prepare_message(json.dumps(envelope, ensure_ascii=False).encode(), 0, "application/json",
                                          "utf-8", {}, {"delivery_mode": 2, "message_id": envelope["id"]})
        channel.basic_publish(message, exchange=EVENTS_EXCHANGE, routing_key=event_type)
    return envelope
