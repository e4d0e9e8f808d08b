"""The school year: the rollovers carried out, and schools the operator archived."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Organisation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'organisation'

    class YearRollover(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        academic_year = peewee.CharField(max_length=9)
        plan = peewee.TextField()
        by = peewee.CharField(max_length=32)
        at = peewee.DateTimeField()

        class Meta:
            table_name = 'yearrollover'
            indexes = [(('organisation', 'academic_year'), True)]

    db.create_tables([YearRollover])
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column('organisation', 'archived_at', peewee.DateTimeField(null=True)))
