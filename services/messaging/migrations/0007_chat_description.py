"""A chat has a description the platform sets: every school's announcements
channel says where to find support."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    # NOT NULL with a default in the statement itself: SQLite need not rebuild
    # a table others refer to.
    migrate(migrator.add_column('chat', 'description', peewee.TextField(
        default="", constraints=[peewee.SQL("DEFAULT ''")]), allow_not_null=True))
