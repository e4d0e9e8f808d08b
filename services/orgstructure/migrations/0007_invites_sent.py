"""Invites are sent, not only made: where the platform sent an invite's link."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column('invite', 'sent_to', peewee.CharField(max_length=260, null=True)),
            migrator.add_column('invite', 'sent_at', peewee.DateTimeField(null=True)))
