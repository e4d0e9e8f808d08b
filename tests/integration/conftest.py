"""Services in-process on their own real PostgreSQL database (the servers
themselves are the session's, in tests/conftest.py)."""
import pytest


@pytest.fixture
def service_on_postgres(new_database, tmp_path):
    """`make(name, **env)`: one service's runtime, in-process, on its own new
    PostgreSQL database and the in-memory bus, migrated, its Flask app as
    `.app`; for tests of its transactions. `env` adds settings of the test's own."""
    from services.common.config import Settings
    from devkit.helpers import dev_env, reset_memory_bus
    from services.common.wsgi import build

    runtimes = []

    def make(name: str, **env):
        reset_memory_bus()
        env = dev_env(tmp_path / name, DATABASE_URL=new_database(name[:8]), **env)
        app = build(name, Settings.from_env(name, env))
        runtime = app.extensions["sferum"]
        runtime.app = app
        runtime.migrate()
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.stop_workers()
