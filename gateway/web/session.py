"""The browser's session: the gateway signs in and refreshes through identity
on the page's behalf and keeps the refresh token in an httpOnly,
SameSite=Strict cookie that no script can read; the page gets only the
short-lived access token, which it keeps in memory.

Every call here needs the CSRF token: a cookie the page can read, sent back
in the X-CSRF-Token header (double submit). Another site can make a browser
send our cookies, but cannot read them to write the header.

Apps keep using /api/v1/auth/* with bearer tokens; nothing here changes them."""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import threading
import time

from flask import Blueprint, Response, g, jsonify, request

from services.common.errors import Forbidden, TooManyRequests, Unauthorized, error_body
from services.common.web import API_PREFIX, REQUEST_ID_HEADER

from ..backends import BackendUnavailable

REFRESH_COOKIE = "sferum_refresh"
CSRF_COOKIE = "sferum_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PATH = "/web/session"
REFRESH_MAX_AGE = 30 * 24 * 3600
# A refresh whose answer the browser never took in (the page was reloaded
# mid-request) would leave it holding a used refresh token, whose next use
# identity takes for theft and ends the session. The same old token within
# these seconds gets the same new pair instead.
REFRESH_GRACE_SECONDS = 10


def secure() -> bool:
    return request.scheme == "https"


def set_csrf_cookie(response: Response, value: str | None = None) -> str:
    value = value or secrets.token_urlsafe(24)
    response.set_cookie(CSRF_COOKIE, value, path="/", secure=secure(), httponly=False, samesite="Strict")
    return value


def check_csrf() -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise Forbidden("Reload the page and try again.", code="csrf_failed")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("Reload the page and try again.", code="csrf_failed")


class SessionEndpoints:
    def __init__(self, identity, limiter):
        self.identity = identity
        self.limiter = limiter
        self._recent: dict[str, tuple[float, bytes, str]] = {}
        self._lock = threading.Lock()

    def blueprint(self) -> Blueprint:
        blp = Blueprint("web_session", __name__)
        blp.add_url_rule(SESSION_PATH, "sign_in", self.sign_in, methods=["POST"])
        blp.add_url_rule(SESSION_PATH + "/refresh", "refresh", self.refresh, methods=["POST"])
        blp.add_url_rule(SESSION_PATH + "/logout", "logout", self.logout, methods=["POST"])
        return blp

    # Endpoints.

    def sign_in(self):
        """`{phone, code}` or `{email, code, account_id?}`: identity's /auth/token
        for the browser. When a parent's address holds several children's
        accounts, the list to choose from goes to the page as it is."""
        self._guard()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            body = {}
        wanted = {key: body[key] for key in ("phone", "email", "code", "account_id") if key in body}
        status, answer = self._identity("/auth/token", wanted)
        if status != 200 or answer.get("choose_account"):
            return _json(status, answer)
        return self._signed_in(answer)

    def refresh(self):
        """A new access token for the page, from the refresh cookie (rotated)."""
        self._guard()
        old = request.cookies.get(REFRESH_COOKIE, "")
        if not old:
            raise Unauthorized("Not signed in.", code="no_session")
        key = hashlib.sha256(old.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            self._recent = {k: v for k, v in self._recent.items() if v[0] > now}
            remembered = self._recent.get(key)
        if remembered is not None:
            _expires, page_body, new_refresh = remembered
            response = Response(page_body, mimetype="application/json")
            self._set_refresh(response, new_refresh)
            return response
        status, answer = self._identity("/auth/refresh", {"refresh_token": old})
        if status != 200:
            response = _json(status, answer)
            if status == 401:
                self._clear(response)
            return response
        response = self._signed_in(answer)
        with self._lock:
            self._recent[key] = (now + REFRESH_GRACE_SECONDS, response.get_data(), answer["refresh_token"])
        return response

    def logout(self):
        """Ends the session at identity and forgets the cookie."""
        self._guard()
        old = request.cookies.get(REFRESH_COOKIE, "")
        if old:
            status, answer = self._identity("/auth/refresh", {"refresh_token": old})
            if status == 200:
                self._identity("/auth/logout", None, token=answer["access_token"])
        response = Response(status=204)
        self._clear(response)
        return response

    # Helpers.

    def _guard(self) -> None:
        check_csrf()
        wait = self.limiter.check(f"ip:{request.remote_addr or ''}")
        if wait:
            raise TooManyRequests(wait)

    def _signed_in(self, answer: dict) -> Response:
        page = {"access_token": answer["access_token"], "expires_in": answer.get("expires_in"),
                "token_type": "Bearer", "user": answer.get("user")}
        response = jsonify(page)
        response.headers["Cache-Control"] = "no-store"
        self._set_refresh(response, answer["refresh_token"])
        return response

    def _set_refresh(self, response: Response, refresh_token: str) -> None:
        response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=REFRESH_MAX_AGE, path=SESSION_PATH,
                            secure=secure(), httponly=True, samesite="Strict")
        response.headers["Cache-Control"] = "no-store"

    def _clear(self, response: Response) -> None:
        response.delete_cookie(REFRESH_COOKIE, path=SESSION_PATH, secure=secure(), httponly=True,
                               samesite="Strict")

    def _identity(self, path: str, body: dict | None, token: str | None = None) -> tuple[int, dict]:
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json", "Content-Length": str(len(content)),
                   "User-Agent": request.headers.get("User-Agent", ""),
                   "X-Forwarded-For": request.remote_addr or "",
                   "X-Forwarded-Proto": request.scheme}
        if "request_id" in g:
            headers[REQUEST_ID_HEADER] = g.request_id
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            status, _headers, answer = self.identity.forward("POST", API_PREFIX + path, b"", headers,
                                                             io.BytesIO(content))
        except BackendUnavailable:
            return 503, error_body("service_unavailable", "Sign-in is briefly unavailable; try again.")
        if not isinstance(answer, bytes):
            answer = b"".join(answer)
        try:
            return status, json.loads(answer) if answer else {}
        except ValueError:
            return 502, error_body("bad_gateway", "Sign-in answered unexpectedly.")


def _json(status: int, body: dict) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
