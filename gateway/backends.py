"""How the gateway reaches a service: over HTTP (distributed mode) or by
calling its WSGI app in the same process (embedded mode)."""
from __future__ import annotations

import io
import json
import select
import socket
import sys
import threading
import time
from typing import Iterable
from urllib.parse import quote, urlsplit

import urllib3
from werkzeug.test import run_wsgi_app

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Host", "Content-Length"))


BUFFERED_MAX = 64 * 1024
PATH_SAFE = "/!$&'()*+,;=:@-._~"


class BackendUnavailable(Exception):
    pass


class HttpBackend:
    """A keep-alive connection pool to one service. This is every request's
    path: a small request with a known length (posting a message, and most
    other calls) is written and its answer read by hand, since a general-purpose
    client cost a third of the gateway's CPU; uploads, downloads and anything
    unusual go through urllib3."""

    def __init__(self, base_url: str, timeout: float = 30.0, pool_size: int = 200):
        self.base_url = base_url.rstrip("/")
        self.pool = urllib3.connection_from_url(
            self.base_url, maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=3.0, read=timeout))
        self.small = SmallRequests(self.base_url, timeout, pool_size)

    def forward(self, method: str, path: str, query: bytes, headers: dict,
                body) -> tuple[int, list, bytes | Iterable[bytes]]:
        # The path arrives percent-decoded; it leaves encoded again (a Cyrillic
        # id typed into a URL is a 404 of the service's, not an error here).
        target = quote(path, safe=PATH_SAFE) + (("?" + query.decode("latin-1")) if query else "")
        if self.small.takes(method, headers, body):
            return self.small.send(method, target, headers, body)
        try:
            response = self.pool.urlopen(method, target, body=body, headers=headers, redirect=False,
                                         preload_content=False, decode_content=False,
                                         chunked=body is not None and "Content-Length" not in headers)
        except urllib3.exceptions.HTTPError as error:
            raise BackendUnavailable(str(error)) from error
        out_headers = [(k, v) for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP]
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= BUFFERED_MAX:
            # Most answers are small JSON: passed on whole, with their length,
            # in one write instead of chunk by chunk.
            content = response.read(decode_content=False)
            response.release_conn()
            return response.status, out_headers, content
        return response.status, out_headers, response.stream(64 * 1024, decode_content=False)

    def get_json(self, path: str, timeout: float = 3.0) -> tuple[int, dict]:
        try:
            response = self.pool.request("GET", path, timeout=urllib3.Timeout(connect=timeout, read=timeout))
            return response.status, json.loads(response.data or b"{}")
        except (urllib3.exceptions.HTTPError, ValueError) as error:
            raise BackendUnavailable(str(error)) from error


class SmallRequests:
    """HTTP/1.1 by hand for requests that change something and carry at most
    BUFFERED_MAX bytes: the whole request in one write, the whole answer read
    into memory (the services answer these with small JSON)."""

    METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
    IDLE_SECONDS = 1.0  # well under the services' keep-alive (5 s): never reuse one being closed

    def __init__(self, base_url: str, timeout: float, pool_size: int):
        parts = urlsplit(base_url)
        self.address = (parts.hostname, parts.port or 80)
        self.host = parts.netloc.encode("latin-1")
        self.timeout = timeout
        self.pool_size = pool_size
        self._idle: list[tuple[float, socket.socket]] = []
        self._lock = threading.Lock()

    def takes(self, method: str, headers: dict, body) -> bool:
        length = headers.get("Content-Length", "0" if body is None else "")
        return (method in self.METHODS and length.isdigit() and int(length) <= BUFFERED_MAX
                and "Expect" not in headers)

    def send(self, method: str, target: str, headers: dict, body) -> tuple[int, list, bytes]:
        length = int(headers.get("Content-Length", "0"))
        content = _read_exactly(body, length) if body is not None else b""
        if len(content) != length:
            raise BackendUnavailable("the client sent less than its Content-Length")
        head = [f"{method} {target} HTTP/1.1".encode("latin-1"), b"Host: " + self.host]
        head += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()
                 if name.lower() not in ("host", "content-length")]
        head.append(b"Content-Length: %d" % length)
        request = b"\r\n".join(head) + b"\r\n\r\n" + content
        sock = self._connection()
        try:
            sock.sendall(request)
            status, answer_headers, answer, reusable = _Answer(sock).read()
        except (OSError, ValueError, IndexError) as error:
            sock.close()
            raise BackendUnavailable(f"{type(error).__name__}: {error}") from error
        if reusable:
            self._keep(sock)
        else:
            sock.close()
        return status, [(k, v) for k, v in answer_headers if k.lower() not in HOP_BY_HOP], answer

    def _connection(self) -> socket.socket:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                used_at, sock = self._idle.pop()
            if now - used_at < self.IDLE_SECONDS and _still_open(sock):
                return sock
            sock.close()
        try:
            sock = socket.create_connection(self.address, timeout=3.0)
        except OSError as error:
            raise BackendUnavailable(f"cannot connect: {error}") from error
        sock.settimeout(self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append((time.monotonic(), sock))
                return
        sock.close()


def _read_exactly(stream, size: int) -> bytes:
    parts = []
    while size:
        part = stream.read(size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _still_open(sock: socket.socket) -> bool:
    """A pooled connection the service has not closed and sent nothing on:
    readable would mean its end, or bytes nobody asked for."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class _Answer:
    """Reads one HTTP/1.1 answer from a socket: status, headers and the whole body."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def read(self) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        while True:
            status_line, headers = self._head()
            status = int(status_line.split(b" ", 2)[1])
            if not 100 <= status < 200:  # interim answers (100 Continue) come before the real one
                break
        by_name = {name.lower(): value for name, value in headers}
        keep_alive = by_name.get("connection", "").lower() != "close" and status_line.startswith(b"HTTP/1.1")
        if status in (204, 304):
            body = b""
        elif by_name.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        elif "content-length" in by_name:
            body = self._exactly(int(by_name["content-length"]))
        else:
            return status, headers, self._until_closed(), False
        # Bytes after the answer belong to nothing: that connection is not reused.
        return status, headers, body, keep_alive and not self.buffer

    def _more(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the service closed the connection mid-answer")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > 1 << 16:
                raise ValueError("an answer line too long")
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _head(self) -> tuple[bytes, list[tuple[str, str]]]:
        status_line, headers = self._line(), []
        while line := self._line():
            name, _, value = line.partition(b":")
            headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        return status_line, headers

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._more()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return body

    def _chunked(self) -> bytes:
        parts = []
        while size := int(self._line().split(b";", 1)[0], 16):
            parts.append(self._exactly(size))
            self._line()
        while self._line():  # trailers, if any
            pass
        return b"".join(parts)

    def _until_closed(self) -> bytes:
        while chunk := self.sock.recv(1 << 16):
            self.buffer += chunk
        return self.buffer


class WsgiBackend:
    def __init__(self, app):
        self.app = app

    def forward(self, method: str, path: str, query: bytes, headers: dict, body) -> tuple[int, list, Iterable[bytes]]:
        environ = {
            # WSGI carries the path's bytes as latin-1 characters, as a server would put them.
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"), "SERVER_NAME": "embedded", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": body or io.BytesIO(b""),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        out_headers = [(k, v) for k, v in response_headers.items() if k.lower() not in HOP_BY_HOP]
        return int(status.split(" ", 1)[0]), out_headers, app_iter

    def get_json(self, path: str, timeout: float = 3.0) -> tuple[int, dict]:
        status, _headers, body = self.forward("GET", path, b"", {}, None)
        return status, json.loads(b"".join(body) or b"{}")
