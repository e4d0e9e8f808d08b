"""messaging's request and response schemas (the OpenAPI contract)."""
import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from services.common.fields import UtcDateTime
from services.common.pagination import PageQuery, page_schema

from .chats import ORG_ROLES
from .messages import MAX_FILES, MAX_TEXT

Id = ma.fields.String
RULE = ma.fields.String(validate=validate.Length(min=1, max=500))


class Person(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()
    teacher_verified = ma.fields.Boolean()


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
                               "staff, teachers, class_students, class_parents"})
    unit_id = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    rules = ma.fields.List(ma.fields.String())
    rules_version = ma.fields.Integer()
    member_count = ma.fields.Integer()


class LinkPreview(ChatPreview):
    already_member = ma.fields.Boolean()


class Chat(ChatPreview):
    archived = ma.fields.Boolean()
    created_at = ma.fields.String()
    my_role = ma.fields.String(allow_none=True)
    org = ma.fields.Nested(OrgLinks, metadata={"description": "the school's journal and diary links"})


class Message(ma.Schema):
    id = ma.fields.String()
    chat_id = ma.fields.String()
    seq = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "text | poll | notice (said by the platform)"})
    author = ma.fields.Nested(Person, allow_none=True)
    text = ma.fields.String()
    reply_to = ma.fields.String(allow_none=True)
    files = ma.fields.List(ma.fields.Dict())
    poll_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    edited_at = ma.fields.String(allow_none=True)


MessagePage = page_schema(Message, "MessagePage")


class ChatListItem(Chat):
    unread_count = ma.fields.Integer()
    last_message = ma.fields.Nested(Message, allow_none=True)


ChatListPage = page_schema(ChatListItem, "ChatListPage")


class ChatCreate(ma.Schema):
    org_id = Id(required=True, validate=validate.Length(min=1, max=32))
    kind = ma.fields.String(required=True, validate=validate.OneOf(("group", "channel", "direct")))
    title = ma.fields.String(validate=validate.Length(min=1, max=200))
    rules = ma.fields.List(RULE, load_default=list, validate=validate.Length(max=20))
    invite_user_ids = ma.fields.List(Id(validate=validate.Length(max=32)), load_default=list,
                                     validate=validate.Length(max=500))
    user_id = Id(validate=validate.Length(max=32), metadata={"description": "the other person of a direct chat"})
    unit_id = Id(load_default=None, allow_none=True, validate=validate.Length(max=32),
                 metadata={"description": "a class the chat belongs to: its students leave it when they move"})

    @ma.validates_schema
    def _by_kind(self, data, **kwargs):
        if data["kind"] == "direct":
            if not data.get("user_id"):
                raise ma.ValidationError("A direct chat names the other person.", "user_id")
        elif not data.get("title", "").strip():
            raise ma.ValidationError("A chat has a title.", "title")


class ChatUpdate(ma.Schema):
    title = ma.fields.String(validate=validate.Length(min=1, max=200))
    rules = ma.fields.List(RULE, validate=validate.Length(max=20))

    @ma.post_load
    def _trimmed(self, data, **kwargs):
        if "title" in data:
            data["title"] = data["title"].strip()
            if not data["title"]:
                raise ma.ValidationError("A chat has a title.", "title")
        return data


class ChatMember(Person):
    user_id = ma.fields.String()
    role = ma.fields.String()
    joined_at = UtcDateTime()


ChatMemberPage = page_schema(ChatMember, "ChatMemberPage")


class Invitation(ma.Schema):
    id = ma.fields.String()
    chat = ma.fields.Nested(ChatPreview)
    invited_by = ma.fields.Nested(Person, allow_none=True)
    role = ma.fields.String()
    status = ma.fields.String()
    created_at = ma.fields.String()


InvitationPage = page_schema(Invitation, "InvitationPage")


class RulesAcceptance(ma.Schema):
    accepted_rules_version = ma.fields.Integer(required=True, validate=validate.Range(min=1))


class LinkCreate(ma.Schema):
    roles = ma.fields.List(ma.fields.String(validate=validate.OneOf(ORG_ROLES)), load_default=list)
    expires_at = UtcDateTime(load_default=None, allow_none=True)
    max_uses = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=10000))


class Link(ma.Schema):
    id = ma.fields.String()
    token = ma.fields.String()
    url = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    expires_at = UtcDateTime(allow_none=True)
    max_uses = ma.fields.Integer(allow_none=True)


class MessageCreate(ma.Schema):
    text = ma.fields.String(load_default="", validate=validate.Length(max=MAX_TEXT))
    file_ids = ma.fields.List(Id(validate=validate.Length(max=32)), load_default=list,
                              validate=validate.Length(max=MAX_FILES))
    reply_to = Id(load_default=None, allow_none=True, validate=validate.Length(max=32))


class MessageEdit(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(max=MAX_TEXT))


class HistoryQuery(PageQuery):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class ReadMark(ma.Schema):
    message_id = Id(required=True, validate=validate.Length(min=1, max=32))


class ReadState(ma.Schema):
    chat_id = ma.fields.String()
    last_read_seq = ma.fields.Integer()
    unread_count = ma.fields.Integer()


class FileUpload(ma.Schema):
    file = Upload(required=True)


class File(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    size = ma.fields.Integer()
    content_type = ma.fields.String()
    created_at = UtcDateTime()


class PollCreate(ma.Schema):
    question = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))

    @ma.post_load
    def _trimmed(self, data, **kwargs):
        data["question"] = data["question"].strip()
        if not data["question"]:
            raise ma.ValidationError("A poll asks a question.", "question")
        return data

    options = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=200)), required=True,
                             validate=validate.Length(min=2, max=12))
    multiple = ma.fields.Boolean(load_default=False)
    anonymous = ma.fields.Boolean(load_default=False)
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
