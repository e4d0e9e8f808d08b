"""The platform sends notices, not only codes: invites and applications'
decisions, queued and sent by a job; the dev outbox shows their texts."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Notification(Frozen):
        channel = peewee.CharField(max_length=8)
        to = peewee.CharField(max_length=254)
        subject = peewee.CharField(max_length=200)
        text = peewee.TextField()
        kind = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()
        due_at = peewee.DateTimeField(index=True)
        attempts = peewee.IntegerField()
        sent_at = peewee.DateTimeField(null=True)
        failed_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'notification'

    db.create_tables([Notification])
    migrator = SchemaMigrator.from_database(db)
    # NOT NULL with a default in the statement itself: no table rebuild on SQLite.
    migrate(migrator.add_column('devmessage', 'text', peewee.TextField(
        default="", constraints=[peewee.SQL("DEFAULT ''")]), allow_not_null=True))
