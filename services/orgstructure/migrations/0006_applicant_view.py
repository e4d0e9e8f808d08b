"""The applicant's view: the application carries the admin's e-mail, and its
document (the appointment order) is kept by orgstructure itself."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Application(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'application'

    class ApplicationDocument(Frozen):
        application = peewee.ForeignKeyField(Application, primary_key=True, on_delete="CASCADE")
        name = peewee.CharField(max_length=255)
        content_type = peewee.CharField(max_length=100)
        size = peewee.IntegerField()
        sha256 = peewee.CharField(max_length=64)
        content = peewee.BlobField()
        uploaded_at = peewee.DateTimeField()

        class Meta:
            table_name = 'applicationdocument'

    db.create_tables([ApplicationDocument])
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column('application', 'admin_email', peewee.CharField(max_length=254, null=True)))
