"""The distributed mode on one machine: every service and the gateway as its
own gunicorn process on RabbitMQ and PostgreSQL, as in Kubernetes.

`make distributed` uses AMQP_URL and DATABASE_URL when they are set (one
database per service is created next to the one DATABASE_URL names);
otherwise it starts throwaway RabbitMQ and PostgreSQL servers from the local
binaries. The integration tests and the benchmark use `Cluster` directly."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for(base_url: str, name: str) -> str:
    parsed = urlparse(base_url)
    return urlunparse(parsed._replace(path=f"/{name}"))


def ensure_database(base_url: str, name: str) -> str:
    """The URL of database `name` on the server `base_url` names, created when missing."""
    import psycopg2

    connection = psycopg2.connect(base_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return database_url_for(base_url, name)


class Cluster:
    """Starts gunicorn processes for services and gateways and stops them all."""

    def __init__(self, amqp_url: str, database_urls: dict[str, str], *, secret_key: str | None = None,
                 dev: bool = True, extra_env: dict | None = None, log_dir: Path | None = None):
        self.amqp_url = amqp_url
        self.database_urls = database_urls
        self.secret_key = secret_key or secrets.token_urlsafe(32)
        self.dev = dev
        self.extra_env = dict(extra_env or {})
        self.log_dir = log_dir or Path(os.environ.get("SFERUM_VAR_DIR", "var")) / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.ports: dict[str, int] = {}
        self.internal_ports: dict[str, int] = {}  # gateways: readiness and metrics
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self._workers: dict[str, tuple[str, dict]] = {}  # label -> service and settings, to start it again

    def env(self, **overrides) -> dict:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update({
            "AMQP_URL": self.amqp_url, "SECRET_KEY": self.secret_key,
            "STREAM_TICKET_KEY": self.secret_key + "/stream-tickets",
            "LOG_LEVEL": env.get("LOG_LEVEL", "WARNING"), "PYTHONPATH": str(ROOT),
        })
        if self.dev:
            env["SFERUM_DEV"] = "1"
        if "identity" in self.ports:
            env["JWKS_URL"] = f"http://127.0.0.1:{self.ports['identity']}/api/v1/.well-known/jwks.json"
        for name, port in self.ports.items():
            if name in SERVICES:
                env[f"{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        env.update(self.extra_env)
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    def migrate(self, name: str) -> None:
        env = self.env(DATABASE_URL=self.database_urls[name])
        subprocess.run([sys.executable, "-m", "services", "migrate", name], env=env, check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)

    def seed_demo(self) -> dict | None:
        """The demo region and school, written by orgstructure's own code into
        its database; its relay publishes the events like any others."""
        env = self.env(DATABASE_URL=self.database_urls["orgstructure"])
        done = subprocess.run([sys.executable, "-m", "services", "seed-demo"], env=env, check=True, cwd=ROOT,
                              capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def create_region(self, name: str) -> str:
        """A region the operator serves, made by orgstructure's own command; its id."""
        env = self.env(DATABASE_URL=self.database_urls["orgstructure"])
        created = subprocess.run([sys.executable, "-m", "services", "create-region", name], env=env, cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout
        return created.split()[1].rstrip(":")

    def start_service(self, name: str, workers: int = 1, threads: int = 8, **env) -> int:
        self.migrate(name)
        port = free_port()
        self.ports[name] = port
        self._spawn(name, f"services.{name}.wsgi:app", port, self.env(
            DATABASE_URL=self.database_urls[name], WEB_CONCURRENCY=workers,
            GUNICORN_THREADS=threads, **env))
        return port

    def start_worker(self, name: str, label: str | None = None, **env) -> None:
        """The service's outbox relay and event consumer in a process of their own
        (its web processes then run with RUN_WORKERS=0)."""
        label = label or f"{name}-worker"
        self._workers[label] = (name, env)
        log = open(self.log_dir / f"{label}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "services", "worker", name],
                                   env=self.env(DATABASE_URL=self.database_urls[name], **env), cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((label, process))

    def restart_worker(self, label: str) -> bool:
        """Starts the worker process `label` again if it exited (as Kubernetes
        restarts a container whose process died); answers whether it did."""
        process = dict(self.processes)[label]
        if process.poll() is None:
            return False
        self.processes.remove((label, process))
        name, env = self._workers[label]
        self.start_worker(name, label, **env)
        return True

    def start_gateway(self, label: str = "gateway", workers: int = 1, port: int | None = None, **env) -> int:
        port = port or free_port()
        self.ports[label] = port
        self.internal_ports[label] = free_port()
        self._spawn(label, "gateway.wsgi:app", port, self.env(
            WEB_CONCURRENCY=workers, GUNICORN_WORKER_CLASS="gevent", INTERNAL_PORT=self.internal_ports[label],
            **env))
        return port

    def _spawn(self, label: str, target: str, port: int, env: dict) -> None:
        log = open(self.log_dir / f"{label}.log", "ab")
        binds = [port, *([self.internal_ports[label]] if label in self.internal_ports else [])]
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG),
                   *[option for bound in binds for option in ("--bind", f"127.0.0.1:{bound}")], target]
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append((label, process))

    def url(self, label: str) -> str:
        return f"http://127.0.0.1:{self.ports[label]}"

    def internal_url(self, label: str) -> str:
        """Where a process answers readiness and metrics: a gateway's internal port, a service's own."""
        return f"http://127.0.0.1:{self.internal_ports.get(label, self.ports[label])}"

    def wait_ready(self, labels=None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for label in labels or list(self.ports):
            while True:
                process = dict(self.processes)[label]
                if process.poll() is not None:
                    raise RuntimeError(f"{label} exited with {process.returncode}; "
                                       f"see {self.log_dir / (label + '.log')}")
                try:
                    if requests.get(self.internal_url(label) + "/readyz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label} not ready after {timeout}s; "
                                       f"see {self.log_dir / (label + '.log')}")
                time.sleep(0.1)

    def stop(self, label: str | None = None) -> None:
        for name, process in list(self.processes):
            if label is not None and name != label:
                continue
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            self.processes.remove((name, process))

    def close(self) -> None:
        self.stop()


def run() -> None:
    """`make distributed`: the whole platform, one gunicorn per service. With
    SFERUM_DEV=1 (the default here) it holds the demo region and school of
    `make run` and prints the same sign-in help."""
    from services.orgstructure.demo import sign_in_help

    from .servers import PostgresServer, RabbitMQServer

    dev = os.environ.get("SFERUM_DEV", "1") == "1"
    servers = []
    amqp_url = os.environ.get("AMQP_URL")
    database_url = os.environ.get("DATABASE_URL")
    if not amqp_url:
        rabbit = RabbitMQServer()
        rabbit.start()
        servers.append(rabbit)
        amqp_url = rabbit.amqp_url
    if not database_url:
        postgres = PostgresServer()
        postgres.start()
        servers.append(postgres)
        database_urls = {name: postgres.create_database(f"sferum_{name}") for name in SERVICES}
        database_url = postgres.url_for("postgres")
    else:
        database_urls = {name: ensure_database(database_url, f"sferum_{name}") for name in SERVICES}
    cluster = Cluster(amqp_url, database_urls, dev=dev)
    stop = False

    def on_signal(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for name in SERVICES:
            cluster.start_service(name, workers=2)
        gateway_port = cluster.start_gateway(workers=2, port=int(os.environ.get("GATEWAY_PORT", "8080")))
        cluster.wait_ready()
        seeded = cluster.seed_demo() if dev else None
        base = f"http://127.0.0.1:{gateway_port}"
        print(f"Sferum (distributed) is running on {base}\n"
              f"  RabbitMQ: {amqp_url}\n  PostgreSQL: {database_url} (one database per service:\n"
              + "".join(f"    {name}: {database_urls[name]}\n" for name in SERVICES)
              + f"  )\n  logs: {cluster.log_dir}\n"
              + "".join(f"  {name}: {cluster.url(name)}\n" for name in SERVICES)
              + f"  readiness and metrics of the gateway: {cluster.internal_url('gateway')}/readyz, /metrics\n"
              + (sign_in_help(base, seeded) if dev else "")
              + "Stop with Ctrl-C.", flush=True)
        while not stop:
            for label, process in cluster.processes:
                if process.poll() is not None:
                    print(f"{label} exited with {process.returncode}", flush=True)
                    stop = True
            time.sleep(0.5)
    finally:
        cluster.close()
        for server in servers:
            server.close()


if __name__ == "__main__":
    run()
