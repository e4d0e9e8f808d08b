from services.messaging import models


def up(db, kit):
    db.create_tables(models.TABLES)
