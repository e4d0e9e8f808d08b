"""The first step held only the bus tables, which the kit's own migrations
make now (services/common/migrations); kept so that its name stays recorded."""


def up(db, kit):
    pass
