"""Whose teacher status is confirmed in which school: an unconfirmed member
of the staff does not moderate."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class VerifiedTeacher(Frozen):
        org_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32)

        class Meta:
            table_name = 'verifiedteacher'
            indexes = [(('org_id', 'user_id'), True)]

    db.create_tables([VerifiedTeacher])
