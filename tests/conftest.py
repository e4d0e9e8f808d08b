import os
import shutil
import uuid
from pathlib import Path

import pytest

from devkit.helpers import Api, dev_env, reset_memory_bus
from devkit.servers import PostgresServer, RabbitMQServer


TESTS = Path(__file__).parent
# `make test` runs on two workers (`-n 2 --dist loadgroup`). Tests that start
# servers of their own run one after another on one worker, sharing them
# (RabbitMQ, PostgreSQL, Janus, the gunicorn platform), and so do the browser
# tests (Chromium); the in-process tests fill in around them.
GROUPS = {"integration": "servers", "e2e": "servers", "browser": "browser"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        group = GROUPS.get(item.path.relative_to(TESTS).parts[0])
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Tests skip when a server they need is not installed (a developer's
    machine); `make test` installs them all and sets SFERUM_REQUIRE_SERVERS,
    so there such a skip is a failure instead of a green run that tested less."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SFERUM_REQUIRE_SERVERS") and "not installed" in str(report.longrepr):
        report.outcome = "failed"


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Path:
    """Every service's SQLite database with all its migrations applied, made
    once per test process: each in-process platform starts from copies of
    them instead of migrating five databases again (half of its start)."""
    from services.common.config import SERVICES, Settings
    from services.common.wsgi import build

    directory = tmp_path_factory.mktemp("migrated")
    reset_memory_bus()
    for name in SERVICES:
        runtime = build(name, Settings.from_env(name, dev_env(directory))).extensions["sferum"]
        runtime.migrate()
        runtime.db.close()
    reset_memory_bus()
    return directory


def _platform(var_dir: Path, migrated: Path, **env):
    from services.embedded import build_platform, stop_platform

    var_dir.mkdir(parents=True, exist_ok=True)
    for database in migrated.glob("*.db"):
        shutil.copyfile(database, var_dir / database.name)
    reset_memory_bus()
    gateway, apps = build_platform(dev_env(var_dir, **env))
    platform = type("Platform", (), {})()
    platform.gateway = gateway
    platform.apps = apps
    platform.api = Api(gateway.test_client())
    yield platform
    stop_platform(gateway, apps)
    reset_memory_bus()


@pytest.fixture
def embedded(tmp_path, migrated):
    """The whole platform in this process, as `make run` starts it: SQLite files
    under a temporary directory, the in-memory bus, dev mode."""
    yield from _platform(tmp_path, migrated)


@pytest.fixture
def embedded_with(tmp_path, migrated):
    """Starts the same with settings of the test's own: `embedded_with(ACCESS_TOKEN_TTL=5)`."""
    started = []

    def start(**env):
        started.append(_platform(tmp_path / f"platform-{len(started)}", migrated, **env))
        return next(started[-1])

    yield start
    for platform in started:
        next(platform, None)


@pytest.fixture(scope="module")
def embedded_module(tmp_path_factory, migrated):
    """The same, shared by the tests of one module (for read-mostly tables of cases)."""
    yield from _platform(tmp_path_factory.mktemp("platform"), migrated)


@pytest.fixture(scope="module")
def embedded_module_with(tmp_path_factory, migrated):
    """`embedded_with` shared by the tests of one module: `embedded_module_with(JANUS_URL=...)`."""
    started = []

    def start(**env):
        started.append(_platform(tmp_path_factory.mktemp("platform"), migrated, **env))
        return next(started[-1])

    yield start
    for platform in started:
        next(platform, None)


@pytest.fixture
def identity_app(tmp_path):
    """identity alone, in-process."""
    from services.common.config import Settings
    from services.common.wsgi import build

    reset_memory_bus()
    app = build("identity", Settings.from_env("identity", dev_env(tmp_path)))
    app.extensions["sferum"].migrate()
    yield app
    app.extensions["sferum"].stop_workers()


# Real RabbitMQ and PostgreSQL: one server each for the session (a container
# when a Docker engine answers, otherwise throwaway local servers), started
# only when a test asks, and a fresh vhost and database for every test so that
# tests never see each other.

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
