import marshmallow as ma
from marshmallow import validate

from services.common.fields import Phone, UtcDateTime
from services.common.pagination import PageQuery, page_schema
from services.common.text import Name


class PhoneCodeRequest(ma.Schema):
    phone = Phone(required=True)


class EmailCodeRequest(ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))


class CodeSent(ma.Schema):
    status = ma.fields.String(metadata={"example": "sent"})
    expires_in = ma.fields.Integer(metadata={"description": "seconds the code stays valid"})
    resend_after = ma.fields.Integer(metadata={"description": "seconds before another code may be asked for"})


class TokenRequest(ma.Schema):
    phone = Phone(metadata={"description": "the phone the code was sent to; either it or `email`"})
    email = ma.fields.Email(validate=validate.Length(max=254))
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."))
    account_id = ma.fields.String(validate=validate.Regexp(r"^([0-9a-f]{32}|new)$", error="An account's id, or new."),
                                  metadata={"description": "by e-mail only: which of the address's accounts to sign "
                                                           "in (from `accounts`), or `new` for another child's"})

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
    choose_account = ma.fields.Boolean(metadata={
        "description": "instead of tokens: several accounts share this e-mail address; sign in again with the "
                       "same code and one of `accounts` as `account_id`"})
    accounts = ma.fields.List(ma.fields.Nested(UserRef), metadata={"description": "names only"})


class PublicProfile(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()
    teacher_verified = ma.fields.Boolean()


class OwnProfile(PublicProfile):
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()


class ProfileUpdate(ma.Schema):
    display_name = Name(required=True, min_length=1, max_length=100)


class OutboxQuery(ma.Schema):
    to = ma.fields.String()


class DevMessage(ma.Schema):
    to = ma.fields.String()
    channel = ma.fields.String()
    code = ma.fields.String(allow_none=True, metadata={"description": "a sign-in code; null for a notice"})
    text = ma.fields.String(allow_none=True, metadata={"description": "a notice's text; null for a code"})
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


class ErasureState(ma.Schema):
    user_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending (cancel it until `erase_at`) | cancelled | erased"})
    requested_by = ma.fields.String(metadata={"description": "the person, or the parent who asked"})
    requested_at = ma.fields.String()
    erase_at = ma.fields.String(metadata={"description": "when every service removes or anonymises the data"})


class IdentityExport(ma.Schema):
    profile = ma.fields.Dict(metadata={"description": "id, display_name, phone, email, created_at"})
    sessions = ma.fields.List(ma.fields.Dict(), metadata={"description": "sign-ins: started_at, refreshed_at, "
                                                          "user_agent, ended_at, end_reason"})
    teacher_status = ma.fields.List(ma.fields.Dict(), metadata={"description": "requests for the teacher status: "
                                                                "org_id, status, requested_at, decided_at"})
    children = ma.fields.List(ma.fields.String(), metadata={"description": "ids of the children the user is the "
                                                            "parent of"})
    erasure = ma.fields.Nested(ErasureState, allow_none=True)
