import pytest

from services.common.testing.helpers import Api, dev_env, reset_memory_bus


def _platform(var_dir, **env):
    from services.embedded import build_platform

    reset_memory_bus()
    gateway, apps = build_platform(dev_env(var_dir, **env))
    platform = type("Platform", (), {})()
    platform.gateway = gateway
    platform.apps = apps
    platform.api = Api(gateway.test_client())
    yield platform
    gateway.extensions["sferum.gateway"]["hub"].stop()
    for app in apps.values():
        app.extensions["sferum"].stop_workers()
    reset_memory_bus()


@pytest.fixture
def embedded(tmp_path):
    """The whole platform in this process, as `make run` starts it: SQLite files
    under a temporary directory, the in-memory bus, dev mode."""
    yield from _platform(tmp_path)


@pytest.fixture
def embedded_with(tmp_path):
    """Starts the same with settings of the test's own: `embedded_with(ACCESS_TOKEN_TTL=5)`."""
    started = []

    def start(**env):
        started.append(_platform(tmp_path / f"platform-{len(started)}", **env))
        return next(started[-1])

    yield start
    for platform in started:
        next(platform, None)


@pytest.fixture(scope="module")
def embedded_module(tmp_path_factory):
    """The same, shared by the tests of one module (for read-mostly tables of cases)."""
    yield from _platform(tmp_path_factory.mktemp("platform"))


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
