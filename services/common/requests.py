"""Small helpers the services' API adapters share."""
from __future__ import annotations

from flask import current_app

from .errors import Unprocessable
from .service import Service, ServiceRuntime


def runtime() -> ServiceRuntime:
    return current_app.extensions["sferum"]


def service() -> Service:
    """The service instance answering this request, for its domain code."""
    return current_app.extensions["sferum"].service


def field_error(field: str, message: str) -> Unprocessable:
    """The same shape as a schema validation error, for checks made in code."""
    return Unprocessable("Some fields are not valid.", details={"fields": {field: [message]}})


def public_url(path: str) -> str:
    """An address for users to open (invite links), under the operator's PUBLIC_URL."""
    base = runtime().settings.env.get("PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")
    return f"{base}/{path.lstrip('/')}"
