"""moderation's own tables: reports, violations, blocks, unblock requests with
their objections, appeals and the append-only moderation log; and the
projections of other services' facts it needs (who is who in which school,
names, chats with their rules, members and moderators, messages' authors),
built from their events."""
import peewee

from services.common.clock import utcnow
from services.common.db import ServiceDatabase, id_field, model_base

db = ServiceDatabase("moderation")

BaseModel = model_base(db)


# Projections (orgstructure, identity and messaging are the sources of truth).

class OrgMember(BaseModel):
    """An active member of a school: rows are deleted when they leave."""
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    roles = peewee.CharField(max_length=100, default="")  # comma-separated

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class Person(BaseModel):
    user_id = peewee.CharField(max_length=32, primary_key=True)
    display_name = peewee.CharField(max_length=200, default="")


class VerifiedTeacher(BaseModel):
    """Whose teacher status identity confirmed in which school: only they moderate."""
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class Chat(BaseModel):
    chat_id = peewee.CharField(max_length=32, primary_key=True)
    org_id = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)
    purpose = peewee.CharField(max_length=16, null=True)
    title = peewee.CharField(max_length=200, default="")
    rules = peewee.TextField(default="[]")  # a JSON list: rule n is rules[n - 1]
    rules_version = peewee.IntegerField(default=1)
    archived = peewee.BooleanField(default=False)


class ChatMember(BaseModel):
    """An active member of a chat: rows are deleted when they leave it."""
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)

    class Meta:
        indexes = ((("chat_id", "user_id"), True),)


class Moderator(BaseModel):
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)

    class Meta:
        indexes = ((("chat_id", "user_id"), True),)


class Message(BaseModel):
    """What reports and filters need of a message. Its text is kept for the
    filters and as evidence in reports; it is blanked after a while."""
    message_id = peewee.CharField(max_length=32, primary_key=True)
    chat_id = peewee.CharField(max_length=32)
    org_id = peewee.CharField(max_length=32)
    author_id = peewee.CharField(max_length=32)
    text = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    deleted_at = peewee.DateTimeField(null=True)
    held = peewee.BooleanField(default=False)

    class Meta:
        indexes = ((("chat_id", "author_id", "created_at"), False),)


# moderation's own facts.

class Report(BaseModel):
    """A member's report of a message, or an automatic flag of one."""
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    chat_id = peewee.CharField(max_length=32)
    message_id = peewee.CharField(max_length=32, index=True)
    author_id = peewee.CharField(max_length=32, index=True)  # the reported person
    reporter_id = peewee.CharField(max_length=32, null=True, index=True)  # None: the filters
    source = peewee.CharField(max_length=16)  # member | filter
    rule = peewee.IntegerField(null=True)
    rule_text = peewee.TextField(null=True)
    reason = peewee.TextField(default="")
    flags = peewee.TextField(default="{}")  # JSON: flag -> what was found
    excerpt = peewee.TextField(default="")
    held = peewee.BooleanField(default=False)
    status = peewee.CharField(max_length=16, default="open")  # open | resolved | closed
    outcome = peewee.CharField(max_length=32, null=True)
    resolved_by = peewee.CharField(max_length=32, null=True)
    resolved_at = peewee.DateTimeField(null=True)
    note = peewee.TextField(default="")
    violation_id = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("chat_id", "status"), False),)


class Violation(BaseModel):
    """A rule of the chat broken by a member, with the rule's text as it was."""
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    rule = peewee.IntegerField()
    rules_version = peewee.IntegerField()
    rule_text = peewee.TextField()
    message_id = peewee.CharField(max_length=32, null=True)
    note = peewee.TextField(default="")
    recorded_by = peewee.CharField(max_length=32)
    created_at = peewee.DateTimeField(default=utcnow)
    block_id = peewee.CharField(max_length=32, null=True)  # the block that cited it
    voided_at = peewee.DateTimeField(null=True)  # the school found it was no violation

    class Meta:
        indexes = ((("chat_id", "user_id"), False),)


class Block(BaseModel):
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    blocked_by = peewee.CharField(max_length=32)
    note = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    until = peewee.DateTimeField()
    status = peewee.CharField(max_length=16, default="active")  # active | ended
    ended_at = peewee.DateTimeField(null=True)
    end_reason = peewee.CharField(max_length=32, null=True)  # expired | apologised | appeal | member_left

    class Meta:
        indexes = ((("chat_id", "user_id", "status"), False), (("status", "until"), False))


class UnblockRequest(BaseModel):
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    chat_id = peewee.CharField(max_length=32, index=True)
    block_id = peewee.CharField(max_length=32, index=True)
    user_id = peewee.CharField(max_length=32)
    apology = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)
    window_ends_at = peewee.DateTimeField()
    objections = peewee.IntegerField(default=0)
    status = peewee.CharField(max_length=16, default="open")  # open | closed
    outcome = peewee.CharField(max_length=32, null=True)  # unblocked | block_ended | member_left
    closed_at = peewee.DateTimeField(null=True)


class Objection(BaseModel):
    request = peewee.ForeignKeyField(UnblockRequest, backref="objection_rows")
    user_id = peewee.CharField(max_length=32)
    reason = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("request", "user_id"), True),)


class Appeal(BaseModel):
    """A blocked member's appeal to the school's admins."""
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    chat_id = peewee.CharField(max_length=32)
    block_id = peewee.CharField(max_length=32, index=True)
    user_id = peewee.CharField(max_length=32)
    text = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)
    status = peewee.CharField(max_length=16, default="open")  # open | upheld | lifted | closed
    decided_by = peewee.CharField(max_length=32, null=True)
    decided_at = peewee.DateTimeField(null=True)
    note = peewee.TextField(default="")


class LogPerson(BaseModel):
    """A person as the moderation log names them: by a pseudonym, with a key
    that seals the words they wrote there. Erasing the person drops this row:
    the log's entries stay as they are, but nothing ties them to the person
    any more, and their words can no longer be read."""
    user_id = peewee.CharField(max_length=32, primary_key=True)
    pseudonym = peewee.CharField(max_length=32, unique=True)
    key = peewee.CharField(max_length=64)  # 256 bits, hex
    created_at = peewee.DateTimeField(default=utcnow)


class LogEntry(BaseModel):
    """One moderation action: who, whom, which rules with their texts at that
    moment, when and why. Rows are only ever added (the database refuses to
    change or delete them). People are named by their LogPerson pseudonyms
    (entries written before pseudonyms existed name them by their ids, which
    serve as their pseudonyms)."""
    id = id_field()
    org_id = peewee.CharField(max_length=32)
    chat_id = peewee.CharField(max_length=32, null=True)
    action = peewee.CharField(max_length=32)
    actor_id = peewee.CharField(max_length=32, null=True)  # a pseudonym; None: the platform
    subject_id = peewee.CharField(max_length=32, null=True)  # a pseudonym
    rules = peewee.TextField(default="[]")  # JSON: [{"number", "text"}]
    note = peewee.TextField(default="")  # sealed with the actor's key when a person wrote it
    refs = peewee.TextField(default="{}")  # JSON: ids of what it concerns
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org_id", "created_at"), False), (("chat_id", "created_at"), False))


TABLES = [OrgMember, Person, VerifiedTeacher, Chat, ChatMember, Moderator, Message, Report, Violation, Block,
          UnblockRequest, Objection, Appeal, LogPerson, LogEntry]
