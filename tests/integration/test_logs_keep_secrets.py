"""Secrets that travel in URLs (invite and chat-link tokens in paths, the
stream's token or ticket in its query) never reach a log line: not the
platform's request lines, not error logs, not gunicorn's own logs, in the
embedded mode as in the distributed one, at INFO (the deploy default)."""
import os
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from devkit.distributed import ROOT, Cluster, free_port
from devkit.helpers import Api, wait_for
from services.common.config import SERVICES
from support.secrets import handle_secrets, lines_with_secrets


def test_the_embedded_platform_logs_no_secret(tmp_path):
    port, internal_port = free_port(), free_port()
    env = dict(os.environ, SFERUM_VAR_DIR=str(tmp_path / "var"), LOG_LEVEL="INFO")
    for name in ("SFERUM_DEV", "AMQP_URL", "DATABASE_URL"):
        env.pop(name, None)
    log_path = tmp_path / "embedded.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "services", "embedded", "--port", str(port),
                                    "--internal-port", str(internal_port)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            assert process.poll() is None, log_path.read_text()
            try:
                return requests.get(base + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, timeout=60, message="the embedded platform")
        used = handle_secrets(base)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    logged = log_path.read_text()
    assert lines_with_secrets(logged, used) == []
    # The lines are there, with the secrets masked.
    for masked in ("/api/v1/invites/***/accept", "/api/v1/chat-invites/<token>/accept"):
        assert masked in logged, masked


@pytest.mark.integration
def test_gunicorn_processes_log_no_secret(rabbitmq_server, postgres_server, tmp_path):
    amqp_url = rabbitmq_server.add_vhost(f"logs-{uuid.uuid4().hex[:8]}")
    databases = {name: postgres_server.create_database(f"l_{name}_{uuid.uuid4().hex[:8]}") for name in SERVICES}
    # gunicorn's access log as an operator may turn it on, beside the platform's own lines.
    cluster = Cluster(amqp_url, databases, log_dir=tmp_path / "logs", extra_env={
        "LOG_LEVEL": "INFO", "OUTBOX_POLL_MS": "50", "GUNICORN_CMD_ARGS": "--access-logfile - --log-level info"})
    try:
        for name in SERVICES:
            cluster.start_service(name, threads=4)
        cluster.start_gateway()
        cluster.wait_ready(timeout=90)
        cluster.seed_demo()
        base = cluster.url("gateway")
        used = handle_secrets(base)
        # A service that is down: the gateway's warning names the request it could not forward.
        cluster.stop("messaging")
        answer = requests.get(f"{base}/api/v1/chat-invites/{used['chat link']}", timeout=10,
                              headers={"Authorization": "Bearer " + Api(base).sign_in("+79000000777")["access_token"]})
        assert answer.status_code == 503
    finally:
        cluster.close()
    logs = {path.name: path.read_text() for path in (tmp_path / "logs").glob("*.log")}
    assert {f"{name}.log" for name in (*SERVICES, "gateway")} <= set(logs)
    for name, text in logs.items():
        assert lines_with_secrets(text, used) == [], name
    assert "/api/v1/invites/***/accept" in logs["gateway.log"]
    assert "/api/v1/invites/<token>/accept" in logs["orgstructure.log"]
    assert "GET /api/v1/stream?token=***&ticket=***" in logs["gateway.log"]  # gunicorn's access log
    assert "messaging unavailable" in logs["gateway.log"]
