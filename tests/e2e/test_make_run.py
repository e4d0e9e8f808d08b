"""`make run`'s process, started as a user would: the platform answers on its
port, lists all five services as ready, documents identity's API and signs a
user in with the code from the dev outbox; a realtime stream opens; readiness
is answered on its internal port only."""
import json
import os
import signal
import subprocess
import sys

import pytest
import requests
import websocket

from services.common.config import SERVICES
from devkit.helpers import Api, phone, wait_for
from devkit.distributed import ROOT, free_port


@pytest.fixture
def embedded_process(tmp_path):
    port, internal_port = free_port(), free_port()
    env = dict(os.environ, SFERUM_VAR_DIR=str(tmp_path / "var"), LOG_LEVEL="WARNING")
    env.pop("SFERUM_DEV", None)
    env.pop("AMQP_URL", None)
    env.pop("DATABASE_URL", None)
    log = open(tmp_path / "embedded.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "services", "embedded", "--port", str(port),
                                "--internal-port", str(internal_port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base, internal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal_port}"

    def up():
        assert process.poll() is None, (tmp_path / "embedded.log").read_text()
        try:
            return (requests.get(internal + "/readyz", timeout=1).status_code == 200
                    and requests.get(base + "/healthz", timeout=1).status_code == 200)
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=60, message="the embedded platform")
        yield base, internal, tmp_path / "embedded.log", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_embedded_platform_as_make_run_starts_it(embedded_process):
    base, internal, log, process = embedded_process
    api = Api(base)
    assert api.get("/healthz").json == {"status": "ok", "service": "gateway"}
    ready = Api(internal).get("/readyz").json
    assert ready["services"] == {name: "ok" for name in SERVICES} and ready["realtime"] == "ok"
    assert api.get("/readyz").status_code == 404  # the public port keeps them to itself
    assert "/api/v1/auth/token" in api.get("/api/openapi.json").json["paths"]
    assert requests.get(base + "/api/docs", timeout=5).headers["Content-Type"].startswith("text/html")
    tokens = api.sign_in(phone(1))
    assert api.get("/me", token=tokens["access_token"]).json["phone"] == phone(1)
    ticket = api.post("/stream/ticket", token=tokens["access_token"]).json["ticket"]
    stream = websocket.create_connection(base.replace("http", "ws") + "/api/v1/stream?ticket=" + ticket,
                                         timeout=10)
    assert json.loads(stream.recv())["type"] == "stream.ready"
    stream.close()
    printed = log.read_text()
    assert "Sign in as the admin:" in printed and "SFERUM_DEV=1" in printed
    # Ctrl-C stops it cleanly and promptly.
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
    assert "Sferum stopped." in log.read_text()
