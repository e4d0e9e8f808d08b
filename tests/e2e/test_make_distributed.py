"""`make distributed` for a newcomer: with the broker and the database it is
given, it creates a database per service, starts every service and the
gateway, holds the demo school of `make run`, and prints where everything is
and how to sign in."""
import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from devkit.distributed import ROOT, free_port
from devkit.helpers import Api, wait_for
from services.orgstructure.demo import DEMO_ADMIN_PHONE, DEMO_SCHOOL

pytestmark = pytest.mark.integration


def test_make_distributed_holds_the_demo_school_and_says_how_to_sign_in(amqp_url, postgres_server, tmp_path):
    port = free_port()
    database_url = postgres_server.url_for("postgres")
    env = dict(os.environ, AMQP_URL=amqp_url, DATABASE_URL=database_url, GATEWAY_PORT=str(port),
               SFERUM_VAR_DIR=str(tmp_path / "var"), LOG_LEVEL="WARNING")
    env.pop("SFERUM_DEV", None)
    log_path = tmp_path / "distributed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "devkit.distributed"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def banner():
            assert process.poll() is None, log_path.read_text()
            return "Stop with Ctrl-C." in log_path.read_text()

        wait_for(banner, timeout=120, interval=0.5, message="the distributed platform's banner")
        printed = log_path.read_text()
        assert f"PostgreSQL: {database_url}" in printed
        for name in ("identity", "orgstructure", "messaging", "calls", "moderation"):
            assert re.search(rf"{name}: postgresql://\S+/sferum_{name}", printed), printed
        assert "Sign in as the admin:" in printed and DEMO_ADMIN_PHONE in printed

        api = Api(f"http://127.0.0.1:{port}")
        tokens = api.sign_in(DEMO_ADMIN_PHONE)

        def demo_school():
            orgs = api.get("/me/orgs", token=tokens["access_token"]).json["items"]
            return [org for org in orgs if org["name"] == DEMO_SCHOOL and "admin" in org["roles"]]

        wait_for(demo_school, timeout=30, message="the demo admin's rights in the demo school")
        invite = re.search(r"/join/(\S+)", printed).group(1)
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/invites/{invite}", timeout=5).json()[
            "org_name"] == DEMO_SCHOOL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
