"""`Idempotency-Key` on create endpoints (architecture.md "Retries from clients"):
the same key from the same user within 24 hours returns the first answer and
creates nothing new.

The view runs first and its answer is remembered in the same transaction, in
one statement: what a first attempt, nearly every request, costs. A retry
whose key already has an answer finds out there, rolls back what it did and
drops its pushes, and replays the first answer; a retry arriving while the
first attempt runs waits on the key's unique index until the first commits.
A key names one request: the same key on another endpoint, or with another
JSON body, is refused (422) rather than answered with the first request's
answer."""
from __future__ import annotations

import functools
import hashlib
import uuid
from copy import deepcopy
from datetime import timedelta
from weakref import WeakKeyDictionary

from flask import Response, request
from werkzeug.exceptions import HTTPException

from .auth import current_user
from .clock import utcnow
from .db import KitModels, Statement
from .errors import ApiError, Conflict, Unprocessable
from .requests import runtime

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
HEADER_DOC = {"name": HEADER, "in": "header", "required": False,
              "schema": {"type": "string", "format": "uuid"},
              "description": "Retries with the same key within 24 hours return the first answer."}


def _key() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise Unprocessable(f"{HEADER} must be a UUID.", code="bad_idempotency_key") from None


def _request_name() -> str:
    """The endpoint, and a JSON body's digest: a retry sends the same bytes.
    A multipart upload is named by its endpoint alone, since its boundary
    differs from one try to the next and the file streams to storage unread here."""
    name = f"{request.method} {request.path}"
    if not request.is_json:
        return name
    return f"{name} {hashlib.sha256(request.get_data(cache=True)).hexdigest()[:32]}"


def _replay(endpoint: str, status: int, body: str, expected_endpoint: str) -> Response:
    if endpoint != expected_endpoint:
        raise Unprocessable(f"This {HEADER} was already used for another request.",
                            code="idempotency_key_reused")
    return Response(body, status=status, mimetype="application/json",
                    headers={"Idempotent-Replayed": "true"})


class _AlreadyAnswered(Exception):
    """Raised to roll back a retry's work once its key turns out to be answered."""


class _Answers:
    """One service's remembered answers. Every create request with a key runs
    these, so they are written out rather than built by peewee each time."""

    def __init__(self, kit: KitModels):
        table = kit.IdempotentRequest._meta.table_name
        db = kit.IdempotentRequest._meta.database
        # A day-old answer not yet cleaned away gives its key up to the new one.
        self._remember = Statement(db, f"""
            INSERT INTO {table} (user_id, key, endpoint, status, body, created_at) VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (user_id, key) DO UPDATE
               SET endpoint = excluded.endpoint, status = excluded.status, body = excluded.body,
                   created_at = excluded.created_at
             WHERE {table}.created_at <= %s""")
        self._read = Statement(db, f"""
            SELECT endpoint, status, body FROM {table} WHERE user_id = %s AND key = %s AND created_at > %s""")

    def remember(self, user_id: str, key: str, endpoint: str, status: int, body: str) -> bool:
        """False when the key already has a fresh answer. A retry that gets here
        while the first request is still open waits on the key's unique index
        until the first commits."""
        now = utcnow()
        return self._remember.execute(user_id, key, endpoint, status, body, now, now - LIFETIME).rowcount == 1

    def remembered(self, user_id: str, key: str) -> tuple[str, int, str] | None:
        return self._read.execute(user_id, key, utcnow() - LIFETIME).fetchone()


_answers: WeakKeyDictionary[KitModels, _Answers] = WeakKeyDictionary()


def idempotent(view):
    """Put directly under `@blp.route`: it wraps the view as flask-smorest built it."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = _key()
        if key is None:
            return view(*args, **kwargs)
        user = current_user()
        service = runtime()
        answers = _answers.get(service.kit) or _answers.setdefault(service.kit, _Answers(service.kit))
        endpoint = _request_name()
        service.realtime.hold()
        kept = False  # the view's work, and the pushes telling of it
        try:
            with service.db.atomic():
                response = view(*args, **kwargs)
                kept = response.status_code >= 300 or answers.remember(
                    user.id, key, endpoint, response.status_code, response.get_data(as_text=True))
                if not kept:
                    raise _AlreadyAnswered()
                return response
        except _AlreadyAnswered:
            row = answers.remembered(user.id, key)
        except (ApiError, HTTPException):
            # The first attempt's answer, not what the same request meets now
            # (a block since, a chat left): the client must learn it got through.
            row = answers.remembered(user.id, key)
            if row is None:
                raise
        finally:
            service.realtime.release(send=kept)
        if row is None:  # the first answer turned a day old just now
            raise Conflict("This key's first answer has just expired; retry with a new key.",
                           code="idempotency_key_expired")
        return _replay(*row, endpoint)

    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [*manual.get("parameters", []), HEADER_DOC]
    return wrapper


def forget_expired(runtime, stop) -> None:
    """A background loop of every service: keys past their lifetime are deleted hourly."""
    Remembered = runtime.kit.IdempotentRequest
    while not stop.is_set():
        with runtime.db.connection_context():
            if Remembered.table_exists():
                Remembered.delete().where(Remembered.created_at < utcnow() - LIFETIME).execute()
        stop.wait(3600)
