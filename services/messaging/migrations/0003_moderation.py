"""What moderation needs of messaging, frozen as it was: chat administrators
appointed by a director or an admin, the reports open for a chat's
moderators, and messages held for a moderator's review (a chat's setting)."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Chat(Frozen):  # made by 0002; here only as the target of a foreign key
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'chat'

    class OpenReport(Frozen):
        report_id = peewee.CharField(max_length=32, primary_key=True)
        chat_id = peewee.CharField(max_length=32, index=True)

        class Meta:
            table_name = 'openreport'

    class ChatAdministrator(Frozen):
        chat = peewee.ForeignKeyField(Chat)
        user_id = peewee.CharField(max_length=32, index=True)
        appointed_by = peewee.CharField(max_length=32)
        appointed_at = peewee.DateTimeField()

        class Meta:
            table_name = 'chatadministrator'
            indexes = [(('chat', 'user_id'), True)]

    db.create_tables([OpenReport, ChatAdministrator])
    migrator = SchemaMigrator.from_database(db)
    # NOT NULL with a default in the statement itself: existing chats hold
    # nothing back, and SQLite need not rebuild a table others refer to.
    migrate(
        migrator.add_column('chat', 'hold_flagged', peewee.BooleanField(
            default=False, constraints=[peewee.SQL('DEFAULT FALSE')]), allow_not_null=True),
        migrator.add_column('message', 'held_at', peewee.DateTimeField(null=True)),
        migrator.add_column('message', 'flags', peewee.CharField(max_length=100, null=True)),
    )
