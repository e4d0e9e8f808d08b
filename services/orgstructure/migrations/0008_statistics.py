"""Statistics the director can use weekly: which chat belongs to which class,
who was active on which day, and which weeks' digests went out."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class ChatUnit(Frozen):
        chat_id = peewee.CharField(max_length=32, primary_key=True)
        organisation_id = peewee.CharField(max_length=32)
        unit_id = peewee.CharField(max_length=32)

        class Meta:
            table_name = 'chatunit'

    class Activity(Frozen):
        organisation_id = peewee.CharField(max_length=32)
        day = peewee.DateField()
        user_id = peewee.CharField(max_length=32)

        class Meta:
            table_name = 'activity'
            indexes = [(('organisation_id', 'day', 'user_id'), True)]

    class DigestSent(Frozen):
        organisation_id = peewee.CharField(max_length=32)
        week = peewee.DateField()
        sent_at = peewee.DateTimeField()

        class Meta:
            table_name = 'digestsent'
            indexes = [(('organisation_id', 'week'), True)]

    db.create_tables([ChatUnit, Activity, DigestSent])
