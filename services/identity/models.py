"""identity's own tables."""
import peewee

from services.common.clock import utcnow
from services.common.db import ServiceDatabase, id_field, model_base

db = ServiceDatabase("identity")


BaseModel = model_base(db)


class User(BaseModel):
    id = id_field()
    phone = peewee.CharField(max_length=20, unique=True, null=True)
    # A parent's address signs in each of their primary-school children's own accounts.
    email = peewee.CharField(max_length=254, index=True, null=True)
    display_name = peewee.CharField(max_length=100, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # Set once the person's data was erased: what is left is this id, which
    # their revoked sessions still point to.
    erased_at = peewee.DateTimeField(null=True)


class LoginCode(BaseModel):
    """A one-time sign-in code; only its keyed hash is stored."""
    channel = peewee.CharField(max_length=8)  # sms | email
    destination = peewee.CharField(max_length=254, index=True)
    code_hash = peewee.CharField(max_length=64)
    ip = peewee.CharField(max_length=64, index=True, null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    expires_at = peewee.DateTimeField()
    failed_attempts = peewee.IntegerField(default=0)
    used_at = peewee.DateTimeField(null=True)
    dead = peewee.BooleanField(default=False)


class Session(BaseModel):
    id = id_field()
    user = peewee.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    refreshed_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True, index=True)  # the recently revoked are read at every start
    revoke_reason = peewee.CharField(max_length=64, null=True)
    user_agent = peewee.CharField(max_length=256, default="")


class RefreshToken(BaseModel):
    """Every refresh token a session was given; a rotated one must never come back."""
    token_hash = peewee.CharField(max_length=64, primary_key=True)
    session = peewee.ForeignKeyField(Session, backref="refresh_tokens", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    rotated_at = peewee.DateTimeField(null=True)


class SigningKey(BaseModel):
    kid = peewee.CharField(max_length=64, primary_key=True)
    private_pem = peewee.TextField()  # encrypted with SECRET_KEY
    public_jwk = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)
    retire_after = peewee.DateTimeField(null=True)


class DevMessage(BaseModel):
    """What the console providers "sent"; written only when SFERUM_DEV=1."""
    channel = peewee.CharField(max_length=8)
    to = peewee.CharField(max_length=254, index=True)
    code = peewee.CharField(max_length=16)  # empty for a notice
    sent_at = peewee.DateTimeField(default=utcnow)
    text = peewee.TextField(default="")  # a notice's text


class Notification(BaseModel):
    """An SMS or e-mail the platform sends on others' behalf (an invite, an
    application's decision), queued with the event that asked for it and sent
    by a job that tries again until the provider takes it. Its text (which
    may carry an invite's link) is blanked once sent."""
    channel = peewee.CharField(max_length=8)  # sms | email
    to = peewee.CharField(max_length=254)
    subject = peewee.CharField(max_length=200, default="")
    text = peewee.TextField()
    kind = peewee.CharField(max_length=32)  # invite | application_approved | application_rejected
    created_at = peewee.DateTimeField(default=utcnow)
    due_at = peewee.DateTimeField(default=utcnow, index=True)
    attempts = peewee.IntegerField(default=0)
    sent_at = peewee.DateTimeField(null=True)
    failed_at = peewee.DateTimeField(null=True)


class Organisation(BaseModel):
    """The region of each organisation, learned from orgstructure's events: its
    operator confirms the teacher status of a school's single administrator."""
    org_id = peewee.CharField(max_length=32, primary_key=True)
    region_id = peewee.CharField(max_length=32)


class OrgMembership(BaseModel):
    """Who belongs where with which roles, learned from orgstructure's events."""
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    roles = peewee.CharField(max_length=200, default="")  # comma-separated
    active = peewee.BooleanField(default=True)

    class Meta:
        indexes = ((("org_id", "user_id"), True),)

    @property
    def role_set(self) -> set[str]:
        return set(filter(None, self.roles.split(",")))


class ParentLink(BaseModel):
    """Who is whose parent, learned from orgstructure's events: a parent asks
    for their child's data to be erased."""
    org_id = peewee.CharField(max_length=32)
    parent_id = peewee.CharField(max_length=32, index=True)
    child_id = peewee.CharField(max_length=32, index=True)

    class Meta:
        indexes = ((("org_id", "parent_id", "child_id"), True),)


class ErasureRequest(BaseModel):
    """A request to erase a person's data (152-FZ), by the person or a parent:
    carried out at `erase_at` unless cancelled before."""
    id = id_field()
    user_id = peewee.CharField(max_length=32, index=True)
    requested_by = peewee.CharField(max_length=32)
    requested_at = peewee.DateTimeField(default=utcnow)
    erase_at = peewee.DateTimeField()
    status = peewee.CharField(max_length=16, default="pending")  # pending | cancelled | erased
    decided_by = peewee.CharField(max_length=32, null=True)  # who cancelled it
    decided_at = peewee.DateTimeField(null=True)  # cancelled or carried out

    class Meta:
        indexes = ((("status", "erase_at"), False),)


class Verification(BaseModel):
    """A teacher's request for the confirmed "teacher" status in one organisation."""
    id = id_field()
    user = peewee.ForeignKeyField(User, backref="verifications")
    org_id = peewee.CharField(max_length=32, index=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)  # pending|approved|rejected|revoked
    decided_by = peewee.CharField(max_length=32, null=True)
    decided_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


TABLES = [User, LoginCode, Session, RefreshToken, SigningKey, DevMessage, Notification, Organisation, OrgMembership,
          ParentLink, ErasureRequest, Verification]
