"""Throwaway Janus (the SFU) and coturn (TURN) servers for tests, benchmarks
and local work, started from the local Debian binaries (/usr/bin/janus,
/usr/bin/turnserver; `bash tools/install-servers.sh janus coturn`) in a
temporary directory on free loopback ports, removed again at exit.

    python -m devkit.media janus [EVENTS_URL [USER PASSWORD]] | turn

starts one, prints its URLs and secrets as `NAME=value` lines, and runs until
SIGTERM/SIGINT; Janus posts its events to EVENTS_URL when one is given (with
basic auth: the calls service's path wants user `janus` and its
JANUS_EVENTS_SECRET). The generated configuration is explained in README.md,
"Calls"."""
from __future__ import annotations

import atexit
import fcntl
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from devkit.servers import _port_open, _wait, free_port
from services.calls.turn import turn_credentials

JANUS_BIN = Path("/usr/bin/janus")
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
TURN_BIN = Path("/usr/bin/turnserver")

# What a call needs from Janus, and nothing else: plugins, transports and event
# handlers are loaded from private folders that link only these.
JANUS_PLUGINS = {"videoroom": "libjanus_videoroom.so", "streaming": "libjanus_streaming.so"}
JANUS_TRANSPORTS = ("libjanus_http.so",)
JANUS_EVENT_HANDLERS = ("libjanus_sampleevh.so",)
# Attendance needs sessions (created, destroyed, timeout), handles (attached,
# detached, with the opaque id), plugin events (VideoRoom joined, leaving,
# kicked) and the PeerConnections going up and down (webrtc: webrtcup, hangup
# with its reason), which shows a participant whose network dropped while the
# session lived on. Media statistics and JSEP stay off: they are the bulk of
# Janus's events and nobody reads them.
JANUS_EVENT_TYPES = "sessions,handles,plugins,webrtc"


def free_tcp_and_udp_port() -> int:
    """A port free for both TCP and UDP (TURN listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both TCP and UDP")


def host_ipv4() -> str:
    """The first IPv4 address of this machine outside 127.0.0.0/8. Janus's ICE
    (libnice) gathers no candidates on loopback and pins each socket to its
    interface, so it can neither offer nor reach 127.0.0.1: media, and the
    TURN relay's side of it, use this address instead."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            address = socket.inet_ntoa(answer[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                return address
    raise RuntimeError("no IPv4 address outside 127.0.0.0/8: Janus and the TURN relay need one")


def port_range(size: int) -> tuple[int, int]:
    """A random UDP range below Linux's ephemeral ports (32768-60999), so that
    two servers on one machine rarely share ports; they cope if they do, since
    Janus and coturn skip a port that is taken."""
    start = random.randrange(10000, 32768 - size, 2)
    return start, start + size - 1


def _stop_process(process: subprocess.Popen | None, grace: float) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _jcfg(value) -> str:
    """A value in Janus's libconfig syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_jcfg(item) for item in value) + "]"
    return json.dumps(str(value))


def _write_jcfg(path: Path, sections: dict[str, dict]) -> None:
    lines = []
    for name, items in sections.items():
        lines.append(f"{name}: {{")
        lines.extend(f"\t{key} = {_jcfg(value)}" for key, value in items.items() if value is not None)
        lines.append("}")
    path.write_text("\n".join(lines) + "\n")


class JanusServer:
    """A Janus instance with the HTTP API on `url`, the Admin API on
    `admin_url`, the VideoRoom plugin, and, when `start()` is given an
    `events_url`, its sample event handler posting JSON events there (with
    HTTP basic auth when `events_user` and `events_password` are given, as the
    calls service's event path requires).

    `api_secret` authorises the Janus API, `admin_secret` the Admin API and
    `admin_key` the creation of rooms. Ports and secrets survive `stop()` and
    `start()`, so that a test can take the SFU away and bring it back."""

    def __init__(self, plugins: tuple[str, ...] = ("videoroom",), session_timeout: int = 60,
                 debug_level: int = 4, media_ip: str | None = None):
        unknown = set(plugins) - set(JANUS_PLUGINS)
        if unknown:
            raise ValueError(f"unknown Janus plugins: {sorted(unknown)}")
        self.plugins = tuple(plugins)
        self.session_timeout = session_timeout
        self.debug_level = debug_level
        # The one address Janus gathers ICE candidates on (see host_ipv4).
        self.media_ip = media_ip or host_ipv4()
        self.port = free_port()
        self.admin_port = free_port()
        self.rtp_ports = port_range(400)
        self.api_secret = secrets.token_urlsafe(24)
        self.admin_secret = secrets.token_urlsafe(24)
        self.admin_key = secrets.token_urlsafe(24)
        self.events_url: str | None = None
        self.events_user: str | None = None
        self.events_password: str | None = None
        self._process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="sferum-janus-"))
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/admin"

    @property
    def log(self) -> Path:
        return self._dir / "janus.log"

    def start(self, events_url: str | None = None, events_user: str | None = None,
              events_password: str | None = None) -> None:
        if not JANUS_BIN.exists():
            raise RuntimeError("janus is not installed: run `bash tools/install-servers.sh janus coturn`")
        self.events_url = events_url
        self.events_user, self.events_password = events_user, events_password
        self._configure()
        output = open(self._dir / "stdout.log", "ab")
        self._process = subprocess.Popen(
            # Janus reads its plugins' and transports' files from --configs-folder
            # only: `configs_folder` in janus.jcfg is not used for them.
            [str(JANUS_BIN), "--configs-folder", str(self._dir / "conf")],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=self._dir)
        output.close()
        _wait(self._ready, 30, "Janus", self.log, self._process)

    def _link(self, folder: str, source: Path, names) -> Path:
        target = self._dir / folder
        target.mkdir(exist_ok=True)
        for stale in target.iterdir():
            stale.unlink()
        for name in names:
            if not (source / name).exists():
                raise RuntimeError(f"{source / name} is missing: is the janus package complete?")
            (target / name).symlink_to(source / name)
        return target

    def _configure(self) -> None:
        conf = self._dir / "conf"
        conf.mkdir(exist_ok=True)
        for stale in conf.iterdir():
            stale.unlink()
        plugins = self._link("plugins", JANUS_LIB / "plugins", [JANUS_PLUGINS[p] for p in self.plugins])
        transports = self._link("transports", JANUS_LIB / "transports", JANUS_TRANSPORTS)
        events = self._link("events", JANUS_LIB / "events",
                            JANUS_EVENT_HANDLERS if self.events_url else ())
        loggers = self._link("loggers", JANUS_LIB / "loggers", ())
        _write_jcfg(conf / "janus.jcfg", {
            "general": {
                "plugins_folder": str(plugins),
                "transports_folder": str(transports),
                "events_folder": str(events),
                "loggers_folder": str(loggers),
                "log_to_stdout": False,
                "log_to_file": str(self.log),
                "debug_level": self.debug_level,
                "debug_timestamps": True,
                "debug_colors": False,
                "server_name": "sferum-devkit",
                "api_secret": self.api_secret,
                "admin_secret": self.admin_secret,
                "session_timeout": self.session_timeout,
                "hide_dependencies": True,
                "exit_on_dl_error": True,
                # Recordings are not used: Janus may write nowhere but here.
                "protected_folders": ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc",
                                      "/sbin", "/sys", "/usr", "/var"],
            },
            "media": {
                "rtp_port_range": f"{self.rtp_ports[0]}-{self.rtp_ports[1]}",
            },
            "nat": {
                "nice_debug": False,
                "ice_enforce_list": self.media_ip,
                # Half-trickle: Janus puts its own candidates in its SDP.
                "full_trickle": False,
                "ignore_mdns": True,
            },
            "plugins": {},
            "transports": {},
            "loggers": {},
            "events": {
                "broadcast": bool(self.events_url),
                "stats_period": 0,
            },
        })
        _write_jcfg(conf / "janus.transport.http.jcfg", {
            "general": {
                "json": "compact",
                "base_path": "/janus",
                "http": True,
                "port": self.port,
                "ip": "127.0.0.1",
                "https": False,
                "events": False,
            },
            "admin": {
                "admin_base_path": "/admin",
                "admin_http": True,
                "admin_port": self.admin_port,
                "admin_ip": "127.0.0.1",
                "admin_https": False,
            },
            "cors": {},
        })
        if "videoroom" in self.plugins:
            _write_jcfg(conf / "janus.plugin.videoroom.jcfg", {
                "general": {
                    "admin_key": self.admin_key,
                    "lock_rtp_forward": True,
                    "events": True,
                    "string_ids": True,
                },
            })
        if "streaming" in self.plugins:
            _write_jcfg(conf / "janus.plugin.streaming.jcfg", {
                "general": {
                    "admin_key": self.admin_key,
                    "events": True,
                    "string_ids": True,
                },
            })
        if self.events_url:
            _write_jcfg(conf / "janus.eventhandler.sampleevh.jcfg", {
                "general": {
                    "enabled": True,
                    "events": JANUS_EVENT_TYPES,
                    "grouping": True,
                    "json": "compact",
                    "backend": self.events_url,
                    "backend_user": self.events_user,
                    "backend_pwd": self.events_password,
                    "max_retransmissions": 5,
                    "retransmissions_backoff": 100,
                },
            })

    def _ready(self) -> bool:
        try:
            info = requests.get(f"{self.url}/info", timeout=2).json()
            pong = requests.post(self.admin_url, json={
                "janus": "ping", "transaction": "ready", "admin_secret": self.admin_secret}, timeout=2).json()
        except (requests.RequestException, ValueError):
            return False
        wanted = {f"janus.plugin.{name}" for name in self.plugins}
        handler_ok = not self.events_url or "janus.eventhandler.sampleevh" in info.get("events", {})
        return (pong.get("janus") == "pong" and wanted <= set(info.get("plugins", {}))
                and handler_ok)

    def stop(self) -> None:
        """Stops Janus; every session, handle and room (rooms are created through
        the API and never saved to the configuration) is gone with it."""
        _stop_process(self._process, 15)
        _wait(lambda: not _port_open(self.port), 10, "Janus shutdown")

    def close(self) -> None:
        try:
            _stop_process(self._process, 15)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


class TurnServer:
    """coturn on 127.0.0.1:`port` (UDP and TCP) for clients, relaying from
    `relay_ip` (this machine's non-loopback address, which Janus can reach) on
    a private port range; TURN REST authentication (`use-auth-secret` with
    `secret`), no TLS or DTLS listeners, a verbose log in its temporary
    directory."""

    realm = "sferum.test"

    def __init__(self, relay_ip: str | None = None):
        self.relay_ip = relay_ip or host_ipv4()
        self.port = free_tcp_and_udp_port()
        self.relay_ports = port_range(200)
        self.secret = secrets.token_urlsafe(24)
        self._process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="sferum-turn-"))
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def log(self) -> Path:
        return self._dir / "turn.log"

    def credentials(self, participant: str, ttl: int = 3600, now: float | None = None) -> tuple[str, str]:
        """TURN REST (username, credential) for `participant`, valid `ttl` seconds."""
        return turn_credentials(self.secret, participant, ttl, now)

    def ice_server(self, participant: str, ttl: int = 3600) -> dict:
        """One entry of `ice_servers`, as `POST /calls/{id}/join` answers it."""
        username, credential = self.credentials(participant, ttl)
        return {"urls": [self.url], "username": username, "credential": credential}

    def start(self) -> None:
        if not TURN_BIN.exists():
            raise RuntimeError("coturn is not installed: run `bash tools/install-servers.sh janus coturn`")
        config = self._dir / "turnserver.conf"
        options = [
            "listening-ip=127.0.0.1",
            f"listening-port={self.port}",
            f"relay-ip={self.relay_ip}",
            f"min-port={self.relay_ports[0]}",
            f"max-port={self.relay_ports[1]}",
            f"realm={self.realm}",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            "fingerprint",
            "no-tls",
            "no-dtls",
            "no-cli",
            "no-rfc5780",
            "no-multicast-peers",
            "no-software-attribute",
            f"userdb={self._dir / 'turndb'}",
            f"pidfile={self._dir / 'turnserver.pid'}",
            "verbose",
            f"log-file={self.log}",
            "simple-log",
            "new-log-timestamp",
            "no-stdout-log",
        ]
        config.write_text("\n".join(options) + "\n")
        output = open(self._dir / "stdout.log", "ab")
        self._process = subprocess.Popen(
            [str(TURN_BIN), "-c", str(config)], stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self._dir)
        output.close()
        _wait(self._answers_stun, 20, "coturn", self.log, self._process)

    def _answers_stun(self) -> bool:
        """A STUN Binding request on the UDP port gets a Binding success response."""
        transaction = secrets.token_bytes(12)
        request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            try:
                sock.sendto(request, ("127.0.0.1", self.port))
                data, _ = sock.recvfrom(2048)
            except OSError:
                return False
        return len(data) >= 20 and data[:2] == b"\x01\x01" and data[8:20] == transaction

    def stop(self) -> None:
        _stop_process(self._process, 10)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


class EventSink:
    """A small HTTP receiver for Janus's sample event handler: it keeps every
    event POSTed to `url` (one JSON object, or an array of them when Janus
    groups events) and answers 200."""

    def __init__(self):
        self.events: list[dict] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with sink._lock:
                    sink.events.extend(payload if isinstance(payload, list) else [payload])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="janus-event-sink")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/janus-events"

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.events)

    def connection_events(self, opaque_id: str) -> list[dict]:
        """The PeerConnection states (`{"connection": "webrtcup"}`, `{"connection":
        "hangup", "reason": ...}`) of the handles that carry `opaque_id`."""
        return [event["event"] for event in self.snapshot()
                if event.get("type") == 16 and event.get("opaque_id") == opaque_id
                and "connection" in event.get("event", {})]

    def plugin_events(self, room: str | None = None) -> list[dict]:
        """VideoRoom events (`event.data`), with the event's session and handle
        ids added as `session_id` and `handle_id` when Janus gave them."""
        found = []
        for event in self.snapshot():
            if event.get("type") != 64:
                continue
            data = dict(event.get("event", {}).get("data") or {})
            if room is not None and data.get("room") != room:
                continue
            for key in ("session_id", "handle_id", "opaque_id"):
                if key in event:
                    data.setdefault(key, event[key])
            found.append(data)
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("janus", "turn") or len(argv) not in ((1, 2, 4) if argv[0] == "janus" else (1,)):
        print(__doc__, file=sys.stderr)
        return 2

    def leave(*_):
        raise SystemExit(0)
    # Installed before starting, so that a signal during start-up still cleans up.
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)
    server = JanusServer() if argv[0] == "janus" else TurnServer()
    try:
        if argv[0] == "janus":
            server.start(*argv[1:])
            lines = [f"JANUS_URL={server.url}", f"JANUS_ADMIN_URL={server.admin_url}",
                     f"JANUS_API_SECRET={server.api_secret}",
                     f"JANUS_ADMIN_SECRET={server.admin_secret}",
                     f"JANUS_ADMIN_KEY={server.admin_key}", f"JANUS_LOG={server.log}"]
        else:
            server.start()
            lines = [f"TURN_URL={server.url}", f"TURN_SECRET={server.secret}",
                     f"TURN_REALM={server.realm}", f"TURN_LOG={server.log}"]
        print("\n".join(lines), flush=True)
        while True:
            time.sleep(3600)
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
