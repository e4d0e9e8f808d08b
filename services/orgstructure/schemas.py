import json

import marshmallow as ma
from marshmallow import validate

from services.common.fields import UtcDateTime
from services.common.pagination import PageQuery, page_schema

from .access import ALL_ROLES
from .invites import INVITABLE_ROLES
from .registration import ORG_KINDS



def Name(max_length: int = 300) -> ma.fields.String:
    return ma.fields.String(required=True, validate=validate.Length(min=1, max=max_length))


class Region(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


RegionPage = page_schema(Region, "RegionPage")


class ApplicationOrg(ma.Schema):
    name = Name()
    kind = ma.fields.String(required=True, validate=validate.OneOf(ORG_KINDS))


class ApplicationAdmin(ma.Schema):
    full_name = Name(200)
    phone = ma.fields.String(required=True, validate=validate.Length(min=5, max=32))


class ApplicationCreate(ma.Schema):
    region_id = ma.fields.String(required=True, validate=validate.Length(max=32))
    org = ma.fields.Nested(ApplicationOrg, required=True)
    admin = ma.fields.Nested(ApplicationAdmin, required=True)
    document_file_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class Application(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    region_id = ma.fields.String(attribute="region_id")
    org = ma.fields.Function(lambda a: {"name": a.org_name, "kind": a.org_kind})
    admin = ma.fields.Function(lambda a: {"full_name": a.admin_full_name, "phone": a.admin_phone})
    document_file_id = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    org_id = ma.fields.String(attribute="organisation_id", allow_none=True)
    created_at = UtcDateTime()


ApplicationPage = page_schema(Application, "ApplicationPage")


class ApplicationQuery(PageQuery):
    status = ma.fields.String(validate=validate.OneOf(("pending", "approved", "rejected")))


class Rejection(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class Approved(ma.Schema):
    org_id = ma.fields.String()


class MyOrg(ma.Schema):
    org_id = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    unit_id = ma.fields.String(allow_none=True)
    children = ma.fields.List(ma.fields.String())


MyOrgPage = page_schema(MyOrg, "MyOrgPage")


class Organisation(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    region_id = ma.fields.String()
    address = ma.fields.String()
    journal_url = ma.fields.String()
    diary_url = ma.fields.String()


class OrganisationUpdate(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=300))
    address = ma.fields.String(validate=validate.Length(max=300))
    journal_url = ma.fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))
    diary_url = ma.fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))


class Unit(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    grade = ma.fields.Integer(allow_none=True)
    academic_year = ma.fields.String(allow_none=True)
    head_user_id = ma.fields.String(allow_none=True)
    archived = ma.fields.Function(lambda u: u.archived_at is not None)


UnitPage = page_schema(Unit, "UnitPage")
YEAR = validate.Regexp(r"^\d{4}/\d{4}$", error="Like 2026/2027.")


class UnitCreate(ma.Schema):
    name = Name(100)
    kind = ma.fields.String(load_default="class", validate=validate.OneOf(("class", "group")))
    grade = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12))
    academic_year = ma.fields.String(load_default=None, allow_none=True, validate=YEAR)


class UnitUpdate(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    grade = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=12))
    academic_year = ma.fields.String(allow_none=True, validate=YEAR)


class UnitQuery(PageQuery):
    archived = ma.fields.Boolean(load_default=False)


class UserRef(ma.Schema):
    user_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class Member(ma.Schema):
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    unit_id = ma.fields.String(allow_none=True)
    teacher_verified = ma.fields.Boolean()
    joined_at = UtcDateTime()


MemberPage = page_schema(Member, "MemberPage")


class MemberQuery(PageQuery):
    role = ma.fields.String(validate=validate.OneOf(sorted(ALL_ROLES)))
    unit_id = ma.fields.String(validate=validate.Length(max=32))


class InviteCreate(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(INVITABLE_ROLES))
    unit_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    child_user_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    expires_at = UtcDateTime(load_default=None, allow_none=True)
    max_uses = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=10000))
    requires_approval = ma.fields.Boolean(load_default=False)
    full_name = ma.fields.String(load_default="", validate=validate.Length(max=200))


class Invite(ma.Schema):
    id = ma.fields.String()
    role = ma.fields.String()
    unit_id = ma.fields.String(allow_none=True)
    child_user_id = ma.fields.String(allow_none=True)
    expires_at = UtcDateTime()
    max_uses = ma.fields.Integer(allow_none=True)
    uses = ma.fields.Integer()
    requires_approval = ma.fields.Boolean()
    revoked = ma.fields.Function(lambda i: i.revoked_at is not None)
    created_at = UtcDateTime()


InvitePage = page_schema(Invite, "InvitePage")


class InviteCreated(ma.Schema):
    id = ma.fields.String()
    token = ma.fields.String()
    url = ma.fields.String()
    expires_at = UtcDateTime()


class InvitePreview(ma.Schema):
    org_id = ma.fields.String()
    org_name = ma.fields.String()
    role = ma.fields.String()
    unit_name = ma.fields.String(allow_none=True)
    expires_at = UtcDateTime()
    requires_approval = ma.fields.Boolean()


class Accepted(ma.Schema):
    status = ma.fields.String()
    org_id = ma.fields.String()


class Revoked(ma.Schema):
    revoked = ma.fields.Integer()


class JoinRequest(ma.Schema):
    id = ma.fields.String()
    user_id = ma.fields.String()
    invite_id = ma.fields.String()
    role = ma.fields.Function(lambda r: r.invite.role)
    status = ma.fields.String()
    created_at = UtcDateTime()


JoinRequestPage = page_schema(JoinRequest, "JoinRequestPage")


class JoinRequestQuery(PageQuery):
    status = ma.fields.String(validate=validate.OneOf(("pending", "approved", "rejected")))


class Transfer(ma.Schema):
    unit_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class Movement(ma.Schema):
    org_id = ma.fields.String()
    user_id = ma.fields.String()
    unit_id = ma.fields.String(allow_none=True)
    parent_ids = ma.fields.List(ma.fields.String())
    staying_parent_ids = ma.fields.List(ma.fields.String())


class StatsQuery(ma.Schema):
    from_ = ma.fields.Date(data_key="from", load_default=None)
    to = ma.fields.Date(load_default=None)


class Stats(ma.Schema):
    org_id = ma.fields.String()
    from_ = ma.fields.String(data_key="from", attribute="from")
    to = ma.fields.String()
    members_by_role = ma.fields.Dict()
    members_by_unit = ma.fields.List(ma.fields.Dict())
    weeks = ma.fields.List(ma.fields.Dict())


class RosterUpload(ma.Schema):
    file = ma.fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class RosterImport(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    total_rows = ma.fields.Integer()
    processed_rows = ma.fields.Integer()
    errors = ma.fields.Function(lambda j: json.loads(j.errors))
    result = ma.fields.Function(lambda j: json.loads(j.result))
    created_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)
