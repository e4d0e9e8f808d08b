"""Helpers for tests of any service: the in-process platform, signing in
through the dev outbox, and polling with a deadline instead of sleeping."""
from __future__ import annotations

import time
from typing import Callable

from kombu.transport import memory

from services.common.auth import Principal

PHONE_PREFIX = "+7900"
OPERATOR_PHONE = "+79009999999"
ROOT_PATHS = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json")


def reset_memory_bus() -> None:
    """kombu's in-memory broker is process-wide; each test starts from an empty one."""
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()


def dev_env(var_dir, **extra) -> dict:
    env = {
        "SFERUM_DEV": "1", "SFERUM_VAR_DIR": str(var_dir), "AMQP_URL": "memory://",
        "SECRET_KEY": "test-secret-key-for-tests-only", "OUTBOX_POLL_MS": "50",
        "EVENT_RETRY_DELAY_MS": "100", "EVENT_MAX_ATTEMPTS": "3", "LOG_LEVEL": "WARNING",
        "OPERATOR_PHONES": OPERATOR_PHONE, "OTP_PER_IP_PER_HOUR": "100000",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


class TokensAreUserIds:
    """Stands in for a service's token verifier where JWT checks are not what is
    tested or measured: the bearer token is taken as the user's id."""

    def verify(self, token: str) -> Principal:
        return Principal(id=token, session_id=None)


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05,
             message: str = "condition") -> object:
    """Poll until `predicate()` is truthy; fail with `message` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def phone(n: int) -> str:
    return f"{PHONE_PREFIX}{n:07d}"


class Api:
    """A small client over either a Flask test client or a base URL (requests),
    so that the same test helpers drive the in-process and the real platform."""

    def __init__(self, target, prefix: str = "/api/v1", base_url: str | None = None):
        """`base_url` (a Flask test client only): where the requests seem to
        arrive, e.g. the gateway's internal port."""
        self.prefix = prefix
        self._flask_base_url = base_url
        if isinstance(target, str):
            import requests
            self._session = requests.Session()
            self._base = target.rstrip("/")
            self._flask = None
        else:
            self._flask = target
            self._base = ""

    def request(self, method: str, path: str, token: str | None = None, json=None,
                headers: dict | None = None, params: dict | None = None, **kwargs):
        url = path if path.startswith(ROOT_PATHS) else self.prefix + path
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._flask is not None:
            if self._flask_base_url:
                kwargs.setdefault("base_url", self._flask_base_url)
            response = self._flask.open(url, method=method, json=json, headers=headers,
                                        query_string=params, **kwargs)
            return Response(response.status_code, response.get_json(silent=True), response.headers,
                            response.get_data())
        response = self._session.request(method, self._base + url, json=json, headers=headers,
                                         params=params, timeout=30, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        return Response(response.status_code, body, response.headers, response.content)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, json=None, token=None, **kw):
        return self.request("POST", path, token, json=json, **kw)

    def patch(self, path, json=None, token=None, **kw):
        return self.request("PATCH", path, token, json=json, **kw)

    def put(self, path, json=None, token=None, **kw):
        return self.request("PUT", path, token, json=json, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token, **kw)

    def sign_in(self, phone_number: str) -> dict:
        """Ask for a code, read it from the dev outbox, exchange it for tokens."""
        return self._sign_in("/auth/otp", "phone", phone_number)

    def sign_in_email(self, address: str) -> dict:
        """The same with a code sent by e-mail."""
        return self._sign_in("/auth/email-otp", "email", address)

    def _sign_in(self, path: str, field: str, destination: str) -> dict:
        sent = self.post(path, {field: destination})
        assert sent.status_code == 202, sent.json
        outbox = self.get("/dev/outbox", params={"to": destination})
        # The newest code: notices (invites sent to this phone) may be listed too.
        code = next(item["code"] for item in outbox.json["items"] if item["code"])
        tokens = self.post("/auth/token", {field: destination, "code": code})
        assert tokens.status_code == 200, tokens.json
        return tokens.json


class Response:
    def __init__(self, status_code: int, json, headers, body: bytes = b""):
        self.status_code = status_code
        self.json = json
        self.headers = headers
        self.body = body  # for answers that are not JSON (files, CSV)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def __repr__(self):
        return f"<Response {self.status_code} {self.json}>"


def assert_error(response: Response, status: int, code: str | None = None) -> dict:
    """The platform's JSON error format, with this status (and code)."""
    assert response.status_code == status, response
    assert isinstance(response.json, dict) and set(response.json) == {"error"}, response
    error = response.json["error"]
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), response
    assert isinstance(error.get("details"), dict), response
    if code is not None:
        assert error["code"] == code, response
    return error
