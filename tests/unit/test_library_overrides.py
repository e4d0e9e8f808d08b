"""The shared kit overrides a few internals of peewee and kombu for speed
(services/common/db.py: the pool's checkout and BEGIN; consumer.py: kombu's
consuming loop, its reconnection and heartbeats). The versions are pinned in
pyproject.toml; these tests fail loudly when an upgrade renames what is
overridden or stops calling it. What the overrides achieve is checked on the
wire in tests/integration/test_statements.py (BEGIN, no SELECT 1),
test_bus_memory.py (events handled together) and test_realtime_feed.py
(heartbeats under steady traffic)."""
import inspect

import kombu.mixins
import playhouse.pool
from kombu import Connection

from gateway.realtime import Hub
from services.common.consumer import EventConsumer, ReconnectingConsumer
from services.common.db import _PooledPostgres


def _same_signature(ours, base, names):
    for name in names:
        assert hasattr(base, name), f"{base.__name__}.{name} is gone: the override of it no longer applies"
        mine, theirs = inspect.signature(getattr(ours, name)), inspect.signature(getattr(base, name))
        assert list(mine.parameters) == list(theirs.parameters), (name, mine, theirs)


def test_the_peewee_methods_overridden_still_exist_with_the_same_signature():
    _same_signature(_PooledPostgres, playhouse.pool.PooledPostgresqlDatabase,
                    ["_is_closed", "begin", "commit", "rollback", "_execute_cursor"])


def test_the_kombu_hooks_overridden_still_exist_and_are_called():
    _same_signature(EventConsumer, kombu.mixins.ConsumerMixin, ["consume", "on_consume_ready", "on_connection_error"])
    _same_signature(ReconnectingConsumer, kombu.mixins.ConsumerMixin,
                    ["establish_connection", "extra_context", "on_iteration"])
    assert Hub.on_iteration is ReconnectingConsumer.on_iteration

    calls = []

    class Probe(kombu.mixins.ConsumerMixin):
        """kombu's run() must go through consume() (EventConsumer's batching),
        and consume() through establish_connection() and extra_context()
        (ReconnectingConsumer's quick reconnection) and on_iteration() (its
        heartbeats)."""
        connection = Connection("memory://")

        def consume(self, *args, **kwargs):
            calls.append("consume")
            return super().consume(*args, **kwargs)

        def establish_connection(self):
            calls.append("establish_connection")
            return super().establish_connection()

        def extra_context(self, connection, channel):
            calls.append("extra_context")
            return super().extra_context(connection, channel)

        def on_iteration(self):
            calls.append("on_iteration")
            self.should_stop = True

        def get_consumers(self, Consumer, channel):
            return []

    Probe().run(safety_interval=0.05)
    assert calls == ["consume", "establish_connection", "extra_context", "on_iteration"]
