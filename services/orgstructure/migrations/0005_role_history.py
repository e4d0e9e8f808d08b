"""Roles change, not only grow: the history of every role granted and taken back."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Organisation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)

        class Meta:
            table_name = 'organisation'

    class RoleChange(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        user_id = peewee.CharField(max_length=32)
        role = peewee.CharField(max_length=16)
        change = peewee.CharField(max_length=8)
        reason = peewee.CharField(max_length=16)
        by = peewee.CharField(max_length=32, null=True)
        at = peewee.DateTimeField()

        class Meta:
            table_name = 'rolechange'
            indexes = [(('organisation', 'user_id', 'at'), False)]

    db.create_tables([RoleChange])
