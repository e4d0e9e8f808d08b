from services.identity import models


def up(db, kit):
    db.create_tables(models.ORGANISATION_TABLES)
