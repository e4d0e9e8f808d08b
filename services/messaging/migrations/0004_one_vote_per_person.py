"""One vote per person in a single-choice poll, kept by the database. Every
vote gets a slot, 0 in a single-choice poll and the chosen option's position
in a multiple-choice one, and (poll, user, slot) is unique. A single-choice
poll in which parallel votes had left one person several votes keeps only
their latest, which the unique index needs."""
import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db, kit):
    db.execute_sql("""
        DELETE FROM vote WHERE id IN (
            SELECT v.id FROM vote v JOIN poll p ON p.id = v.poll_id
             WHERE NOT p.multiple AND EXISTS (
                   SELECT 1 FROM vote w
                    WHERE w.poll_id = v.poll_id AND w.user_id = v.user_id
                      AND (w.created_at > v.created_at OR (w.created_at = v.created_at AND w.id > v.id))))""")
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("vote", "slot", peewee.IntegerField(default=0)))
    db.execute_sql("""
        UPDATE vote SET slot = (SELECT o.position FROM polloption o WHERE o.id = vote.option_id)
         WHERE poll_id IN (SELECT id FROM poll WHERE multiple)""")
    migrate(migrator.add_index("vote", ("poll_id", "user_id", "slot"), unique=True))
