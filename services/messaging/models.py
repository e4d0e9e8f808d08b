"""messaging's own tables: chats, membership and invitations, messages, files,
polls, and the projections of other services' facts it needs (who is who in
which organisation, names, badges, blocks), built from their events."""
import peewee

from services.common.clock import utcnow
from services.common.db import ServiceDatabase, id_field, model_base

db = ServiceDatabase("messaging")


BaseModel = model_base(db)


# Projections (orgstructure and identity are the sources of truth).

class Org(BaseModel):
    org_id = peewee.CharField(max_length=32, primary_key=True)
    name = peewee.CharField(max_length=300, default="")
    journal_url = peewee.CharField(max_length=500, default="")
    diary_url = peewee.CharField(max_length=500, default="")


class Unit(BaseModel):
    unit_id = peewee.CharField(max_length=32, primary_key=True)
    org_id = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)
    name = peewee.CharField(max_length=100, default="")
    head_user_id = peewee.CharField(max_length=32, null=True)
    archived = peewee.BooleanField(default=False)


class OrgMember(BaseModel):
    """An active member of an organisation: rows are deleted when they leave."""
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    roles = peewee.CharField(max_length=100, default="")  # comma-separated
    unit_id = peewee.CharField(max_length=32, null=True)  # a student's class

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class ParentLink(BaseModel):
    org_id = peewee.CharField(max_length=32)
    parent_id = peewee.CharField(max_length=32, index=True)
    child_id = peewee.CharField(max_length=32, index=True)
    unit_id = peewee.CharField(max_length=32, null=True)

    class Meta:
        indexes = ((("org_id", "parent_id", "child_id"), True),)


class Person(BaseModel):
    user_id = peewee.CharField(max_length=32, primary_key=True)
    display_name = peewee.CharField(max_length=200, default="")


class VerifiedTeacher(BaseModel):
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class Block(BaseModel):
    """moderation's time-limited ban on posting in one chat."""
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32)
    until = peewee.DateTimeField()

    class Meta:
        indexes = ((("chat_id", "user_id"), True),)


class TeachingAssignment(BaseModel):
    """A subject teacher of a class or group (orgstructure's teaching assignments)."""
    org_id = peewee.CharField(max_length=32)
    unit_id = peewee.CharField(max_length=32, index=True)
    user_id = peewee.CharField(max_length=32, index=True)
    subject = peewee.CharField(max_length=100, default="")

    class Meta:
        indexes = ((("unit_id", "user_id"), True),)


class OpenReport(BaseModel):
    """A report moderation holds open for a chat's moderators: their badge count."""
    report_id = peewee.CharField(max_length=32, primary_key=True)
    chat_id = peewee.CharField(max_length=32, index=True)


# messaging's own facts.

class Chat(BaseModel):
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)  # group | channel | direct | class
    # Official chats exist without anyone creating them: teachers, class_students,
    # class_parents, class_teachers, school (channel), staff (channel).
    purpose = peewee.CharField(max_length=16, null=True)
    unit_id = peewee.CharField(max_length=32, null=True, index=True)
    title = peewee.CharField(max_length=200)
    rules = peewee.TextField(default="[]")  # a JSON list of strings
    rules_version = peewee.IntegerField(default=1)
    created_by = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    archived_at = peewee.DateTimeField(null=True)
    last_seq = peewee.BigIntegerField(default=0)
    last_message_at = peewee.DateTimeField(null=True, index=True)
    # A direct chat's pair, "<smaller id>:<larger id>", so that there is one per pair.
    direct_key = peewee.CharField(max_length=100, null=True, unique=True)
    # A student's message that the filters flag waits for a moderator's review.
    hold_flagged = peewee.BooleanField(default=False)
    # Who of the class (`unit_id`) the chat is for: students | parents | both. They
    # are invited when it is made, and so are those who come to the class later.
    audience = peewee.CharField(max_length=16, null=True)
    # Set by the platform: the school channel's says where to find support.
    description = peewee.TextField(default="")

    @property
    def official(self) -> bool:
        return self.purpose is not None

    class Meta:
        indexes = ((("org_id", "purpose", "unit_id"), False),)


class ChatMember(BaseModel):
    """One stay of a user in a chat; `left_at` is set when it ends (history kept)."""
    chat = peewee.ForeignKeyField(Chat, backref="memberships")
    user_id = peewee.CharField(max_length=32, index=True)
    role = peewee.CharField(max_length=16, default="member")  # member | moderator
    accepted_rules_version = peewee.IntegerField()
    joined_at = peewee.DateTimeField(default=utcnow)
    joined_by = peewee.CharField(max_length=16)  # invitation | link | creator
    last_read_seq = peewee.BigIntegerField(default=0)
    left_at = peewee.DateTimeField(null=True)
    left_reason = peewee.CharField(max_length=32, null=True)

    class Meta:
        indexes = ((("chat", "user_id", "left_at"), False),)


class ChatAdministrator(BaseModel):
    """A member of the school's staff whom a director or an admin appointed to
    moderate the chat; they hold the moderator role while they are in it."""
    chat = peewee.ForeignKeyField(Chat, backref="administrators")
    user_id = peewee.CharField(max_length=32, index=True)
    appointed_by = peewee.CharField(max_length=32)
    appointed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("chat", "user_id"), True),)


class ChatInvitation(BaseModel):
    """A personal invitation: the user joins only by accepting it with the rules."""
    id = id_field()
    chat = peewee.ForeignKeyField(Chat, backref="invitations")
    user_id = peewee.CharField(max_length=32, index=True)
    invited_by = peewee.CharField(max_length=32, null=True)  # None: the platform (official chats)
    role = peewee.CharField(max_length=16, default="member")
    status = peewee.CharField(max_length=16, default="pending")  # pending | accepted | declined | withdrawn
    reason = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    decided_at = peewee.DateTimeField(null=True)


class ChatLink(BaseModel):
    """A join link made by a moderator; only a hash of its token is stored."""
    id = id_field()
    chat = peewee.ForeignKeyField(Chat, backref="links")
    token_hash = peewee.CharField(max_length=64, unique=True)
    roles = peewee.CharField(max_length=100, default="")  # empty: any member of the organisation
    # Only for the people of this class or group: its students, their parents, its teachers.
    unit_id = peewee.CharField(max_length=32, null=True)
    expires_at = peewee.DateTimeField(null=True)
    max_uses = peewee.IntegerField(null=True)
    uses = peewee.IntegerField(default=0)
    created_by = peewee.CharField(max_length=32)
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)


class StoredFile(BaseModel):
    id = id_field()
    uploader_id = peewee.CharField(max_length=32, index=True)
    name = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=100)
    size = peewee.BigIntegerField()
    # Empty for a file the S3 bucket assembled from parts: its bytes were never read whole here.
    sha256 = peewee.CharField(max_length=64)
    storage_key = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)


class Upload(BaseModel):
    """A large file on its way in parts, one request each, in order; it becomes a
    StoredFile once every part is there and the whole is of an allowed kind."""
    id = id_field()
    uploader_id = peewee.CharField(max_length=32, index=True)
    name = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=100)  # the platform's, from the name's kind
    size = peewee.BigIntegerField()
    part_size = peewee.IntegerField()
    storage_key = peewee.CharField(max_length=64)
    storage_ref = peewee.CharField(max_length=1024, default="")  # the bucket's multipart upload id
    status = peewee.CharField(max_length=16, default="open")  # open | complete | refused | aborted
    file = peewee.ForeignKeyField(StoredFile, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(index=True)


class UploadPart(BaseModel):
    upload = peewee.ForeignKeyField(Upload, backref="parts", on_delete="CASCADE")
    number = peewee.IntegerField()  # from 1
    size = peewee.BigIntegerField()
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("upload", "number"), True),)


class Message(BaseModel):
    id = id_field()
    chat = peewee.ForeignKeyField(Chat, backref="messages")
    seq = peewee.BigIntegerField()  # the chat's own order; history cursors use it
    kind = peewee.CharField(max_length=16, default="text")  # text | poll | notice
    author_id = peewee.CharField(max_length=32, null=True)  # None: a notice of the platform, or an erased author
    # The author's personal data was erased: the message stays, by "a deleted user".
    author_erased = peewee.BooleanField(default=False)
    # Whom a notice of the platform names (an apology, a block lifted early): it goes with their data.
    about_user_id = peewee.CharField(max_length=32, null=True, index=True)
    text = peewee.TextField(default="")
    reply_to = peewee.CharField(max_length=32, null=True)
    poll_id = peewee.CharField(max_length=32, null=True)
    call_id = peewee.CharField(max_length=32, null=True)  # a notice about a call: the client's join button
    created_at = peewee.DateTimeField(default=utcnow)
    edited_at = peewee.DateTimeField(null=True)
    deleted_at = peewee.DateTimeField(null=True)
    deleted_by = peewee.CharField(max_length=32, null=True)
    delete_reason = peewee.CharField(max_length=64, null=True)
    # Held for a moderator's review: seen only by its author and the chat's moderators.
    held_at = peewee.DateTimeField(null=True)
    flags = peewee.CharField(max_length=100, null=True)  # comma-separated, services.common.filters

    class Meta:
        indexes = ((("chat", "seq"), True),)


class MessageFile(BaseModel):
    message = peewee.ForeignKeyField(Message, backref="attachments")
    file = peewee.ForeignKeyField(StoredFile, backref="attachments")
    position = peewee.IntegerField()

    class Meta:
        indexes = ((("message", "file"), True),)


class Poll(BaseModel):
    id = id_field()
    chat = peewee.ForeignKeyField(Chat)
    created_by = peewee.CharField(max_length=32)
    question = peewee.CharField(max_length=300)
    multiple = peewee.BooleanField(default=False)
    anonymous = peewee.BooleanField(default=False)
    closes_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class PollOption(BaseModel):
    id = id_field()
    poll = peewee.ForeignKeyField(Poll, backref="options")
    position = peewee.IntegerField()
    text = peewee.CharField(max_length=200)


class Vote(BaseModel):
    poll = peewee.ForeignKeyField(Poll, backref="votes")
    option = peewee.ForeignKeyField(PollOption, backref="votes")
    user_id = peewee.CharField(max_length=32)
    # 0 in a single-choice poll, so that the database keeps one vote per
    # person there; the option's position in a multiple-choice one.
    slot = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("poll", "option", "user_id"), True), (("poll", "user_id", "slot"), True))


TABLES = [Org, Unit, OrgMember, ParentLink, Person, VerifiedTeacher, Block, TeachingAssignment, OpenReport, Chat,
          ChatMember, ChatAdministrator, ChatInvitation, ChatLink, StoredFile, Upload, UploadPart, Message,
          MessageFile, Poll, PollOption, Vote]
