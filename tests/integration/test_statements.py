"""Hand-written statements on PostgreSQL: prepared once per connection, and
not prepared at all when DATABASE_URL says `?prepare=0` (PgBouncer in
transaction mode)."""
import pytest

from services.common.db import Statement, open_database

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
