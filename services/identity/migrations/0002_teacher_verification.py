"""Who belongs to which organisation (learned from orgstructure) and teachers'
requests for the verified status, frozen as they were."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class User(Frozen):  # made by 0001; here only as the target of a foreign key
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'user'

    class OrgMembership(Frozen):
        org_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)
        roles = peewee.CharField(max_length=200)
        active = peewee.BooleanField()

        class Meta:
            table_name = 'orgmembership'
            indexes = [(('org_id', 'user_id'), True)]

    class Verification(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        user = peewee.ForeignKeyField(User)
        org_id = peewee.CharField(max_length=32, index=True)
        status = peewee.CharField(max_length=16, index=True)
        decided_by = peewee.CharField(max_length=32, null=True)
        decided_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'verification'

    db.create_tables([OrgMembership, Verification])
