"""A parent's e-mail address signs in each of their primary-school children:
several accounts may share an address."""
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_index('user', 'user_email'),
            migrator.add_index('user', ('email',), False))
