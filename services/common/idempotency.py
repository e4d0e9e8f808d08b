"""`Idempotency-Key` on create endpoints (architecture.md "Retries from clients"):
the same key from the same user within 24 hours returns the first answer and
creates nothing new.

The view runs inside one transaction with the insert of the key, so the thing
created and the remembered answer commit together; a concurrent retry with the
same key waits on the unique index, fails, and replays the committed answer."""
from __future__ import annotations

import functools
import uuid
from copy import deepcopy
from datetime import timedelta

import peewee
from flask import Response, request

from .auth import current_user
from .clock import utcnow
from .errors import Conflict, Unprocessable
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


def _replay(row, endpoint: str) -> Response:
    if row.endpoint != endpoint:
        raise Unprocessable(f"This {HEADER} was already used for another request.",
                            code="idempotency_key_reused")
    return Response(row.body, status=row.status, mimetype="application/json",
                    headers={"Idempotent-Replayed": "true"})


def idempotent(view):
    """Put directly under `@blp.route`: it wraps the view as flask-smorest built it."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = _key()
        if key is None:
            return view(*args, **kwargs)
        user = current_user()
        kit, db = runtime().kit, runtime().db
        Remembered = kit.IdempotentRequest
        endpoint = f"{request.method} {request.path}"
        fresh = Remembered.created_at > utcnow() - LIFETIME

        def remembered():
            return Remembered.get_or_none((Remembered.user_id == user.id) & (Remembered.key == key) & fresh)

        row = remembered()
        if row is not None:
            return _replay(row, endpoint)
        try:
            with db.atomic():
                Remembered.delete().where((Remembered.user_id == user.id) & (Remembered.key == key)).execute()
                response = view(*args, **kwargs)
                if response.status_code < 300:
                    Remembered.create(user_id=user.id, key=key, endpoint=endpoint,
                                      status=response.status_code, body=response.get_data(as_text=True))
                return response
        except peewee.IntegrityError:
            row = remembered()
            if row is None:
                raise Conflict("The same request is being handled; retry shortly.",
                               code="request_in_progress") from None
            return _replay(row, endpoint)

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
