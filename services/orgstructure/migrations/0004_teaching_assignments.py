"""Subject teachers of classes and groups, with their history."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Organisation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'organisation'

    class Unit(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'unit'

    class TeachingAssignment(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        unit = peewee.ForeignKeyField(Unit)
        user_id = peewee.CharField(max_length=32, index=True)
        subject = peewee.CharField(max_length=100)
        assigned_by = peewee.CharField(max_length=32)
        assigned_at = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)
        end_reason = peewee.CharField(max_length=16, null=True)

        class Meta:
            table_name = 'teachingassignment'
            indexes = [(('unit', 'user_id', 'ended_at'), False)]

    db.create_tables([TeachingAssignment])
