import copy
import os
import shutil
import uuid
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from devkit.helpers import Api, dev_env, reset_memory_bus, wait_for
from devkit.servers import PostgresServer, RabbitMQServer


TESTS = Path(__file__).parent
# `make test` runs on two workers (`-n 2 --dist loadscope`), a test module at a
# time, so that a module's fixtures are made once. Tests that start servers of
# their own run one after another on one worker, sharing them (RabbitMQ,
# PostgreSQL, Janus, the gunicorn platform), and so do the browser tests
# (Chromium); the in-process tests fill in around them.
GROUPS = {"integration": "servers", "e2e": "servers", "browser": "browser"}


class _Grouped(LoadScopeScheduling):
    """What goes to a worker in one piece: a test module, or a whole group."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        parts = Path(module).parts
        return GROUPS.get(parts[1], module) if len(parts) > 2 and parts[0] == TESTS.name else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    return _Grouped(config, log)


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


def _start(var_dir: Path, start_from: Path, **env):
    """The in-process platform on a copy of `start_from`: the migrated
    databases, or a stopped platform's whole directory (`school_snapshot`)."""
    from services.embedded import build_platform

    shutil.copytree(start_from, var_dir, dirs_exist_ok=True)
    reset_memory_bus()
    gateway, apps = build_platform(dev_env(var_dir, **env))
    platform = type("Platform", (), {})()
    platform.gateway = gateway
    platform.apps = apps
    platform.api = Api(gateway.test_client())
    return platform


def _stop(platform, settled: bool = False) -> list[str]:
    """Stops it; with `settled`, answers what of its events it left unhandled."""
    from services.embedded import stop_platform

    stop_platform(platform.gateway, platform.apps)
    left = _unsettled(platform.apps) if settled else []
    reset_memory_bus()
    return left


def _unsettled(apps: dict) -> list[str]:
    """Events still in an outbox, and in a service's own queues (a stopped
    consumer's unacknowledged ones are back in its queue)."""
    from kombu.transport import memory

    runtimes = [app.extensions["sferum"] for app in apps.values()]
    queues = {queue.name for runtime in runtimes if runtime.consumer is not None
              for queue in (runtime.consumer.queues.main, runtime.consumer.queues.retry,
                            runtime.consumer.queues.dead_letter)}
    return ([f"{runtime.name} outbox: {runtime.relay.pending()}" for runtime in runtimes if runtime.relay.pending()]
            + [f"{name}: {memory.Channel.queues[name].qsize()}" for name in sorted(queues)
               if name in memory.Channel.queues and memory.Channel.queues[name].qsize()])


def _platform(var_dir: Path, start_from: Path, **env):
    platform = _start(var_dir, start_from, **env)
    yield platform
    _stop(platform)


@pytest.fixture(scope="session")
def school_snapshot(tmp_path_factory, migrated):
    """The School of tests/support/school.py, built once per test process on
    the in-process platform, which is then stopped with every event of the
    building handled: its directory and the School (people, ids, tokens).
    `school_platform` starts each test's platform on a copy of it instead of
    building the school again (a second of each test). Its tokens are issued
    for two hours: the suite uses them long after they were issued."""
    from support.school import School

    for _ in range(3):  # a stop that caught an event on its way: build it again
        directory = tmp_path_factory.mktemp("school")
        platform = _start(directory, migrated, ACCESS_TOKEN_TTL=7200)
        school = School(platform, platform.api)
        wait_for(lambda: not _unsettled(platform.apps), message="the school's events handled")
        left = _stop(platform, settled=True)
        if not left:
            school.api = None
            return directory, school
    raise AssertionError(f"the school's platform stopped with events unhandled: {left}")


@pytest.fixture
def school_platform_with(tmp_path, school_snapshot):
    """Starts the in-process platform, with settings of the test's own, holding
    the School of `school_snapshot` as `platform.school` (each test its own copy
    of both): `school_platform_with(ERASURE_GRACE_SECONDS=2)`."""
    directory, school = school_snapshot
    started = []

    def start(**env):
        started.append(_platform(tmp_path / f"platform-{len(started)}", directory, **env))
        platform = next(started[-1])
        platform.school = copy.deepcopy(school)
        platform.school.api = platform.api
        platform.api.operator = platform.school.operator  # signed in already (support.school.operator)
        return platform

    yield start
    for platform in started:
        next(platform, None)


@pytest.fixture
def school_platform(school_platform_with):
    """`school_platform_with` with the tests' usual settings."""
    return school_platform_with()


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
