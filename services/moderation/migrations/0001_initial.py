from services.moderation import models


def up(db, kit):
    db.create_tables(kit.bus_tables + models.TABLES)
