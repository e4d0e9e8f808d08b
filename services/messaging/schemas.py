"""messaging's request and response schemas (the OpenAPI contract)."""
import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from services.common.fields import JsonBoolean, UtcDateTime
from services.common.pagination import PageQuery, page_schema
from services.common.text import Name, Text

from .chats import AUDIENCES, ORG_ROLES
from .messages import MAX_FILES, MAX_TEXT

Id = ma.fields.String
RULE = Text(min_length=1, max_length=500)


class Person(ma.Schema):
    id = ma.fields.String(allow_none=True)
    display_name = ma.fields.String()
    teacher_verified = ma.fields.Boolean()
    erased = ma.fields.Boolean(metadata={"description": "a person whose data was erased: shown as "
                                         "«Удалённый пользователь»"})


class OrgLinks(ma.Schema):
    name = ma.fields.String()
    journal_url = ma.fields.String()
    diary_url = ma.fields.String()


class ChatPreview(ma.Schema):
    id = ma.fields.String()
    org_id = ma.fields.String()
    kind = ma.fields.String()
    official = ma.fields.Boolean()
    purpose = ma.fields.String(allow_none=True, metadata={"description": "set for official chats: school, "
                               "staff, teachers, class_students, class_parents, class_teachers (the class head "
                               "with the class's subject teachers)"})
    unit_id = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    rules = ma.fields.List(ma.fields.String())
    rules_version = ma.fields.Integer()
    member_count = ma.fields.Integer()


class LinkPreview(ChatPreview):
    already_member = ma.fields.Boolean()


class Chat(ChatPreview):
    audience = ma.fields.String(allow_none=True, metadata={"description": "students | parents | both of the "
                                                           "class `unit_id`, invited when they come to it"})
    archived = ma.fields.Boolean()
    created_at = ma.fields.String()
    my_role = ma.fields.String(allow_none=True)
    hold_flagged = ma.fields.Boolean(metadata={"description": "a student's message that the filters flag waits "
                                               "for a moderator's review"})
    open_reports = ma.fields.Integer(allow_none=True, metadata={"description": "for moderators: reports waiting "
                                                                "in moderation's queue"})
    org = ma.fields.Nested(OrgLinks, metadata={"description": "the school's journal and diary links"})
    description = ma.fields.String(metadata={"description": "set by the platform: the school's announcements "
                                                            "channel says where to find support"})


class Message(ma.Schema):
    id = ma.fields.String()
    read_count = ma.fields.Integer(metadata={"description": "in a channel, for its administrators: how many "
                                             "members read the post"})
    chat_id = ma.fields.String()
    seq = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "text | poll | notice (said by the platform)"})
    author = ma.fields.Nested(Person, allow_none=True)
    text = ma.fields.String()
    reply_to = ma.fields.String(allow_none=True)
    files = ma.fields.List(ma.fields.Dict())
    poll_id = ma.fields.String(allow_none=True)
    call_id = ma.fields.String(allow_none=True, metadata={
        "description": "a notice about a call (planned, started, missed): GET /calls/{id}, and the join button"})
    created_at = ma.fields.String()
    edited_at = ma.fields.String(allow_none=True)
    held = ma.fields.Boolean(metadata={"description": "held for a moderator's review: seen only by its author "
                                       "and the chat's moderators"})


MessagePage = page_schema(Message, "MessagePage")


class ChatListItem(Chat):
    unread_count = ma.fields.Integer()
    last_message = ma.fields.Nested(Message, allow_none=True)


ChatListPage = page_schema(ChatListItem, "ChatListPage")


class ChatCreate(ma.Schema):
    org_id = Id(required=True, validate=validate.Length(min=1, max=32))
    kind = ma.fields.String(required=True, validate=validate.OneOf(("group", "channel", "direct")))
    title = Name(max_length=200)
    rules = ma.fields.List(RULE, load_default=list, validate=validate.Length(max=20))
    invite_user_ids = ma.fields.List(Id(validate=validate.Length(max=32)), load_default=list,
                                     validate=validate.Length(max=500))
    user_id = Id(validate=validate.Length(max=32), metadata={"description": "the other person of a direct chat"})
    unit_id = Id(load_default=None, allow_none=True, validate=validate.Length(max=32),
                 metadata={"description": "a class the chat belongs to: its students leave it when they move"})
    audience = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AUDIENCES), metadata={
        "description": "with `unit_id`: the class's students, their parents, or both are invited (never added), "
                       "now and when they come to the class later. For the school's admins, director and "
                       "deputies, the class head and the class's subject teachers (403 `not_teaching_this_class` "
                       "for other teachers)"})

    @ma.validates_schema
    def _by_kind(self, data, **kwargs):
        if data["kind"] == "direct":
            if not data.get("user_id"):
                raise ma.ValidationError("A direct chat names the other person.", "user_id")
        elif not data.get("title"):
            raise ma.ValidationError("A chat has a title.", "title")
        if data.get("audience") and (data["kind"] == "direct" or not data.get("unit_id")):
            raise ma.ValidationError("An audience is that of a class: give `unit_id` (not for direct chats).",
                                     "audience")


class ChatUpdate(ma.Schema):
    title = Name(min_length=1, max_length=200)
    rules = ma.fields.List(RULE, validate=validate.Length(max=20))
    hold_flagged = JsonBoolean(metadata={"description": "hold students' messages that the filters flag "
                                               "(stop words, outside links) for a moderator's review"})


class ChatMember(Person):
    user_id = ma.fields.String()
    role = ma.fields.String()
    joined_at = UtcDateTime()


ChatMemberPage = page_schema(ChatMember, "ChatMemberPage")


class ModeratorAppointment(ma.Schema):
    user_id = Id(required=True, validate=validate.Length(min=1, max=32))


class ModeratorAppointed(ma.Schema):
    chat_id = ma.fields.String()
    user_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "moderator (a member, moderating now) | invited (moderates "
                                        "once they join)"})


class Invitation(ma.Schema):
    id = ma.fields.String()
    chat = ma.fields.Nested(ChatPreview)
    invited_by = ma.fields.Nested(Person, allow_none=True)
    role = ma.fields.String()
    status = ma.fields.String()
    created_at = ma.fields.String()


InvitationPage = page_schema(Invitation, "InvitationPage")


class InvitationQuery(PageQuery):
    org_id = Id(validate=validate.Length(min=1, max=32),
                metadata={"description": "only this organisation's chats"})


class RulesAcceptance(ma.Schema):
    accepted_rules_version = ma.fields.Integer(required=True, validate=validate.Range(min=1))


class LinkCreate(ma.Schema):
    roles = ma.fields.List(ma.fields.String(validate=validate.OneOf(ORG_ROLES)), load_default=list)
    unit_id = Id(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32), metadata={
        "description": "only for the people of this class or group of the chat's school: its students, their "
                       "parents, its class head and subject teachers"})
    expires_at = UtcDateTime(load_default=None, allow_none=True)
    max_uses = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=10000))


class Link(ma.Schema):
    id = ma.fields.String()
    token = ma.fields.String()
    url = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    unit_id = ma.fields.String(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    max_uses = ma.fields.Integer(allow_none=True)


class MessageCreate(ma.Schema):
    text = Text(load_default="", max_length=MAX_TEXT)
    file_ids = ma.fields.List(Id(validate=validate.Length(max=32)), load_default=list,
                              validate=validate.Length(max=MAX_FILES))
    reply_to = Id(load_default=None, allow_none=True, validate=validate.Length(max=32))


class MessageEdit(ma.Schema):
    text = Text(required=True, max_length=MAX_TEXT)


class HistoryQuery(PageQuery):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^[0-9]{1,18}$", error="Not valid."), metadata={"description": "the `next_cursor` of the page before"})


class ReadMark(ma.Schema):
    message_id = Id(required=True, validate=validate.Length(min=1, max=32))


class ReadState(ma.Schema):
    chat_id = ma.fields.String()
    last_read_seq = ma.fields.Integer()
    unread_count = ma.fields.Integer()


class FileUpload(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # other parts of the form are not read

    file = Upload(required=True)


class File(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    size = ma.fields.Integer()
    content_type = ma.fields.String()
    created_at = UtcDateTime()


class ChatFile(File):
    message_id = ma.fields.String(metadata={"description": "the message carrying the file"})
    posted_at = ma.fields.String(metadata={"description": "when that message was posted"})
    author = ma.fields.Nested(Person, allow_none=True, metadata={
        "description": "who posted it; `erased: true` for a person whose data was erased"})


ChatFilePage = page_schema(ChatFile, "ChatFilePage")


class UploadCreate(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={
        "description": "the file's name; its extension decides its kind (the same kinds as `POST /files`)"})
    size = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1 << 50), metadata={
        "description": "bytes; at most `UPLOAD_MAX_BYTES` (2 GiB by default), else 413 `file_too_large`"})
    content_type = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255),
                                    metadata={"description": "what the client believes it is; not trusted: the "
                                              "kind comes from the name and is checked against the content"})


class Upload(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    size = ma.fields.Integer()
    content_type = ma.fields.String(metadata={"description": "the platform's, from the name's kind"})
    part_size = ma.fields.Integer(metadata={"description": "the size of every part but the last, which holds "
                                            "the rest"})
    parts = ma.fields.Integer(metadata={"description": "how many parts the file is sent in, numbered from 1"})
    received = ma.fields.List(ma.fields.Integer(), metadata={"description": "the parts stored so far"})
    next_part = ma.fields.Integer(allow_none=True, metadata={"description": "the part to send next (resume "
                                                             "here); null once all are there"})
    status = ma.fields.String(metadata={"description": "open | assembling | complete | refused | aborted"})
    created_at = ma.fields.String()
    expires_at = ma.fields.String(metadata={"description": "an upload not completed by then is dropped"})
    file = ma.fields.Nested(File, allow_none=True, metadata={"description": "once complete: the file, to attach "
                                                             "to messages by its id"})


class PartPath(ma.Schema):
    number = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=100000))


class ReadCount(ma.Schema):
    message_id = ma.fields.String()
    chat_id = ma.fields.String()
    read = ma.fields.Integer(metadata={"description": "members who read the post (its author not counted)"})
    members = ma.fields.Integer(metadata={"description": "members of the channel, its author not counted"})
    readers = ma.fields.List(ma.fields.Nested(Person), allow_none=True, metadata={
        "description": "who read it: in the staff channel only, null elsewhere"})


class PollCreate(ma.Schema):
    question = Name(required=True, min_length=1, max_length=300)
    options = ma.fields.List(Name(min_length=1, max_length=200), required=True,
                             validate=validate.Length(min=2, max=12))
    multiple = JsonBoolean(load_default=False)
    anonymous = JsonBoolean(load_default=False)
    closes_at = UtcDateTime(load_default=None, allow_none=True)


class PollOption(ma.Schema):
    id = ma.fields.String()
    text = ma.fields.String()
    votes = ma.fields.Integer()
    voters = ma.fields.List(ma.fields.Nested(Person), allow_none=True)


class Poll(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    message_id = ma.fields.String(allow_none=True)
    question = ma.fields.String()
    multiple = ma.fields.Boolean()
    anonymous = ma.fields.Boolean()
    closes_at = ma.fields.String(allow_none=True)
    closed = ma.fields.Boolean()
    total_voters = ma.fields.Integer()
    created_by = ma.fields.String()
    created_at = ma.fields.String()
    options = ma.fields.List(ma.fields.Nested(PollOption))
    my_option_ids = ma.fields.List(ma.fields.String())


class VoteCreate(ma.Schema):
    option_ids = ma.fields.List(Id(validate=validate.Length(max=32)), required=True,
                                validate=validate.Length(min=1, max=12))


class MessagingExport(ma.Schema):
    chats = ma.fields.List(ma.fields.Dict(), metadata={"description": "every stay in a chat: joined, rules "
                                                       "accepted, left"})
    messages = ma.fields.List(ma.fields.Dict(), metadata={"description": "the user's own messages"})
    files = ma.fields.List(ma.fields.Dict(), metadata={"description": "the user's uploads, each with its "
                                                       "`download` link"})
    votes = ma.fields.List(ma.fields.Dict())
    invitations = ma.fields.List(ma.fields.Dict())
