"""Schema fields the services share."""
from datetime import timezone

import marshmallow as ma
from marshmallow import validate

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


# What a phone number may look like: E.164 or national, with the usual
# separators. Whether such a mobile number exists is the numbering plan's to
# say (services/common/phones.py): a 422 names the field when it does not.
PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]{4,31}$"


def Phone(**kwargs) -> ma.fields.String:
    metadata = {"format": "phone", "example": "+79001234567",
                "description": "a mobile number: E.164 (+79001234567) or national (8 900 123-45-67)",
                **kwargs.pop("metadata", {})}
    return ma.fields.String(
        validate=[validate.Length(min=5, max=32), validate.Regexp(PHONE_PATTERN, error="Not a phone number.")],
        metadata=metadata, **kwargs)


# No spaces or control characters anywhere (spelt out: `\s` differs between
# Python and the ECMA regexes of JSON Schema).
URL_PATTERN = r"^https?://[^\x00-\x20\x7f/?#]+([/?#][^\x00-\x20\x7f]*)?$"


def Url(**kwargs) -> ma.fields.String:
    """An address a browser opens: http or https and a host."""
    metadata = {"example": "https://school.example.org/journal", **kwargs.pop("metadata", {})}
    return ma.fields.String(validate=[validate.Length(max=500), validate.Regexp(URL_PATTERN, error="Not a valid URL.")],
                            metadata=metadata, **kwargs)


class JsonBoolean(ma.fields.Boolean):
    """A request body's true or false. marshmallow's Boolean also takes 0, 1
    and strings such as "yes", which the documented boolean type refuses."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
