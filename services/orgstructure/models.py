"""orgstructure's own tables."""
import peewee

from services.common.clock import utcnow
from services.common.db import ServiceDatabase, id_field, model_base

db = ServiceDatabase("orgstructure")


BaseModel = model_base(db)


class Region(BaseModel):
    id = id_field()
    name = peewee.CharField(max_length=200, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)


class KnownUser(BaseModel):
    """What identity told us about users (identity.user.*): matching phones for
    admin grants, names for member lists."""
    user_id = peewee.CharField(max_length=32, primary_key=True)
    phone = peewee.CharField(max_length=20, null=True, index=True)
    display_name = peewee.CharField(max_length=100, default="")


class Organisation(BaseModel):
    id = id_field()
    region = peewee.ForeignKeyField(Region, backref="organisations")
    name = peewee.CharField(max_length=300)
    kind = peewee.CharField(max_length=16)  # school | college | additional
    address = peewee.CharField(max_length=300, default="")
    journal_url = peewee.CharField(max_length=500, default="")
    diary_url = peewee.CharField(max_length=500, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # The operator archived it (the school left the platform): readable, never changed.
    archived_at = peewee.DateTimeField(null=True)


class Application(BaseModel):
    """A school's request to join the platform, decided by the operator."""
    id = id_field()
    applicant_id = peewee.CharField(max_length=32, index=True)
    region = peewee.ForeignKeyField(Region)
    org_name = peewee.CharField(max_length=300)
    org_kind = peewee.CharField(max_length=16)
    admin_full_name = peewee.CharField(max_length=200)
    admin_phone = peewee.CharField(max_length=20)
    admin_email = peewee.CharField(max_length=254, null=True)
    # A file the applicant uploaded to messaging (earlier clients); the
    # document the operator opens is the one uploaded here (ApplicationDocument).
    document_file_id = peewee.CharField(max_length=64, null=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    reason = peewee.TextField(null=True)
    organisation = peewee.ForeignKeyField(Organisation, null=True)
    decided_by = peewee.CharField(max_length=32, null=True)
    decided_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class ApplicationDocument(BaseModel):
    """The director's order appointing the admin, attached to the application:
    kept here, so that the operator reviewing it needs no other service."""
    application = peewee.ForeignKeyField(Application, primary_key=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=100)
    size = peewee.IntegerField()
    sha256 = peewee.CharField(max_length=64)
    content = peewee.BlobField()
    uploaded_at = peewee.DateTimeField(default=utcnow)


class PendingAdmin(BaseModel):
    """Admin rights waiting for the phone of an approved application to sign in."""
    organisation = peewee.ForeignKeyField(Organisation)
    phone = peewee.CharField(max_length=20, index=True)
    full_name = peewee.CharField(max_length=200)
    granted_to = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class Unit(BaseModel):
    id = id_field()
    organisation = peewee.ForeignKeyField(Organisation, backref="units")
    name = peewee.CharField(max_length=100)
    kind = peewee.CharField(max_length=16)  # class | group | staff_room
    grade = peewee.IntegerField(null=True)
    academic_year = peewee.CharField(max_length=9, null=True)
    head_user_id = peewee.CharField(max_length=32, null=True)
    archived_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class Member(BaseModel):
    """A person in an organisation; `left_at` set once they left (history kept)."""
    organisation = peewee.ForeignKeyField(Organisation, backref="members")
    user_id = peewee.CharField(max_length=32, index=True)
    display_name = peewee.CharField(max_length=200, default="")
    teacher_verified = peewee.BooleanField(default=False)
    joined_at = peewee.DateTimeField(default=utcnow)
    left_at = peewee.DateTimeField(null=True)
    left_reason = peewee.CharField(max_length=16, null=True)  # expelled | dismissed | graduated

    class Meta:
        indexes = ((("organisation", "user_id"), True),)


class MemberRole(BaseModel):
    member = peewee.ForeignKeyField(Member, backref="role_rows", on_delete="CASCADE")
    role = peewee.CharField(max_length=16)

    class Meta:
        indexes = ((("member", "role"), True),)


class RoleChange(BaseModel):
    """The history of a member's roles: each role granted (joining, an
    appointment) and taken back, by whom and when."""
    organisation = peewee.ForeignKeyField(Organisation)
    user_id = peewee.CharField(max_length=32)
    role = peewee.CharField(max_length=16)
    change = peewee.CharField(max_length=8)  # granted | revoked
    reason = peewee.CharField(max_length=16)  # joined | application | readmitted | appointed | granted | revoked
    by = peewee.CharField(max_length=32, null=True)
    at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation", "user_id", "at"), False),)


class Placement(BaseModel):
    """Who was in which unit, when: a student's class, a teacher's staff room."""
    organisation = peewee.ForeignKeyField(Organisation)
    user_id = peewee.CharField(max_length=32, index=True)
    unit = peewee.ForeignKeyField(Unit, backref="placements")
    role = peewee.CharField(max_length=16)
    started_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    end_reason = peewee.CharField(max_length=16, null=True)  # transferred | expelled | dismissed | graduated


class TeachingAssignment(BaseModel):
    """A subject teacher of a class or group; `ended_at` set once it ended (history kept)."""
    organisation = peewee.ForeignKeyField(Organisation)
    unit = peewee.ForeignKeyField(Unit, backref="teaching")
    user_id = peewee.CharField(max_length=32, index=True)
    subject = peewee.CharField(max_length=100, default="")
    assigned_by = peewee.CharField(max_length=32)
    assigned_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    # unassigned | dismissed | role_revoked | archived | graduated
    end_reason = peewee.CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("unit", "user_id", "ended_at"), False),)


class ParentLink(BaseModel):
    organisation = peewee.ForeignKeyField(Organisation)
    parent_id = peewee.CharField(max_length=32, index=True)
    child_id = peewee.CharField(max_length=32, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)


class Invite(BaseModel):
    """A role-bound link; only a hash of its token is stored."""
    id = id_field()
    organisation = peewee.ForeignKeyField(Organisation, backref="invites")
    role = peewee.CharField(max_length=16)
    unit = peewee.ForeignKeyField(Unit, null=True)
    child_user_id = peewee.CharField(max_length=32, null=True)
    # A roster's parent invite names the child's invite: the link is made once both joined.
    child_invite = peewee.ForeignKeyField("self", null=True, backref="parent_invites")
    full_name = peewee.CharField(max_length=200, default="")
    token_hash = peewee.CharField(max_length=64, unique=True)
    expires_at = peewee.DateTimeField()
    max_uses = peewee.IntegerField(null=True)
    uses = peewee.IntegerField(default=0)
    requires_approval = peewee.BooleanField(default=False)
    revoked_at = peewee.DateTimeField(null=True)
    created_by = peewee.CharField(max_length=32)
    created_at = peewee.DateTimeField(default=utcnow)
    accepted_by = peewee.CharField(max_length=32, null=True)  # the last user who used it
    # Where the platform sent the link, "sms:<phone>" or "email:<address>".
    sent_to = peewee.CharField(max_length=260, null=True)
    sent_at = peewee.DateTimeField(null=True)


class JoinRequest(BaseModel):
    id = id_field()
    organisation = peewee.ForeignKeyField(Organisation)
    invite = peewee.ForeignKeyField(Invite)
    user_id = peewee.CharField(max_length=32)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    # Why an admin decides: null when the invite asks for approval, `expelled`
    # or `dismissed` when the person left so and comes back.
    left_reason = peewee.CharField(max_length=16, null=True)
    decided_by = peewee.CharField(max_length=32, null=True)
    decided_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class RosterImport(BaseModel):
    id = id_field()
    organisation = peewee.ForeignKeyField(Organisation)
    created_by = peewee.CharField(max_length=32)
    content = peewee.TextField()
    status = peewee.CharField(max_length=16, default="queued", index=True)
    total_rows = peewee.IntegerField(default=0)
    processed_rows = peewee.IntegerField(default=0)
    errors = peewee.TextField(default="[]")
    result = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)


class ErasureNotice(BaseModel):
    """A person whose data will be erased at `erase_at` (identity's events):
    their schools' admins see it in the member list."""
    user_id = peewee.CharField(max_length=32, primary_key=True)
    erase_at = peewee.DateTimeField()


class WeeklyStat(BaseModel):
    """Usage counters by organisation, unit and ISO week (its Monday)."""
    organisation_id = peewee.CharField(max_length=32)
    unit_id = peewee.CharField(max_length=32, default="")
    week = peewee.DateField()
    metric = peewee.CharField(max_length=32)
    value = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("organisation_id", "unit_id", "week", "metric"), True),)


class YearRollover(BaseModel):
    """The school year moved on: every class up a grade, the graduating ones
    let go. Once per organisation and academic year; the plan carried out kept."""
    organisation = peewee.ForeignKeyField(Organisation)
    academic_year = peewee.CharField(max_length=9)
    plan = peewee.TextField()
    by = peewee.CharField(max_length=32)
    at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation", "academic_year"), True),)


class ChatUnit(BaseModel):
    """Which class or group a chat belongs to (messaging's chats bound to a
    unit): messages and calls are counted by class and group."""
    chat_id = peewee.CharField(max_length=32, primary_key=True)
    organisation_id = peewee.CharField(max_length=32)
    unit_id = peewee.CharField(max_length=32)


class Activity(BaseModel):
    """Who did something (wrote, joined a chat or a call) on which day: active
    users are counted from it, and it never leaves orgstructure."""
    organisation_id = peewee.CharField(max_length=32)
    day = peewee.DateField()
    user_id = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("organisation_id", "day", "user_id"), True),)


class DigestSent(BaseModel):
    """The weekly digest of a finished week went out for the organisation."""
    organisation_id = peewee.CharField(max_length=32)
    week = peewee.DateField()
    sent_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation_id", "week"), True),)


TABLES = [Region, KnownUser, Organisation, Application, ApplicationDocument, PendingAdmin, Unit, Member, MemberRole,
          RoleChange, Placement, TeachingAssignment, ParentLink, Invite, JoinRequest, RosterImport, ErasureNotice,
          WeeklyStat, ChatUnit, Activity, DigestSent, YearRollover]
