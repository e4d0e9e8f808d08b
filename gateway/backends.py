"""How the gateway reaches a service: over HTTP (distributed mode) or by
calling its WSGI app in the same process (embedded mode)."""
from __future__ import annotations

import io
import json
import sys
from typing import Iterable

import urllib3
from werkzeug.test import run_wsgi_app

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Host", "Content-Length"))


BUFFERED_MAX = 64 * 1024


class BackendUnavailable(Exception):
    pass


class HttpBackend:
    """A keep-alive connection pool to one service, used straight through urllib3:
    this is every request's path, and requests' conveniences cost a core at
    hundreds of messages a second."""

    def __init__(self, base_url: str, timeout: float = 30.0, pool_size: int = 200):
        self.base_url = base_url.rstrip("/")
        self.pool = urllib3.connection_from_url(
            self.base_url, maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=3.0, read=timeout))

    def forward(self, method: str, path: str, query: bytes, headers: dict, body) -> tuple[int, list, bytes | Iterable[bytes]]:
        url = path + (("?" + query.decode("latin-1")) if query else "")
        try:
            response = self.pool.urlopen(method, url, body=body, headers=headers, redirect=False,
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


class WsgiBackend:
    def __init__(self, app):
        self.app = app

    def forward(self, method: str, path: str, query: bytes, headers: dict, body) -> tuple[int, list, Iterable[bytes]]:
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
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
