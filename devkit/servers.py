"""Throwaway RabbitMQ and PostgreSQL servers for tests and the local
distributed mode: containers (testcontainers) when a Docker engine answers,
otherwise servers started from the local Debian binaries in a temporary
directory, on free loopback ports, removed again at exit.

    python -m devkit.servers rabbitmq|postgres

starts one, prints `AMQP_URL=...` or `DATABASE_URL=...`, and runs until
SIGTERM/SIGINT."""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _wait(check, timeout: float, what: str, log: Path | None = None, process=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout}s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RabbitMQServer:
    """A RabbitMQ node whose data survives `stop()`/`start()` on the same port,
    so that tests can take the broker away and bring it back.

    The nodes of a `RabbitMQCluster` share `home` (the Erlang cookie) and the
    port mapper, and run from the local binaries only."""

    user = password = "guest"

    def __init__(self, home: Path | None = None, epmd_port: int | None = None):
        self.port = free_port()
        self.management_port = free_port()
        self._docker = docker_available() and home is None
        self._container = None
        self._process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="sferum-rabbit-"))
        self._home = home or self._dir
        self.node = f"sferumtest{os.getpid()}x{self.port}@localhost"
        # A private port mapper, so that closing this node leaves no daemon
        # behind; a cluster's owns the one its nodes share.
        self._owns_epmd = epmd_port is None
        self._epmd_port = epmd_port or free_port()
        atexit.register(self.close)

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def url_for(self, vhost: str) -> str:
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/{quote(vhost, safe='')}"

    def start(self) -> None:
        if self._docker:
            self._start_container()
        else:
            self._start_local()
        _wait(self._management_ready, 90, "RabbitMQ", self._dir / "log" / "server.log", self._process)

    def _start_container(self) -> None:
        if self._container is None:
            from testcontainers.rabbitmq import RabbitMqContainer

            self._container = (RabbitMqContainer("rabbitmq:3.13-management-alpine")
                               .with_bind_ports(5672, self.port)
                               .with_bind_ports(15672, self.management_port))
            self._container.start()
        else:
            self._container.get_wrapped_container().start()

    def _environment(self) -> dict:
        env = dict(os.environ)
        env.update({
            "HOME": str(self._home),  # a private Erlang cookie
            "ERL_EPMD_PORT": str(self._epmd_port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self._dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self._dir / "log"),
            "RABBITMQ_LOGS": str(self._dir / "log" / "server.log"),
            "RABBITMQ_CONFIG_FILE": str(self._dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self._dir / "rabbit.pid"),
        })
        return env

    def _start_local(self) -> None:
        (self._dir / "log").mkdir(exist_ok=True)
        (self._dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.port = {self.management_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            "disk_free_limit.absolute = 20MB\n"
            "log.console = false\n")
        (self._dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        server = RABBIT_BIN / "rabbitmq-server"
        if not server.exists():
            raise RuntimeError("rabbitmq-server is not installed: run tools/install-servers.sh")
        log = open(self._dir / "log" / "stdout.log", "ab")
        self._process = subprocess.Popen([str(server)], env=self._environment(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def _management_ready(self) -> bool:
        try:
            response = requests.get(f"http://127.0.0.1:{self.management_port}/api/overview",
                                    auth=(self.user, self.password), timeout=2)
            return response.status_code == 200 and _port_open(self.port)
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Stops the broker, keeping its data."""
        if self._container is not None:
            self._container.get_wrapped_container().stop()
            return
        if self._process is None or self._process.poll() is not None:
            return
        # RabbitMQ shuts down gracefully on SIGTERM, and faster than rabbitmqctl.
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        _wait(lambda: not _port_open(self.port), 30, "RabbitMQ shutdown")

    def kill(self) -> None:
        """The node dies at once (SIGKILL), as with a lost machine."""
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        _wait(lambda: not _port_open(self.port), 30, "RabbitMQ gone")

    def ctl(self, *args: str) -> str:
        result = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], capture_output=True,
                                text=True, env=self._environment(), timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def close(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
        elif self._process is not None and self._process.poll() is None:
            try:
                self.stop()
            except Exception:
                os.killpg(self._process.pid, signal.SIGKILL)
        if not self._docker and self._owns_epmd:
            subprocess.run(["epmd", "-port", str(self._epmd_port), "-kill"], capture_output=True,
                           env=self._environment(), timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _api(self, method: str, path: str, **kwargs):
        response = requests.request(method, f"http://127.0.0.1:{self.management_port}/api{path}",
                                    auth=(self.user, self.password), timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def add_vhost(self, name: str) -> str:
        vhost = quote(name, safe="")
        self._api("PUT", f"/vhosts/{vhost}")
        self._api("PUT", f"/permissions/{vhost}/{self.user}",
                  json={"configure": ".*", "write": ".*", "read": ".*"})
        return self.url_for(name)

    def delete_vhost(self, name: str) -> None:
        self._api("DELETE", f"/vhosts/{quote(name, safe='')}")


class RabbitMQCluster:
    """Three (or `size`) RabbitMQ nodes on this machine joined in one cluster,
    from the local Debian binaries: each with its own name, ports and data, a
    shared Erlang cookie and port mapper. `amqp_url` names every node, for
    kombu's failover."""

    def __init__(self, size: int = 3):
        self._home = Path(tempfile.mkdtemp(prefix="sferum-rabbit-cluster-"))
        cookie = self._home / ".erlang.cookie"
        cookie.write_text(os.urandom(16).hex())
        cookie.chmod(0o400)
        self._epmd_port = free_port()
        self.nodes = [RabbitMQServer(self._home, self._epmd_port) for _ in range(size)]
        atexit.register(self.close)

    @property
    def amqp_url(self) -> str:
        return ";".join(node.amqp_url for node in self.nodes)

    def start(self) -> None:
        # Booting takes the most time: all nodes at once, then the others join the first.
        for node in self.nodes:
            node._start_local()
        for node in self.nodes:
            _wait(node._management_ready, 120, "RabbitMQ node", node._dir / "log" / "server.log", node._process)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        running = first.ctl("eval", "length(rabbit_nodes:all_running()).").strip()
        if running != str(len(self.nodes)):
            raise RuntimeError(f"the cluster runs {running} nodes of {len(self.nodes)}")

    def close(self) -> None:
        # The cluster's data is thrown away: the nodes die at once instead of
        # leaving the cluster one by one (which took about 20 s).
        for node in self.nodes:
            if node._process is not None and node._process.poll() is None:
                node.kill()
        for node in self.nodes:
            node.close()
        subprocess.run(["epmd", "-port", str(self._epmd_port), "-kill"], capture_output=True,
                       env=dict(os.environ, HOME=str(self._home), ERL_EPMD_PORT=str(self._epmd_port)), timeout=10)
        shutil.rmtree(self._home, ignore_errors=True)


class PostgresServer:
    user = "sferum"

    def __init__(self, durable: bool = False):
        # Tests trade durability for speed; the benchmark measures with fsync on.
        self.durable = durable
        self.port = free_port()
        self.password = "sferum-test"
        self._docker = docker_available()
        self._container = None
        self._process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="sferum-pg-"))
        self._as_postgres = os.geteuid() == 0
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self._docker:
            if self._container is None:
                from testcontainers.postgres import PostgresContainer

                self._container = PostgresContainer("postgres:15-alpine", username=self.user,
                                                    password=self.password, dbname="postgres")
                self._container.with_bind_ports(5432, self.port)
                self._container.start()
            else:
                self._container.get_wrapped_container().start()
        else:
            self._start_local()
        _wait(self._ready, 60, "PostgreSQL", self._dir / "postgres.log", self._process)

    def _binaries(self) -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                       key=lambda path: int(path.split("/")[4]))
        if not found:
            raise RuntimeError("PostgreSQL is not installed: run tools/install-servers.sh")
        return Path(found[-1]).parent

    def _demote(self):
        """PostgreSQL refuses to run as root: run it as the `postgres` user, as
        Debian's pg_ctlcluster does."""
        if not self._as_postgres:
            return None
        account = pwd.getpwnam("postgres")

        def become_postgres():
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        return become_postgres

    def _start_local(self) -> None:
        bin_dir = self._binaries()
        data = self._dir / "data"
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self._dir, account.pw_uid, account.pw_gid)
        env = dict(os.environ, HOME=str(self._dir), LC_ALL="C.UTF-8")
        if not data.exists():
            password_file = self._dir / "pw"
            password_file.write_text(self.password)
            if self._as_postgres:
                os.chown(password_file, pwd.getpwnam("postgres").pw_uid, -1)
            subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", self.user,
                            f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8",
                            "--locale=C.UTF-8", "--no-sync"],
                           env=env, preexec_fn=self._demote(), check=True, capture_output=True)
        log = self._dir / "postgres.log"
        self._process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self._dir),
             "-c", "listen_addresses=127.0.0.1", *self._durability(), "-c", "max_connections=300",
             "-c", "shared_buffers=128MB", "-c", "logging_collector=off"],
            env=env, preexec_fn=self._demote(), stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def _durability(self) -> list[str]:
        if self.durable:
            return []
        return ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]

    def _ready(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def _execute(self, sql: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()

    def create_database(self, name: str) -> str:
        self._execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._container is not None:
            self._container.get_wrapped_container().stop()
            return
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def close(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
        else:
            self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("rabbitmq", "postgres"):
        print(__doc__, file=sys.stderr)
        return 2
    server = RabbitMQServer() if argv[0] == "rabbitmq" else PostgresServer()
    server.start()
    print(f"AMQP_URL={server.amqp_url}" if argv[0] == "rabbitmq" else f"DATABASE_URL={server.url}",
          flush=True)
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopped.append(1))
    while not stopped:
        time.sleep(0.2)
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
