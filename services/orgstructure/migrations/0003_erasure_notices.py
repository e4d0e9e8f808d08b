"""Frozen as it was: the people whose data will be erased, for the member lists."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class ErasureNotice(Frozen):
        user_id = peewee.CharField(max_length=32, primary_key=True)
        erase_at = peewee.DateTimeField()

        class Meta:
            table_name = 'erasurenotice'

    db.create_tables([ErasureNotice])
