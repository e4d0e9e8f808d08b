"""messaging's tables, frozen as they were: the projections of other services'
facts, chats with their members, invitations and links, files, messages and
polls."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Org(Frozen):
        org_id = peewee.CharField(max_length=32, primary_key=True)
        name = peewee.CharField(max_length=300)
        journal_url = peewee.CharField(max_length=500)
        diary_url = peewee.CharField(max_length=500)

        class Meta:
            table_name = 'org'

    class Unit(Frozen):
        unit_id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        kind = peewee.CharField(max_length=16)
        name = peewee.CharField(max_length=100)
        head_user_id = peewee.CharField(max_length=32, null=True)
        archived = peewee.BooleanField()

        class Meta:
            table_name = 'unit'

    class OrgMember(Frozen):
        org_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)
        roles = peewee.CharField(max_length=100)
        unit_id = peewee.CharField(max_length=32, null=True)

        class Meta:
            table_name = 'orgmember'
            indexes = [(('org_id', 'user_id'), True)]

    class ParentLink(Frozen):
        org_id = peewee.CharField(max_length=32)
        parent_id = peewee.CharField(max_length=32, index=True)
        child_id = peewee.CharField(max_length=32, index=True)
        unit_id = peewee.CharField(max_length=32, null=True)

        class Meta:
            table_name = 'parentlink'
            indexes = [(('org_id', 'parent_id', 'child_id'), True)]

    class Person(Frozen):
        user_id = peewee.CharField(max_length=32, primary_key=True)
        display_name = peewee.CharField(max_length=200)

        class Meta:
            table_name = 'person'

    class VerifiedTeacher(Frozen):
        org_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32)

        class Meta:
            table_name = 'verifiedteacher'
            indexes = [(('org_id', 'user_id'), True)]

    class Block(Frozen):
        chat_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32)
        until = peewee.DateTimeField()

        class Meta:
            table_name = 'block'
            indexes = [(('chat_id', 'user_id'), True)]

    class Chat(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        kind = peewee.CharField(max_length=16)
        purpose = peewee.CharField(max_length=16, null=True)
        unit_id = peewee.CharField(max_length=32, null=True, index=True)
        title = peewee.CharField(max_length=200)
        rules = peewee.TextField()
        rules_version = peewee.IntegerField()
        created_by = peewee.CharField(max_length=32, null=True)
        created_at = peewee.DateTimeField()
        archived_at = peewee.DateTimeField(null=True)
        last_seq = peewee.BigIntegerField()
        last_message_at = peewee.DateTimeField(null=True, index=True)
        direct_key = peewee.CharField(max_length=100, null=True, unique=True)

        class Meta:
            table_name = 'chat'
            indexes = [(('org_id', 'purpose', 'unit_id'), False)]

    class ChatMember(Frozen):
        chat = peewee.ForeignKeyField(Chat)
        user_id = peewee.CharField(max_length=32, index=True)
        role = peewee.CharField(max_length=16)
        accepted_rules_version = peewee.IntegerField()
        joined_at = peewee.DateTimeField()
        joined_by = peewee.CharField(max_length=16)
        last_read_seq = peewee.BigIntegerField()
        left_at = peewee.DateTimeField(null=True)
        left_reason = peewee.CharField(max_length=32, null=True)

        class Meta:
            table_name = 'chatmember'
            indexes = [(('chat', 'user_id', 'left_at'), False)]

    class ChatInvitation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        chat = peewee.ForeignKeyField(Chat)
        user_id = peewee.CharField(max_length=32, index=True)
        invited_by = peewee.CharField(max_length=32, null=True)
        role = peewee.CharField(max_length=16)
        status = peewee.CharField(max_length=16)
        reason = peewee.CharField(max_length=32, null=True)
        created_at = peewee.DateTimeField()
        decided_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'chatinvitation'

    class ChatLink(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        chat = peewee.ForeignKeyField(Chat)
        token_hash = peewee.CharField(max_length=64, unique=True)
        roles = peewee.CharField(max_length=100)
        expires_at = peewee.DateTimeField(null=True)
        max_uses = peewee.IntegerField(null=True)
        uses = peewee.IntegerField()
        created_by = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'chatlink'

    class StoredFile(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        uploader_id = peewee.CharField(max_length=32, index=True)
        name = peewee.CharField(max_length=255)
        content_type = peewee.CharField(max_length=100)
        size = peewee.BigIntegerField()
        sha256 = peewee.CharField(max_length=64)
        storage_key = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'storedfile'

    class Message(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        chat = peewee.ForeignKeyField(Chat)
        seq = peewee.BigIntegerField()
        kind = peewee.CharField(max_length=16)
        author_id = peewee.CharField(max_length=32, null=True)
        text = peewee.TextField()
        reply_to = peewee.CharField(max_length=32, null=True)
        poll_id = peewee.CharField(max_length=32, null=True)
        created_at = peewee.DateTimeField()
        edited_at = peewee.DateTimeField(null=True)
        deleted_at = peewee.DateTimeField(null=True)
        deleted_by = peewee.CharField(max_length=32, null=True)
        delete_reason = peewee.CharField(max_length=64, null=True)

        class Meta:
            table_name = 'message'
            indexes = [(('chat', 'seq'), True)]

    class MessageFile(Frozen):
        message = peewee.ForeignKeyField(Message)
        file = peewee.ForeignKeyField(StoredFile)
        position = peewee.IntegerField()

        class Meta:
            table_name = 'messagefile'
            indexes = [(('message', 'file'), True)]

    class Poll(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        chat = peewee.ForeignKeyField(Chat)
        created_by = peewee.CharField(max_length=32)
        question = peewee.CharField(max_length=300)
        multiple = peewee.BooleanField()
        anonymous = peewee.BooleanField()
        closes_at = peewee.DateTimeField(null=True)
        closed_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'poll'

    class PollOption(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        poll = peewee.ForeignKeyField(Poll)
        position = peewee.IntegerField()
        text = peewee.CharField(max_length=200)

        class Meta:
            table_name = 'polloption'

    class Vote(Frozen):
        poll = peewee.ForeignKeyField(Poll)
        option = peewee.ForeignKeyField(PollOption)
        user_id = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'vote'
            indexes = [(('poll', 'option', 'user_id'), True)]

    db.create_tables([Org, Unit, OrgMember, ParentLink, Person, VerifiedTeacher, Block, Chat, ChatMember,
                      ChatInvitation, ChatLink, StoredFile, Message, MessageFile, Poll, PollOption, Vote])
