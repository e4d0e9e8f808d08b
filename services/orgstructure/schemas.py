import json

import marshmallow as ma
from marshmallow import validate

from services.common.fields import JsonBoolean, Phone, Url, UtcDateTime
from services.common.pagination import PageQuery, page_schema
from services.common.text import Name, Text

from .access import ALL_ROLES
from . import invites, registration
from .invites import INVITABLE_ROLES
from .registration import ORG_KINDS



class Support(ma.Schema):
    email = ma.fields.String(allow_none=True, metadata={"example": "info@sferum.ru"})
    phone = ma.fields.String(allow_none=True)
    instructions_url = ma.fields.String(allow_none=True, metadata={"example": "https://sferum.ru/?p=instructions"})
    configured = ma.fields.Boolean(metadata={"description": "false until the operator configures support"})


class Region(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


RegionPage = page_schema(Region, "RegionPage")


class ApplicationOrg(ma.Schema):
    name = Name(required=True, min_length=1, max_length=300)
    kind = ma.fields.String(required=True, validate=validate.OneOf(ORG_KINDS))


class ApplicationAdmin(ma.Schema):
    full_name = Name(required=True, min_length=1, max_length=200)
    phone = Phone(required=True, metadata={"description": "the mobile phone that will hold the admin rights"})
    email = ma.fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254),
                            metadata={"description": "the admin's e-mail: the decision is sent there too"})


class ApplicationCreate(ma.Schema):
    region_id = ma.fields.String(required=True, validate=validate.Length(max=32))
    org = ma.fields.Nested(ApplicationOrg, required=True)
    admin = ma.fields.Nested(ApplicationAdmin, required=True)
    document_file_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class Application(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "`pending`, `approved` or `rejected`"})
    region_id = ma.fields.String(attribute="region_id")
    org = ma.fields.Function(lambda a: {"name": a.org_name, "kind": a.org_kind})
    admin = ma.fields.Function(lambda a: {"full_name": a.admin_full_name, "phone": a.admin_phone,
                                          "email": a.admin_email})
    document_file_id = ma.fields.String(allow_none=True, metadata={
        "description": "a file uploaded to messaging by earlier clients; the operator opens the document "
                       "attached with `POST /applications/{id}/document`"})
    has_document = ma.fields.Function(lambda a: registration.has_document(a), metadata={
        "description": "an appointment order is attached (`GET /applications/{id}/document`)"})
    reason = ma.fields.String(allow_none=True)
    reject_reason = ma.fields.Function(lambda a: a.reason if a.status == "rejected" else None,
                                       metadata={"description": "why the operator rejected it"})
    org_id = ma.fields.String(attribute="organisation_id", allow_none=True)
    created_at = UtcDateTime()
    decided_at = UtcDateTime(allow_none=True)


class DocumentUpload(ma.Schema):
    file = ma.fields.Raw(metadata={"type": "string", "format": "binary",
                                   "description": "a PDF, JPEG or PNG of at most 10 MB"}, required=True)


class Document(ma.Schema):
    name = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    uploaded_at = UtcDateTime()


ApplicationPage = page_schema(Application, "ApplicationPage")


class ApplicationQuery(PageQuery):
    status = ma.fields.String(validate=validate.OneOf(("pending", "approved", "rejected")))


class Rejection(ma.Schema):
    reason = Text(required=True, min_length=1, max_length=2000)


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
    archived = ma.fields.Function(lambda o: o.archived_at is not None, metadata={
        "description": "the operator archived it: it is read, never changed"})


class OrganisationUpdate(ma.Schema):
    name = Name(min_length=1, max_length=300)
    address = Name(max_length=300)
    journal_url = Url()
    diary_url = Url()


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
# A school year the platform moves schools into: a year and the next, listed
# so that the API's description says exactly which are taken.
SCHOOL_YEARS = validate.OneOf([f"{year}/{year + 1}" for year in range(2020, 2100)],
                              error="A year and the next, like 2027/2028.")


class UnitCreate(ma.Schema):
    name = Name(required=True, min_length=1, max_length=100)
    kind = ma.fields.String(load_default="class", validate=validate.OneOf(("class", "group")))
    grade = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12))
    academic_year = ma.fields.String(load_default=None, allow_none=True, validate=YEAR)


class UnitUpdate(ma.Schema):
    name = Name(min_length=1, max_length=100)
    grade = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=12))
    academic_year = ma.fields.String(allow_none=True, validate=YEAR)


class UnitQuery(PageQuery):
    archived = ma.fields.Boolean(load_default=False)


class RolloverRequest(ma.Schema):
    dry_run = JsonBoolean(load_default=True, metadata={"description": "only the plan (the default)"})
    final_grade = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12),
                                    metadata={"description": "classes of this grade and above graduate (11 in a "
                                                             "school, 4 in a college by default)"})
    academic_year = ma.fields.String(load_default=None, allow_none=True, validate=SCHOOL_YEARS,
                                     metadata={"description": "the year beginning (this September's by default)"})
    plan_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                               metadata={"description": "the plan confirmed, from the dry run: refused (409 "
                                                        "`plan_changed`) if the school changed since"})



class Promotion(ma.Schema):
    unit_id = ma.fields.String()
    name = ma.fields.String()
    grade = ma.fields.Integer()
    new_name = ma.fields.String()
    new_grade = ma.fields.Integer()


class Graduation(ma.Schema):
    unit_id = ma.fields.String()
    name = ma.fields.String()
    grade = ma.fields.Integer()
    students = ma.fields.Integer(metadata={"description": "who leave the school with it"})


class Rollover(ma.Schema):
    dry_run = ma.fields.Boolean()
    plan_id = ma.fields.String(metadata={"description": "confirm exactly this plan with it"})
    academic_year = ma.fields.String()
    final_grade = ma.fields.Integer()
    promoted = ma.fields.List(ma.fields.Nested(Promotion))
    graduating = ma.fields.List(ma.fields.Nested(Graduation))
    parents_leaving = ma.fields.Integer(metadata={"description": "parents whose every child here graduates"})
    unchanged = ma.fields.List(ma.fields.Dict(), metadata={"description": "classes and groups with no grade"})
    conflicts = ma.fields.List(ma.fields.Dict(), metadata={"description": "names two classes would share"})


class UserRef(ma.Schema):
    user_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class Taught(ma.Schema):
    unit_id = ma.fields.String()
    subject = ma.fields.String(metadata={"description": "empty when the admin named none"})


class Member(ma.Schema):
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    unit_id = ma.fields.String(allow_none=True, metadata={"description": "a student's class or group"})
    teacher_verified = ma.fields.Boolean()
    joined_at = UtcDateTime()
    teaching = ma.fields.List(ma.fields.Nested(Taught), metadata={
        "description": "the classes and groups a teacher is assigned to, with the subject"})
    erase_at = UtcDateTime(allow_none=True, metadata={
        "description": "for the school's staff: when this person's data will be erased at their (or a parent's) "
                       "request; they leave the school then"})


class OrgstructureExport(ma.Schema):
    memberships = ma.fields.List(ma.fields.Dict(), metadata={"description": "schools with roles, joined and left"})
    classes = ma.fields.List(ma.fields.Dict(), metadata={"description": "classes and groups, from when to when"})
    children = ma.fields.List(ma.fields.Dict())
    applications = ma.fields.List(ma.fields.Dict(), metadata={"description": "schools' applications the user "
                                                              "filed"})
    join_requests = ma.fields.List(ma.fields.Dict())
    role_history = ma.fields.List(ma.fields.Dict(), metadata={"description": "roles granted and taken back"})
    teaching = ma.fields.List(ma.fields.Dict(), metadata={"description": "classes and groups taught, with the "
                                                          "subject"})


MemberPage = page_schema(Member, "MemberPage")


class MemberQuery(PageQuery):
    role = ma.fields.String(validate=validate.OneOf(sorted(ALL_ROLES)))
    unit_id = ma.fields.String(validate=validate.Length(max=32), metadata={
        "description": "the people of a class or group: its students, their parents and its subject teachers"})


class RoleGrant(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(("admin", "director", "deputy", "teacher")))


class RoleChange(ma.Schema):
    role = ma.fields.String()
    change = ma.fields.String(metadata={"description": "`granted` or `revoked`"})
    reason = ma.fields.String(metadata={"description": "`joined`, `application` (the school's first admin), "
                                                       "`readmitted`, `appointed`, `granted` or `revoked`"})
    by = ma.fields.String(allow_none=True, metadata={"description": "who decided it (an admin, the operator)"})
    at = UtcDateTime()


class RoleHistory(ma.Schema):
    user_id = ma.fields.String()
    roles = ma.fields.List(ma.fields.String(), metadata={"description": "now; none once the person left"})
    left_at = UtcDateTime(allow_none=True)
    left_reason = ma.fields.String(allow_none=True)
    history = ma.fields.List(ma.fields.Nested(RoleChange))


class TeacherAssignment(ma.Schema):
    user_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=32),
                               metadata={"description": "a teacher, deputy or director of the organisation"})
    subject = Name(load_default="", max_length=100, metadata={"example": "Математика"})


class Teacher(ma.Schema):
    unit_id = ma.fields.String()
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    subject = ma.fields.String()
    teacher_verified = ma.fields.Boolean()
    assigned_at = UtcDateTime()


TeacherPage = page_schema(Teacher, "TeacherPage")


class SendTo(ma.Schema):
    phone = ma.fields.String(validate=validate.Length(min=5, max=32), metadata={"example": "+79001234567"})
    email = ma.fields.Email(validate=validate.Length(max=254))

    @ma.validates_schema
    def one_destination(self, data, **kwargs):
        if bool(data.get("phone")) == bool(data.get("email")):
            raise ma.ValidationError("Give either a phone or an e-mail address.", "phone")


class InviteCreate(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(INVITABLE_ROLES))
    unit_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    child_user_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    expires_at = UtcDateTime(load_default=None, allow_none=True)
    max_uses = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=10000))
    requires_approval = JsonBoolean(load_default=False)
    full_name = Name(load_default="", max_length=200)
    send_to = ma.fields.Nested(SendTo, load_default=None, allow_none=True, metadata={
        "description": "the platform sends the link by SMS to this phone or by e-mail to this address; such an "
                       "invite is used once unless `max_uses` says more"})


class SentTo(ma.Schema):
    channel = ma.fields.String(metadata={"description": "`sms` or `email`"})
    to = ma.fields.String()
    sent_at = UtcDateTime()


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
    sent_to = ma.fields.Function(lambda i: SentTo().dump(invites.sent_to(i)) if i.sent_to else None)


InvitePage = page_schema(Invite, "InvitePage")


class InviteCreated(ma.Schema):
    id = ma.fields.String()
    token = ma.fields.String()
    url = ma.fields.String()
    expires_at = UtcDateTime()
    sent_to = ma.fields.Nested(SentTo, allow_none=True)


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
    left_reason = ma.fields.String(allow_none=True, metadata={
        "description": "`expelled` or `dismissed` when the person left the organisation so and asks to come "
                       "back; null when the invite itself asks for approval"})
    created_at = UtcDateTime()


JoinRequestPage = page_schema(JoinRequest, "JoinRequestPage")


class JoinRequestQuery(PageQuery):
    status = ma.fields.String(validate=validate.OneOf(("pending", "approved", "rejected")))


class Readmission(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(INVITABLE_ROLES))
    unit_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                               metadata={"description": "a student's class or group (required for students)"})
    child_user_id = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                                     metadata={"description": "a parent's child, a student here (required for "
                                                              "parents)"})


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


PEOPLE = "a count of people: null when between 1 and `suppressed_below` - 1, so that it identifies nobody"


class Active(ma.Schema):
    admin = ma.fields.Integer(allow_none=True)
    director = ma.fields.Integer(allow_none=True)
    deputy = ma.fields.Integer(allow_none=True)
    teacher = ma.fields.Integer(allow_none=True)
    student = ma.fields.Integer(allow_none=True)
    parent = ma.fields.Integer(allow_none=True)
    all = ma.fields.Integer(allow_none=True, metadata={"description": "everyone active, whatever their roles"})


class StatsWeek(ma.Schema):
    week = ma.fields.String(metadata={"description": "its Monday"})
    joins = ma.fields.Integer(allow_none=True, metadata={"description": "people who joined; " + PEOPLE})
    messages = ma.fields.Integer()
    calls = ma.fields.Integer()
    call_minutes = ma.fields.Integer()
    active = ma.fields.Nested(Active, metadata={"description": "active users by their roles now (wrote, joined a "
                                                               "chat or a call); " + PEOPLE})


class StatsDay(ma.Schema):
    day = ma.fields.String()
    active = ma.fields.Nested(Active)


class StatsUnit(ma.Schema):
    unit_id = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    messages = ma.fields.Integer(metadata={"description": "in the chats of the class or group, over the period"})
    calls = ma.fields.Integer()
    call_minutes = ma.fields.Integer()


class Stats(ma.Schema):
    org_id = ma.fields.String()
    from_ = ma.fields.String(data_key="from", attribute="from")
    to = ma.fields.String()
    suppressed_below = ma.fields.Integer(metadata={"description": "counts of people below this are not shown"})
    members_by_role = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True),
                                     metadata={"description": PEOPLE})
    members_by_unit = ma.fields.List(ma.fields.Dict(), metadata={"description": "`members`: " + PEOPLE})
    units = ma.fields.List(ma.fields.Nested(StatsUnit))
    pending_requests = ma.fields.Integer(allow_none=True, metadata={"description": "join requests waiting for an "
                                                                                   "admin; " + PEOPLE})
    weeks = ma.fields.List(ma.fields.Nested(StatsWeek))
    days = ma.fields.List(ma.fields.Nested(StatsDay))


class RosterUpload(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # other parts of the form are not read

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
