"""The region of each organisation, learned from orgstructure, frozen as it was."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Organisation(Frozen):
        org_id = peewee.CharField(max_length=32, primary_key=True)
        region_id = peewee.CharField(max_length=32)

        class Meta:
            table_name = 'organisation'

    db.create_tables([Organisation])
