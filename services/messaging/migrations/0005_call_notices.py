"""A notice about a call carries the call, for the client's join button."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("message", "call_id", peewee.CharField(max_length=32, null=True)))
