import marshmallow as ma
from marshmallow import validate

from services.common.fields import UtcDateTime
from services.common.pagination import PageQuery, page_schema


class PhoneCodeRequest(ma.Schema):
    phone = ma.fields.String(required=True, validate=validate.Length(min=5, max=32),
                             metadata={"example": "+79001234567"})


class EmailCodeRequest(ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))


class CodeSent(ma.Schema):
    status = ma.fields.String(metadata={"example": "sent"})
    expires_in = ma.fields.Integer(metadata={"description": "seconds the code stays valid"})
    resend_after = ma.fields.Integer(metadata={"description": "seconds before another code may be asked for"})


class TokenRequest(ma.Schema):
    phone = ma.fields.String(validate=validate.Length(min=5, max=32))
    email = ma.fields.Email(validate=validate.Length(max=254))
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."))

    @ma.validates_schema
    def one_destination(self, data, **kwargs):
        if bool(data.get("phone")) == bool(data.get("email")):
            raise ma.ValidationError("Give either a phone or an e-mail address.", "phone")


class RefreshRequest(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=validate.Length(min=10, max=200))


class UserRef(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()


class TokenPair(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserRef)


class PublicProfile(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()
    teacher_verified = ma.fields.Boolean()


class OwnProfile(PublicProfile):
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()


class ProfileUpdate(ma.Schema):
    display_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class OutboxQuery(ma.Schema):
    to = ma.fields.String()


class DevMessage(ma.Schema):
    to = ma.fields.String()
    channel = ma.fields.String()
    code = ma.fields.String()
    sent_at = ma.fields.String()


class DevOutbox(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DevMessage))


class Jwks(ma.Schema):
    keys = ma.fields.List(ma.fields.Dict())


class VerificationRequest(ma.Schema):
    org_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class Verification(ma.Schema):
    id = ma.fields.String()
    user_id = ma.fields.String()
    display_name = ma.fields.Function(lambda v: v.user.display_name)
    org_id = ma.fields.String()
    status = ma.fields.String()
    created_at = UtcDateTime()
    decided_at = UtcDateTime(allow_none=True)


VerificationPage = page_schema(Verification, "VerificationPage")


class VerificationQuery(PageQuery):
    status = ma.fields.String(validate=validate.OneOf(("pending", "approved", "rejected", "revoked")))
