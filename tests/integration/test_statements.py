"""Hand-written statements on PostgreSQL: prepared once per connection, and
not prepared at all when DATABASE_URL says `?prepare=0` (PgBouncer in
transaction mode); a batch's statements with lists of values and of rows,
on PostgreSQL and SQLite."""
import pytest

from services.common.db import ListsStatement, Statement, open_database

pytestmark = pytest.mark.integration


@pytest.fixture
def open_db(new_database):
    opened = []

    def make(options="", database=None):
        """A new database, or a second pool on `database` (its URL)."""
        db = open_database((database or new_database("stmt")) + options)
        db.connect()
        db.execute_sql("CREATE TABLE IF NOT EXISTS notes (id integer PRIMARY KEY, text text)")
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close_all()


def prepared_names(db):
    return sorted(name for (name,) in db.execute_sql("SELECT name FROM pg_prepared_statements").fetchall())


def test_a_statement_is_prepared_once_and_outlives_a_rollback(open_db):
    db = open_db()
    add = Statement(db, "INSERT INTO notes (id, text) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING")
    read = Statement(db, "SELECT text FROM notes WHERE id = %s")
    with pytest.raises(RuntimeError):
        with db.atomic():
            assert add.execute(1, "черновик").rowcount == 1
            raise RuntimeError("rolled back")
    assert read.execute(1).fetchone() is None
    assert prepared_names(db) == sorted([add.name, read.name])
    with db.atomic():
        assert add.execute(1, "Собрание в пятницу").rowcount == 1
        assert add.execute(1, "ещё раз").rowcount == 0
        assert add.execute(2, None).rowcount == 1
    assert read.execute(1).fetchone() == ("Собрание в пятницу",)
    assert read.execute(2).fetchone() == (None,)
    assert prepared_names(db) == sorted([add.name, read.name])


def test_prepare_0_runs_the_same_statements_unprepared(open_db):
    db = open_db("?prepare=0")
    add = Statement(db, "INSERT INTO notes (id, text) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING")
    read = Statement(db, "SELECT text FROM notes WHERE id = %s")
    assert add.execute(1, "Собрание в пятницу").rowcount == 1
    assert add.execute(1, "ещё раз").rowcount == 0
    assert read.execute(1).fetchone() == ("Собрание в пятницу",)
    assert prepared_names(db) == []


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_a_lists_statement_takes_rows_lists_and_single_values_in_their_order(open_db, tmp_path, engine):
    if engine == "postgresql":
        db = open_db()
    else:
        db = open_database(f"sqlite:///{tmp_path / 'notes.db'}")
        db.connect()
        db.execute_sql("CREATE TABLE notes (id integer PRIMARY KEY, text text)")
    add = ListsStatement(db, "INSERT INTO notes (id, text) VALUES {notes} "
                             "ON CONFLICT (id) DO UPDATE SET text = excluded.text")
    read = ListsStatement(db, "SELECT id, text FROM notes "
                              "WHERE id IN ({ids}) AND text <> %s AND id IN ({ids}) ORDER BY id")
    with db.atomic():
        add.execute(notes=[(1, "Собрание"), (2, "черновик"), (3, "Экскурсия")])
        add.execute(notes=[(2, "Родительское собрание")])
    found = read.execute("Экскурсия", ids=[1, 2, 3, 4]).fetchall()
    assert found == [(1, "Собрание"), (2, "Родительское собрание")]
    assert read.execute("Собрание", ids=[3]).fetchall() == [(3, "Экскурсия")]
    db.close()


def test_begin_goes_with_the_first_statement_and_never_outlives_its_transaction(open_db, new_database):
    url = new_database("begin")
    db, other = open_db(database=url), open_db(database=url)
    add = Statement(db, "INSERT INTO notes (id, text) VALUES (%s, %s)")
    # The first statement of a transaction carries its BEGIN: rolling back undoes it.
    with pytest.raises(RuntimeError):
        with db.atomic():
            add.execute(1, "черновик")
            raise RuntimeError("rolled back")
    with db.atomic():
        add.execute(2, "до")
        with pytest.raises(RuntimeError):
            with db.atomic():  # a savepoint
                add.execute(3, "отменено")
                raise RuntimeError("rolled back")
        add.execute(4, "после")
    # A transaction that ran nothing leaves nothing waiting: the next
    # statement on its own commits at once, as another connection sees.
    with db.atomic():
        pass
    add.execute(5, "сам по себе")
    ids = [row[0] for row in other.execute_sql("SELECT id FROM notes ORDER BY id").fetchall()]
    assert ids == [2, 4, 5]


def test_the_pool_and_begin_overrides_still_take_effect(new_database):
    """services/common/db.py overrides peewee's pool (no `SELECT 1` when a
    connection is checked out) and transaction start (BEGIN travels with the
    first statement). After an upgrade of peewee either could silently stop
    working and cost a round trip per request: this records what really
    reaches the server."""
    import psycopg2.extensions

    from services.common import db as kit_db

    sent = []

    class RecordingCursor(psycopg2.extensions.cursor):
        def execute(self, sql, params=None):
            sent.append(sql if isinstance(sql, str) else sql.decode())
            return super().execute(sql, params)

    class Recorded(kit_db._Session):
        def cursor(self, *args, **kwargs):
            return super().cursor(*args, cursor_factory=RecordingCursor, **kwargs)

    db = open_database(new_database("overrides") + "?prepare=0")
    db.connect_params["connection_factory"] = Recorded
    with db.connection_context():
        db.execute_sql("CREATE TABLE notes (id integer PRIMARY KEY)")
    sent.clear()
    for n in range(3):  # checked out of the pool and back, three times
        with db.connection_context():
            with db.atomic():
                db.execute_sql("INSERT INTO notes (id) VALUES (%s)", (n,))
    # Per transaction: the INSERT carrying its BEGIN, then COMMIT; nothing at checkout.
    assert sent == ["BEGIN; INSERT INTO notes (id) VALUES (%s)", "COMMIT"] * 3
    db.close_all()
