"""A service whose PostgreSQL goes away answers 503 with Retry-After, never
500, and serves again by itself once the database is back: the pooled
connections the restart broke are replaced."""
import itertools

import pytest

from devkit.helpers import Api, assert_error, dev_env, phone, reset_memory_bus, wait_for
from devkit.servers import PostgresServer
from services.common.config import Settings
from services.common.wsgi import build

pytestmark = pytest.mark.integration


def test_a_request_meeting_a_stopped_database_gets_503_and_the_service_recovers(tmp_path):
    server = PostgresServer()
    server.start()
    runtime = None
    try:
        reset_memory_bus()
        app = build("identity", Settings.from_env("identity", dev_env(
            tmp_path, DATABASE_URL=server.create_database("outage"))))
        runtime = app.extensions["sferum"]
        runtime.migrate()
        api, numbers = Api(app.test_client()), itertools.count(1)

        def ask_for_code():
            return api.post("/auth/otp", {"phone": phone(next(numbers))})

        assert ask_for_code().status_code == 202
        server.stop()
        refused = ask_for_code()
        assert_error(refused, 503, "unavailable")
        assert int(refused.headers["Retry-After"]) >= 1
        server.start()
        wait_for(lambda: ask_for_code().status_code == 202, timeout=30, message="identity serving again")
        assert all(ask_for_code().status_code == 202 for _ in range(5))
    finally:
        if runtime is not None:
            runtime.db.close_all()
        server.close()
