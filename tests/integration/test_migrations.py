"""Schema migrations are frozen steps: running all of them gives exactly the
schema the models describe, on SQLite and on PostgreSQL; and a database made
by the steps of an earlier release, holding data, is upgraded by the later
steps without losing a row or a value."""
import importlib
import json
from datetime import date, datetime, timedelta

import pytest

from services.common.config import SERVICES
from services.common.db import KitModels, migrate, migration_steps, open_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def new_db(request, tmp_path):
    """`make()`: an empty database of either kind."""
    made = []

    def make():
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'db{len(made)}.sqlite'}"
        else:
            url = request.getfixturevalue("new_database")("mig")
        database = open_database(url)
        made.append(database)
        return database

    yield make
    for database in made:
        database.close()


def schema(db) -> dict:
    """Tables, columns (type, nullability, primary key), indexes and foreign keys, as the database reports them."""
    described = {}
    for table in sorted(db.get_tables()):
        described[table] = {
            "columns": {c.name: (c.data_type.lower(), c.null, c.primary_key) for c in db.get_columns(table)},
            "indexes": sorted((tuple(i.columns), i.unique) for i in db.get_indexes(table)),
            "foreign_keys": sorted((f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table)),
        }
    return described


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrations_make_exactly_the_schema_the_models_describe(service, new_db):
    models = importlib.import_module(f"services.{service}.models")
    migrated, declared = new_db(), new_db()
    migrate(migrated, KitModels(migrated), f"services.{service}.migrations")
    with declared.connection_context(), models.db.bind(declared):
        declared.create_tables(KitModels(declared).tables + models.TABLES)
    with migrated.connection_context(), declared.connection_context():
        assert schema(migrated) == schema(declared)


def _ordered_tables(db) -> list[str]:
    """Tables, those that others refer to first."""
    pending = {table: {f.dest_table for f in db.get_foreign_keys(table)} - {table} for table in db.get_tables()}
    ordered = []
    while pending:
        ready = sorted(table for table, needs in pending.items() if needs <= set(ordered))
        assert ready, f"a cycle of foreign keys among {sorted(pending)}"
        ordered += ready
        for table in ready:
            del pending[table]
    return ordered


def _value(data_type: str, n: int):
    kind = data_type.lower()
    if "bool" in kind:
        return n % 2 == 0
    if "int" in kind:
        return n
    if "timestamp" in kind or "datetime" in kind:
        return datetime(2026, 9, 1, 8, 0) + timedelta(minutes=n)
    if kind == "date":
        return date(2026, 9, 1) + timedelta(days=n)
    if any(word in kind for word in ("real", "double", "numeric", "decimal", "float")):
        return n + 0.5
    return f"v{n}"  # text of every length the schema allows (the shortest is 8)


def fill(db) -> dict[str, list[dict]]:
    """Three rows in every table, every column given a value, foreign keys
    pointing at rows made before (the n-th row at the n-th row of the table
    it refers to, so that rows differ in their references too: unique
    indexes may be made of them); what was written, read back."""
    quote = '"{}"'.format
    written = {}
    counter = iter(range(1, 1_000_000))
    with db.connection_context(), db.atomic():
        for table in _ordered_tables(db):
            if table == "schema_migrations":
                continue
            references = {f.column: (f.dest_table, f.dest_column) for f in db.get_foreign_keys(table)}
            columns = db.get_columns(table)
            for n in range(3):
                row = {}
                for column in columns:
                    if column.name in references:
                        target, target_column = references[column.name]
                        if target == table:
                            row[column.name] = None
                            continue
                        # The n-th row of the target: pairs of foreign keys stay unique.
                        row[column.name] = db.execute_sql(
                            f"SELECT {quote(target_column)} FROM {quote(target)} "
                            f"ORDER BY {quote(target_column)} LIMIT 1 OFFSET {n}").fetchone()[0]
                    else:
                        row[column.name] = _value(column.data_type, next(counter))
                names = ", ".join(quote(name) for name in row)
                marks = ", ".join([db.param] * len(row))
                db.execute_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", list(row.values()))
            written[table] = read(db, table)
    return written


def read(db, table: str) -> list[dict]:
    cursor = db.execute_sql(f'SELECT * FROM "{table}"')
    names = [d[0] for d in cursor.description]
    return sorted((dict(zip(names, row)) for row in cursor.fetchall()), key=repr)


def _upgrade_cases():
    for service in SERVICES:
        steps = [name for _, name in migration_steps(f"services.{service}.migrations")]
        for released in steps[:-1]:
            yield pytest.param(service, released, id=f"{service}-from-{released}")


@pytest.mark.parametrize("service,released", list(_upgrade_cases()))
def test_an_upgrade_from_an_earlier_release_keeps_every_row(service, released, new_db):
    package = f"services.{service}.migrations"
    db = new_db()
    kit = KitModels(db)
    migrate(db, kit, package, until=released)
    before = fill(db)
    assert before, "the earlier release made no tables to fill"
    applied = migrate(db, kit, package)
    steps = [name for _, name in migration_steps(package)]
    assert applied == steps[steps.index(released) + 1:]
    with db.connection_context():
        for table, rows in before.items():
            after = read(db, table)
            kept = [{name: row[name] for name in rows[0]} for row in after]
            assert sorted(kept, key=repr) == rows, f"{table} lost data in the upgrade"


def test_an_upgrade_announces_every_confirmed_teacher_status_again(new_db):
    """Moderation's projection of the badge starts empty with its step: identity's
    upgrade announces the statuses confirmed before it, and only those."""
    package = "services.identity.migrations"
    db = new_db()
    kit = KitModels(db)
    migrate(db, kit, package, until="0007_siblings_on_one_email")
    with db.connection_context():
        now = datetime(2026, 9, 1)
        for user_id in ("u-confirmed", "u-waiting"):
            db.execute_sql('INSERT INTO "user" (id, display_name, created_at, updated_at) VALUES (%s, %s, %s, %s)'
                           .replace("%s", db.param), (user_id, user_id, now, now))
        for n, (user_id, status) in enumerate((("u-confirmed", "approved"), ("u-waiting", "pending"))):
            db.execute_sql("INSERT INTO verification (id, user_id, org_id, status, decided_by, created_at) "
                           "VALUES (%s, %s, %s, %s, %s, %s)".replace("%s", db.param),
                           (f"v{n}", user_id, "org-1", status, "admin-1", now))
    migrate(db, kit, package)
    with db.connection_context():
        announced = [json.loads(row.body) for row in kit.Outbox.select()]
    assert [(e["type"], e["producer"], e["org_id"], e["data"]) for e in announced] == [
        ("identity.teacher.verified", "identity", "org-1",
         {"user_id": "u-confirmed", "org_id": "org-1", "approved_by": "admin-1"})]
