"""Frozen as it was: erasure requests (152-FZ), who is whose parent (a parent
asks for a child's erasure), and when a user's data was erased."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class ParentLink(Frozen):
        org_id = peewee.CharField(max_length=32)
        parent_id = peewee.CharField(max_length=32, index=True)
        child_id = peewee.CharField(max_length=32, index=True)

        class Meta:
            table_name = 'parentlink'
            indexes = [(('org_id', 'parent_id', 'child_id'), True)]

    class ErasureRequest(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        user_id = peewee.CharField(max_length=32, index=True)
        requested_by = peewee.CharField(max_length=32)
        requested_at = peewee.DateTimeField()
        erase_at = peewee.DateTimeField()
        status = peewee.CharField(max_length=16)
        decided_by = peewee.CharField(max_length=32, null=True)
        decided_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'erasurerequest'
            indexes = [(('status', 'erase_at'), False)]

    db.create_tables([ParentLink, ErasureRequest])
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column('user', 'erased_at', peewee.DateTimeField(null=True)))
