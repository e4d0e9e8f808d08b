"""A join request says whether it brings back someone who left by expulsion
or dismissal, who may come back only by an admin's decision."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("joinrequest", "left_reason", peewee.CharField(max_length=16, null=True)))
