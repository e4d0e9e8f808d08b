"""Sessions revoked lately are read by every process that starts verifying
tokens: an index on when a session was revoked."""
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_index('session', ('revoked_at',), False))
