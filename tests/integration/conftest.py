"""Real RabbitMQ and PostgreSQL: one server each for the session (a container
when a Docker engine answers, otherwise throwaway local servers), and a fresh
vhost and database for every test so that tests never see each other."""
import uuid

import pytest

from services.common.testing.servers import PostgresServer, RabbitMQServer


@pytest.fixture(scope="session")
def rabbitmq_server():
    server = RabbitMQServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def amqp_url(rabbitmq_server):
    vhost = f"test-{uuid.uuid4().hex[:10]}"
    url = rabbitmq_server.add_vhost(vhost)
    yield url
    try:
        rabbitmq_server.delete_vhost(vhost)
    except Exception:
        pass  # a test that stopped the broker may leave it starting up


@pytest.fixture
def new_database(postgres_server):
    created = []

    def make(label: str = "db") -> str:
        name = f"t_{label}_{uuid.uuid4().hex[:10]}"
        created.append(name)
        return postgres_server.create_database(name)

    yield make
    for name in created:
        try:
            postgres_server.drop_database(name)
        except Exception:
            pass


@pytest.fixture
def service_on_postgres(new_database, tmp_path):
    """`make(name)`: one service's runtime, in-process, on its own new PostgreSQL
    database and the in-memory bus, migrated, its Flask app as `.app`; for
    tests of its transactions."""
    from services.common.config import Settings
    from services.common.testing.helpers import dev_env, reset_memory_bus
    from services.common.wsgi import build

    runtimes = []

    def make(name: str):
        reset_memory_bus()
        env = dev_env(tmp_path / name, DATABASE_URL=new_database(name[:8]))
        app = build(name, Settings.from_env(name, env))
        runtime = app.extensions["sferum"]
        runtime.app = app
        runtime.migrate()
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.stop_workers()
