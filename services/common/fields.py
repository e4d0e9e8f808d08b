"""Schema fields the services share."""
from datetime import timezone

import marshmallow as ma

from .clock import isoformat


class UtcDateTime(ma.fields.DateTime):
    """Times are ISO-8601 UTC with a `Z` (api.md); naive values are UTC already.
    On input a time without an offset is taken as UTC, and stored naive UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment
