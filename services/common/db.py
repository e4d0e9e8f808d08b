"""A peewee database per service: SQLite by default, PostgreSQL by DATABASE_URL.
Also the tables every service has for the bus (outbox, processed events) and
the migration runner: schema changes are migrations kept in the repo, applied by
`python -m services migrate <service>`, never by hand."""
from __future__ import annotations

import importlib
import itertools
import logging
import pkgutil
import re
import time
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

import peewee
import psycopg2.extensions
from playhouse.pool import PooledPostgresqlDatabase

from .clock import utcnow
from .ids import new_id

log = logging.getLogger(__name__)


class _Session(psycopg2.extensions.connection):
    """A PostgreSQL connection that remembers which statements it has prepared."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


class _PooledPostgres(PooledPostgresqlDatabase):
    """Checking a pooled connection out costs no round trip (peewee's default
    sends `SELECT 1` every time, a third of a short request's database waits).
    A connection the server dropped fails its next statement instead; requests
    answer that with an error the client retries, consumers requeue the event,
    and the pool replaces connections older than `stale_timeout` anyway."""

    def _is_closed(self, conn):
        return bool(conn.closed)

    # BEGIN travels with the transaction's first statement instead of taking
    # a round trip of its own; a transaction that ran nothing sends nothing.
    def begin(self, isolation_level=None):
        level = isolation_level or self._isolation_level
        self._state.begin = (self._state.conn, f"BEGIN TRANSACTION ISOLATION LEVEL "
                             f"{self._adapter.isolation_level_str(level)}; " if level else "BEGIN; ")

    def _begun(self) -> bool:
        """Whether BEGIN was sent; forgets a BEGIN still waiting."""
        pending = getattr(self._state, "begin", None)
        self._state.begin = None
        return not (pending and pending[0] is self._state.conn)

    def _execute_cursor(self, sql, params, **cursor_options):
        pending = getattr(self._state, "begin", None)
        if pending and pending[0] is self._state.conn:
            self._state.begin = None
            sql = pending[1] + sql
        return super()._execute_cursor(sql, params, **cursor_options)

    def commit(self):
        if self._begun():
            super().commit()

    def rollback(self):
        if self._begun():
            super().rollback()

    # Statement prepares its SQL once per connection; `?prepare=0` turns that
    # off behind a pooler in transaction mode (PgBouncer), where the next
    # transaction may run on another server connection.
    prepare_statements = True


SQLITE_LOCK_WAIT_SECONDS = 10.0


class _Sqlite(peewee.SqliteDatabase):
    """Waits for another writer's lock with a plain sleep rather than in
    SQLite's busy handler, which sleeps inside C: in the embedded platform
    (gevent) that stopped the whole process, so the writer holding the lock
    (a call's join waiting on the media server) could never finish."""

    def begin(self, lock_type=None):
        _while_locked(lambda: super(_Sqlite, self).begin(lock_type))

    def execute_sql(self, sql, params=None):
        if self.in_transaction():  # an IMMEDIATE transaction holds the lock already
            return super().execute_sql(sql, params)
        return _while_locked(lambda: super(_Sqlite, self).execute_sql(sql, params))


def _while_locked(attempt):
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    pause = 0.001
    while True:
        try:
            return attempt()
        except peewee.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def open_database(url: str, pool_size: int = 20) -> peewee.Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/file.db or sqlite:////absolute/file.db
        path = unquote(url[len("sqlite:///"):].split("?", 1)[0])
        if path not in ("", ":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction takes the write lock up front, so two writers
        # wait for each other instead of failing on upgrade.
        return _Sqlite(path or ":memory:", lock_type="IMMEDIATE", pragmas={
            "journal_mode": "wal", "busy_timeout": 0, "foreign_keys": 1,
            "synchronous": "normal"})
    if parsed.scheme in ("postgres", "postgresql"):
        options = dict(parse_qsl(parsed.query))
        prepare = options.pop("prepare", "1") not in ("0", "false", "no")
        database = _PooledPostgres(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username or "") or None,
            password=unquote(parsed.password or "") or None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=int(options.pop("pool_size", pool_size)),
            stale_timeout=300,
            timeout=10,
            connect_timeout=int(options.pop("connect_timeout", 5)),
            connection_factory=_Session,
            **options,
        )
        database.prepare_statements = prepare
        return database
    raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r}")


def bound(db: peewee.Database) -> peewee.Database:
    """The database itself: the one a service's proxy is bound to now, or `db`."""
    return db.obj if isinstance(db, peewee.DatabaseProxy) else db


def is_postgres(db: peewee.Database) -> bool:
    target = bound(db)
    return isinstance(target, peewee.PostgresqlDatabase)


class Statement:
    """Hand-written SQL for the busiest paths, where building a query with
    peewee on every call costs more than running it. Values are `%s`, turned
    into the placeholder of the database in use; `{agg_ids}` aggregates ids
    into one comma-separated string on either database. On PostgreSQL each
    connection prepares the statement on first use, and then only executes
    it: planning the poster's query took longer than running it."""

    _names = itertools.count(1)

    def __init__(self, db: peewee.DatabaseProxy, text: str):
        self.db = db
        self.text = text
        self.name = f"sferum_{next(self._names)}"
        self._sql: dict[str, str] = {}
        self._prepared: tuple[str, str] | None = None

    def _prepare_texts(self, count: int) -> tuple[str, str]:
        numbered = iter(range(1, count + 1))
        text = re.sub("%s", lambda _: f"${next(numbered)}", self.text.replace("{agg_ids}", "string_agg"))
        arguments = f"({', '.join(['%s'] * count)})" if count else ""
        self._prepared = (f"PREPARE {self.name} AS {text}", f"EXECUTE {self.name}{arguments}")
        return self._prepared

    def execute(self, *values) -> object:
        target = bound(self.db)
        if getattr(target, "prepare_statements", False):
            prepare, execute = self._prepared or self._prepare_texts(len(values))
            session = target.connection()
            if self.name not in session.prepared:
                # Not transactional: a rollback after this keeps the statement prepared.
                target.execute_sql(prepare)
                session.prepared.add(self.name)
            return target.execute_sql(execute, values)
        kind = type(target).__name__
        sql = self._sql.get(kind)
        if sql is None:
            aggregate = "string_agg" if is_postgres(self.db) else "group_concat"
            sql = self._sql[kind] = self.text.replace("%s", target.param).replace("{agg_ids}", aggregate)
        return target.execute_sql(sql, values)


class ListsStatement:
    """Hand-written SQL for a batch of events, which writes or reads all their
    rows in one statement: `{name}` in `text` stands for the list given to
    `execute` by that name, each item a value or a tuple of values (a row,
    written `(…)`); `%s` for the single values, given in order. On either
    database; the caller never gives an empty list."""

    _TOKEN = re.compile(r"%s|\{(\w+)\}")
    _SHAPES_KEPT = 256  # the SQL of so many shapes (list lengths) is kept

    def __init__(self, db: peewee.DatabaseProxy, text: str):
        self.db = db
        self.text = text
        self._names = [match.group(1) for match in self._TOKEN.finditer(text)]  # None for %s
        self._sql: dict[tuple, str] = {}

    def execute(self, *values, **lists) -> object:
        target = bound(self.db)
        shape = (type(target).__name__, *((name, len(items), _width(items[0])) for name, items in lists.items()))
        sql = self._sql.get(shape)
        if sql is None:
            if len(self._sql) >= self._SHAPES_KEPT:
                self._sql.clear()
            sql = self._sql[shape] = self._TOKEN.sub(lambda match: _placeholders(lists[match.group(1)], target.param)
                                                     if match.group(1) else target.param, self.text)
        given, params = iter(values), []
        for name in self._names:
            if name is None:
                params.append(next(given))
            elif isinstance(lists[name][0], tuple):
                params.extend(value for row in lists[name] for value in row)
            else:
                params.extend(lists[name])
        return target.execute_sql(sql, params)


def _width(item) -> int:
    return len(item) if isinstance(item, tuple) else 0


def _placeholders(items: list, param: str) -> str:
    width = _width(items[0])
    one = f"({', '.join([param] * width)})" if width else param
    return ", ".join([one] * len(items))


class ServiceDatabase(peewee.DatabaseProxy):
    """What one service's models are bound to: the database of the service
    instance whose unit of work (a request, a batch of events, a job) runs in
    this thread or greenlet, bound by that instance for the duration
    (`ServiceRuntime.bound`). Two apps of one service in one process each
    bind their own database; nothing is shared through the models' module."""

    __slots__ = ("_current",)

    def __init__(self, service: str):
        object.__setattr__(self, "_callbacks", [])
        object.__setattr__(self, "_current", ContextVar(f"{service}.database", default=None))

    @property
    def obj(self) -> peewee.Database | None:
        return self._current.get()

    def initialize(self, obj):
        raise TypeError("a service's database is bound per unit of work, by its runtime")

    @contextmanager
    def bind(self, database: peewee.Database):
        token = self._current.set(database)
        try:
            yield database
        finally:
            self._current.reset(token)


def model_base(database: peewee.DatabaseProxy) -> type[peewee.Model]:
    """The base class of one service's models, bound to that service's database."""
    return type("BaseModel", (peewee.Model,), {"__module__": __name__, "Meta": type("Meta", (), {"database": database})})


def id_field() -> peewee.CharField:
    """A public id: an opaque random string (services.common.ids)."""
    return peewee.CharField(max_length=32, primary_key=True, default=new_id)


def lock_for_transaction(db: peewee.Database, key: str) -> None:
    """Serialise the transactions that take the same key until they end: two
    facts arriving at once (an approval and a sign-in of the same phone) are
    then each seen by the other, whichever commits first. SQLite writers are
    serialised already (IMMEDIATE transactions)."""
    if is_postgres(db):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(key.encode()) - (1 << 31),))


class KitModels:
    """The tables the shared kit keeps in every service's own database."""

    def __init__(self, service_db: peewee.DatabaseProxy):
        class Base(peewee.Model):
            class Meta:
                database = service_db

        class Outbox(Base):
            """Events written in the same transaction as the change they describe."""
            event_id = peewee.CharField(max_length=64, unique=True)
            routing_key = peewee.CharField(max_length=128)
            body = peewee.TextField()
            created_at = peewee.DateTimeField(default=utcnow)
            attempts = peewee.IntegerField(default=0)
            next_attempt_at = peewee.DateTimeField(default=utcnow, index=True)
            last_error = peewee.TextField(null=True)

            class Meta:
                table_name = "outbox"

        class ProcessedEvent(Base):
            """Ids of handled events: a redelivered event changes nothing."""
            event_id = peewee.CharField(max_length=64, primary_key=True)
            event_type = peewee.CharField(max_length=128)
            handled_at = peewee.DateTimeField(default=utcnow)

            class Meta:
                table_name = "processed_events"

        class SchemaMigration(Base):
            name = peewee.CharField(max_length=200, primary_key=True)
            applied_at = peewee.DateTimeField(default=utcnow)

            class Meta:
                table_name = "schema_migrations"

        class IdempotentRequest(Base):
            """The first answer to a create request carrying an Idempotency-Key,
            replayed to the same user's retries for a day."""
            user_id = peewee.CharField(max_length=32)
            key = peewee.CharField(max_length=36)
            endpoint = peewee.CharField(max_length=300)
            status = peewee.IntegerField()
            body = peewee.TextField()
            created_at = peewee.DateTimeField(default=utcnow, index=True)

            class Meta:
                table_name = "idempotent_requests"
                indexes = ((("user_id", "key"), True),)

        self.Outbox = Outbox
        self.ProcessedEvent = ProcessedEvent
        self.SchemaMigration = SchemaMigration
        self.IdempotentRequest = IdempotentRequest

    @property
    def tables(self) -> list[type[peewee.Model]]:
        return [self.Outbox, self.ProcessedEvent, self.SchemaMigration, self.IdempotentRequest]


KIT_MIGRATIONS = "services.common.migrations"


def migration_steps(package: str) -> list[tuple[str, str]]:
    """(module, recorded name) of every step, in order: the kit's own first
    (recorded as `kit.NNNN_name`), then the service's (`NNNN_name`)."""
    steps = []
    for source, prefix in ((KIT_MIGRATIONS, "kit."), (package, "")):
        module = importlib.import_module(source)
        names = sorted(name for _, name, _ in pkgutil.iter_modules(module.__path__) if name[:4].isdigit())
        steps += [(f"{source}.{name}", prefix + name) for name in names]
    return steps


def pending_migrations(db: peewee.Database, kit: KitModels, package: str) -> list[str]:
    steps = [name for _, name in migration_steps(package)]
    if not kit.SchemaMigration.table_exists():
        return steps
    applied = {row.name for row in kit.SchemaMigration.select(kit.SchemaMigration.name)}
    return [name for name in steps if name not in applied]


def migrate(db: peewee.Database, kit: KitModels, package: str, until: str | None = None) -> list[str]:
    """Apply the numbered steps (`NNNN_name.py` with `up(db, kit)`) not yet
    recorded, each frozen as it was written: a step never reads today's
    models. `until` stops after that step (upgrade tests). Safe when several
    replicas start at once: on PostgreSQL an advisory lock serialises them."""
    applied_now = []
    with db.connection_context():
        with db.atomic():
            lock_for_transaction(db, f"migrate:{package}")
            db.create_tables([kit.SchemaMigration], safe=True)  # the ledger itself
            pending = set(pending_migrations(db, kit, package))
            for module_name, name in migration_steps(package):
                if name in pending:
                    log.info("applying migration %s", module_name)
                    importlib.import_module(module_name).up(db, kit)
                    kit.SchemaMigration.create(name=name)
                    applied_now.append(name)
                if name == until:
                    break
    return applied_now
