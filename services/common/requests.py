"""Small helpers the services' API adapters share."""
from __future__ import annotations

from flask import current_app

from .errors import Unprocessable
from .service import ServiceRuntime


def runtime() -> ServiceRuntime:
    return current_app.extensions["sferum"]


def field_error(field: str, message: str) -> Unprocessable:
    """The same shape as a schema validation error, for checks made in code."""
    return Unprocessable("Some fields are not valid.", details={"fields": {field: [message]}})
