"""orgstructure's own tables."""
import peewee

from services.common.clock import utcnow
from services.common.db import id_field, model_base

db = peewee.DatabaseProxy()


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


class Application(BaseModel):
    """A school's request to join the platform, decided by the operator."""
    id = id_field()
    applicant_id = peewee.CharField(max_length=32, index=True)
    region = peewee.ForeignKeyField(Region)
    org_name = peewee.CharField(max_length=300)
    org_kind = peewee.CharField(max_length=16)
    admin_full_name = peewee.CharField(max_length=200)
    admin_phone = peewee.CharField(max_length=20)
    document_file_id = peewee.CharField(max_length=64, null=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    reason = peewee.TextField(null=True)
    organisation = peewee.ForeignKeyField(Organisation, null=True)
    decided_by = peewee.CharField(max_length=32, null=True)
    decided_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


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
    left_reason = peewee.CharField(max_length=16, null=True)  # expelled | dismissed

    class Meta:
        indexes = ((("organisation", "user_id"), True),)


class MemberRole(BaseModel):
    member = peewee.ForeignKeyField(Member, backref="role_rows", on_delete="CASCADE")
    role = peewee.CharField(max_length=16)

    class Meta:
        indexes = ((("member", "role"), True),)


class Placement(BaseModel):
    """Who was in which unit, when: a student's class, a teacher's staff room."""
    organisation = peewee.ForeignKeyField(Organisation)
    user_id = peewee.CharField(max_length=32, index=True)
    unit = peewee.ForeignKeyField(Unit, backref="placements")
    role = peewee.CharField(max_length=16)
    started_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    end_reason = peewee.CharField(max_length=16, null=True)  # transferred | expelled | dismissed


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


class JoinRequest(BaseModel):
    id = id_field()
    organisation = peewee.ForeignKeyField(Organisation)
    invite = peewee.ForeignKeyField(Invite)
    user_id = peewee.CharField(max_length=32)
    status = peewee.CharField(max_length=16, default="pending", index=True)
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


class WeeklyStat(BaseModel):
    """Usage counters by organisation, unit and ISO week (its Monday)."""
    organisation_id = peewee.CharField(max_length=32)
    unit_id = peewee.CharField(max_length=32, default="")
    week = peewee.DateField()
    metric = peewee.CharField(max_length=32)
    value = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("organisation_id", "unit_id", "week", "metric"), True),)


TABLES = [Region, KnownUser, Organisation, Application, PendingAdmin, Unit, Member, MemberRole,
          Placement, ParentLink, Invite, JoinRequest, RosterImport, WeeklyStat]
