"""calls's own tables: calls with their invitees, participants and attendance,
and the projections of other services' facts it needs (who is who in which
school, names, teacher badges, chats with their members and moderators,
blocks), built from their events."""
import peewee

from services.common.clock import utcnow
from services.common.db import ServiceDatabase, id_field, model_base

db = ServiceDatabase("calls")

BaseModel = model_base(db)


# Projections (orgstructure, identity, messaging and moderation are the sources of truth).

class Org(BaseModel):
    org_id = peewee.CharField(max_length=32, primary_key=True)
    name = peewee.CharField(max_length=300, default="")


class OrgMember(BaseModel):
    """An active member of a school: the row is deleted when they leave it."""
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)
    roles = peewee.CharField(max_length=100, default="")  # comma-separated
    unit_id = peewee.CharField(max_length=32, null=True, index=True)  # a student's class

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class Person(BaseModel):
    user_id = peewee.CharField(max_length=32, primary_key=True)
    display_name = peewee.CharField(max_length=200, default="")


class VerifiedTeacher(BaseModel):
    org_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("org_id", "user_id"), True),)


class Chat(BaseModel):
    chat_id = peewee.CharField(max_length=32, primary_key=True)
    org_id = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)  # group | channel | direct | class
    purpose = peewee.CharField(max_length=16, null=True)
    unit_id = peewee.CharField(max_length=32, null=True)
    title = peewee.CharField(max_length=200, default="")
    moderator_ids = peewee.TextField(default="")  # comma-separated, as messaging last announced them
    archived = peewee.BooleanField(default=False)


class ChatMember(BaseModel):
    """A current member of a chat: the row is deleted when they leave it."""
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32, index=True)

    class Meta:
        indexes = ((("chat_id", "user_id"), True),)


class Block(BaseModel):
    """moderation's time-limited block in one chat."""
    chat_id = peewee.CharField(max_length=32)
    user_id = peewee.CharField(max_length=32)
    until = peewee.DateTimeField()

    class Meta:
        indexes = ((("chat_id", "user_id"), True),)


# calls's own facts.

class Call(BaseModel):
    id = id_field()
    org_id = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)  # direct | group | lesson | meeting | broadcast
    chat_id = peewee.CharField(max_length=32, null=True, index=True)
    unit_id = peewee.CharField(max_length=32, null=True)  # a lesson's class, from its chat
    title = peewee.CharField(max_length=200, default="")
    host_id = peewee.CharField(max_length=32)
    # scheduled | ringing | active | ended | cancelled
    status = peewee.CharField(max_length=16, index=True)
    mode = peewee.CharField(max_length=8)  # sfu | p2p, fixed when the call is made
    scheduled_at = peewee.DateTimeField(null=True)
    started_at = peewee.DateTimeField(null=True)
    ended_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    # answered | missed | declined | cancelled (direct calls); ended | empty | expired
    outcome = peewee.CharField(max_length=16, null=True)
    waiting_room = peewee.BooleanField(default=False)
    locked = peewee.BooleanField(default=False)
    reminded_at = peewee.DateTimeField(null=True)
    # Since when nobody has been in the call (a grace period for reconnects).
    empty_since = peewee.DateTimeField(null=True)
    # When the periodic jobs last looked at it.
    checked_at = peewee.DateTimeField(default=utcnow)
    room_secret = peewee.CharField(max_length=64, null=True)
    room_ready = peewee.BooleanField(default=False)

    class Meta:
        indexes = ((("status", "checked_at"), False),)


class Invitee(BaseModel):
    """Someone named by the call's maker: a meeting's invitee, a direct call's
    callee, a broadcast's presenter."""
    call = peewee.ForeignKeyField(Call, backref="invitees", on_delete="CASCADE")
    user_id = peewee.CharField(max_length=32, index=True)
    role = peewee.CharField(max_length=16)  # invitee | callee | presenter

    class Meta:
        indexes = ((("call", "user_id"), True),)


class Participant(BaseModel):
    """One person's place in one call, kept across their reconnects: the id is
    the participant id Janus knows them by and the one others address."""
    id = id_field()
    call = peewee.ForeignKeyField(Call, backref="participants", on_delete="CASCADE")
    user_id = peewee.CharField(max_length=32, index=True)
    role = peewee.CharField(max_length=16)  # host | presenter | participant | viewer
    # waiting | admitted | joined | left | removed | declined
    state = peewee.CharField(max_length=16)
    created_at = peewee.DateTimeField(default=utcnow)
    joined_at = peewee.DateTimeField(null=True)  # the latest join
    seen_at = peewee.DateTimeField(null=True)  # the client's latest sign of life
    # The room token Janus admits them with, and the Janus session and handles
    # the service holds on their behalf.
    token = peewee.CharField(max_length=64, null=True)
    janus_session = peewee.BigIntegerField(null=True)
    janus_handle = peewee.BigIntegerField(null=True)
    janus_subscriber = peewee.BigIntegerField(null=True)
    janus_private_id = peewee.BigIntegerField(null=True)  # what their subscriptions name (require_pvtid)
    kept_alive_at = peewee.DateTimeField(null=True, index=True)
    # Their PeerConnections with Janus that are up, and when that last changed.
    media_up = peewee.IntegerField(default=0)
    media_changed_at = peewee.DateTimeField(null=True)
    streams = peewee.TextField(default="{}")  # what they publish: a JSON object mid -> audio | video
    publishing = peewee.BooleanField(default=False)
    audio_muted = peewee.BooleanField(default=False)
    video_muted = peewee.BooleanField(default=False)
    hand_raised = peewee.BooleanField(default=False)

    class Meta:
        indexes = ((("call", "user_id"), True),)


class Attendance(BaseModel):
    """One stay of a participant in a call, from the media server's own
    events (or, for peer-to-peer calls, from the participant's client): a
    reconnect makes another."""
    call = peewee.ForeignKeyField(Call, backref="attendance", on_delete="CASCADE")
    participant = peewee.ForeignKeyField(Participant, backref="stays", on_delete="CASCADE")
    user_id = peewee.CharField(max_length=32)
    janus_session = peewee.BigIntegerField(null=True)
    joined_at = peewee.DateTimeField()
    left_at = peewee.DateTimeField(null=True)
    opened_by = peewee.CharField(max_length=16)  # sfu | reconciled | client
    closed_by = peewee.CharField(max_length=16, null=True)  # sfu | kicked | reconciled | client | ended

    class Meta:
        indexes = ((("participant", "left_at"), False),)


TABLES = [Org, OrgMember, Person, VerifiedTeacher, Chat, ChatMember, Block, Call, Invitee, Participant,
          Attendance]
