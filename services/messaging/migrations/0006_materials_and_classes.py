"""Frozen as it was: large files uploaded in parts, chats for a class's
students and parents, chat links limited to one class, the classes' subject
teachers (orgstructure's teaching assignments), messages whose author's
personal data was erased, and whom a notice of the platform names."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class StoredFile(Frozen):  # made by 0002; here only as the target of a foreign key
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'storedfile'

    class TeachingAssignment(Frozen):
        org_id = peewee.CharField(max_length=32)
        unit_id = peewee.CharField(max_length=32, index=True)
        user_id = peewee.CharField(max_length=32, index=True)
        subject = peewee.CharField(max_length=100)

        class Meta:
            table_name = 'teachingassignment'
            indexes = [(('unit_id', 'user_id'), True)]

    class Upload(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        uploader_id = peewee.CharField(max_length=32, index=True)
        name = peewee.CharField(max_length=255)
        content_type = peewee.CharField(max_length=100)
        size = peewee.BigIntegerField()
        part_size = peewee.IntegerField()
        storage_key = peewee.CharField(max_length=64)
        storage_ref = peewee.CharField(max_length=1024)
        status = peewee.CharField(max_length=16)
        file = peewee.ForeignKeyField(StoredFile, null=True)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = 'upload'

    class UploadPart(Frozen):
        upload = peewee.ForeignKeyField(Upload, on_delete='CASCADE')
        number = peewee.IntegerField()
        size = peewee.BigIntegerField()
        received_at = peewee.DateTimeField()

        class Meta:
            table_name = 'uploadpart'
            indexes = [(('upload', 'number'), True)]

    db.create_tables([TeachingAssignment, Upload, UploadPart])
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column('chat', 'audience', peewee.CharField(max_length=16, null=True)),
        migrator.add_column('chatlink', 'unit_id', peewee.CharField(max_length=32, null=True)),
        # NOT NULL with a default in the statement itself: SQLite need not rebuild a table others refer to.
        migrator.add_column('message', 'author_erased', peewee.BooleanField(
            default=False, constraints=[peewee.SQL('DEFAULT FALSE')]), allow_not_null=True),
        migrator.add_column('message', 'about_user_id', peewee.CharField(max_length=32, null=True)),
        migrator.add_index('message', ('about_user_id',), False),
    )
