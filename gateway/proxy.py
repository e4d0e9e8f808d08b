"""Every call under /api/v1 but the realtime stream: checked and forwarded by a
plain WSGI app in front of Flask. This is every request's path, and Flask's
request machinery (contexts, routing, hooks, response objects) cost the
gateway as much CPU as the forwarding itself."""
from __future__ import annotations

import json
import logging
import time

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from services.common.auth import TokenVerifier, bearer_token
from services.common.errors import (HTTP_CODES, ApiError, MethodNotAllowed, NotFound, PayloadTooLarge,
                                    TooManyRequests, Unauthorized, error_body)
from services.common.logs import correlation_id
from services.common.web import API_PREFIX, REQUEST_ID_HEADER, RequestMetrics, request_id_from

from . import export
from .backends import HOP_BY_HOP, BackendUnavailable
from .ratelimit import RateLimiter
from .routes import is_upload_part, resolve
from .settling import Settler

log = logging.getLogger(__name__)

PREFIX = API_PREFIX + "/"
STREAM = API_PREFIX + "/stream"
GATEWAY_OWN = frozenset((STREAM, STREAM + "/ticket"))  # answered by the gateway's Flask app
ROUTE = API_PREFIX + "/<path:path>"  # the route label in metrics and logs
# What the gateway says itself to the services, never what a client claims.
SET_BY_GATEWAY = frozenset((REQUEST_ID_HEADER.lower(), "x-forwarded-for", "x-forwarded-proto"))
NOT_FORWARDED = HOP_BY_HOP | SET_BY_GATEWAY


class ApiProxy:
    """WSGI: /api/v1/... is checked (route, token, rate) and forwarded to its
    service; every other path goes on to `rest`, the gateway's Flask app."""

    def __init__(self, rest, backends: dict, verifier: TokenVerifier, limiter: RateLimiter,
                 metrics: RequestMetrics, max_body_bytes: int, settler: Settler, upload_part_max_bytes: int):
        self.rest = rest
        self.backends = backends
        self.settler = settler
        self.verifier = verifier
        self.limiter = limiter
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Only a part of a large file may be larger than other bodies (a video lesson's part).
        self.upload_part_max_bytes = upload_part_max_bytes

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX) or path in GATEWAY_OWN:
            return self.rest(environ, start_response)
        started_at = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        context = correlation_id.set(request_id)
        method = environ["REQUEST_METHOD"]
        # PATH_INFO carries the path's bytes as latin-1; clients send UTF-8.
        path = path.encode("latin-1").decode("utf-8", "replace")
        try:
            try:
                status, headers, content = self._forward(environ, method, path, request_id)
            except ApiError as error:
                status, headers, content = _error(error.status, error.code, error.message, error.details,
                                                  error.headers)
            except HTTPException as error:  # the body turned out longer than allowed
                status, headers, content = _error(error.code, HTTP_CODES.get(error.code, "error"),
                                                  error.description)
            except Exception:
                log.exception("unhandled error")
                status, headers, content = _error(500, "internal_error", "Something went wrong on our side.")
            headers.append((REQUEST_ID_HEADER, request_id))
            start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
            self.metrics.observe(method, ROUTE, path, status, started_at)
        finally:
            correlation_id.reset(context)
        return content

    def _forward(self, environ, method: str, path: str, request_id: str):
        exporting = path[len(PREFIX):] == export.PATH
        if exporting and method != "GET":
            raise MethodNotAllowed(headers={"Allow": "GET"})
        resolved = ("gateway", False) if exporting else resolve(path[len(PREFIX):], method)
        if resolved is None:
            raise NotFound()
        service, public = resolved
        max_body = self.upload_part_max_bytes if is_upload_part(path[len(PREFIX):], method) else self.max_body_bytes
        remote_addr = environ.get("REMOTE_ADDR") or ""
        client_headers = EnvironHeaders(environ)
        principal = None
        if not public:
            token = bearer_token(client_headers)
            if not token:
                raise Unauthorized()
            principal = self.verifier.verify(token)
        wait = self.limiter.check(principal.id if principal else f"ip:{remote_addr}")
        if wait:
            raise TooManyRequests(wait)
        # What a service should see of the client's headers: none that belong
        # to this hop, none that only the gateway may set.
        headers = {name: value for name, value in client_headers.items() if name.lower() not in NOT_FORWARDED}
        length = environ.get("CONTENT_LENGTH", "")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length.isdigit() and not chunked:
            if int(length) > max_body:
                raise PayloadTooLarge(f"The request body is larger than this endpoint takes ({max_body} bytes).",
                                      details={"max_bytes": max_body})
            headers["Content-Length"] = length
        headers[REQUEST_ID_HEADER] = request_id
        headers["X-Forwarded-For"] = remote_addr
        headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
        body = None
        if (length.isdigit() and int(length)) or chunked:
            # Passed on as it arrives (a part of a video lesson is megabytes), never read whole here.
            # One byte over the cap: werkzeug refuses a body of exactly its cap once the
            # sender looks for more; a chunked body a byte larger the service refuses.
            body = get_input_stream(environ, max_content_length=max_body + 1)
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        try:
            if exporting:
                status, out_headers, content = export.assemble(self.backends, headers, principal.id)
            else:
                # Asked again while the answer lacks a fact on its way (settling.py).
                status, out_headers, content = self.settler.forward(self.backends[service], method, path, query,
                                                                    headers, body)
        except BackendUnavailable as error:
            log.warning("%s unavailable: %s", service, error)
            return _error(503, "service_unavailable", "This part of the platform is briefly unavailable; try again.",
                          headers={"Retry-After": "2"})
        # The answer carries the gateway's request id, added once by __call__.
        out_headers = [(name, value) for name, value in out_headers if name.lower() != REQUEST_ID_HEADER.lower()]
        if isinstance(content, list):
            content = b"".join(content)
        if isinstance(content, bytes):
            out_headers.append(("Content-Length", str(len(content))))
            return status, out_headers, [content]
        return status, out_headers, content


def _error(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None):
    body = json.dumps(error_body(code, message, details), ensure_ascii=False).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                    *(headers or {}).items()], [body]
