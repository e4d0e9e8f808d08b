"""One JSON error format for every answer that is not a success:
`{"error": {"code", "message", "details"}}` (architecture.md "Errors").
Never an HTML page, never a stack trace."""
from __future__ import annotations

import logging
import re

import marshmallow as ma
import peewee
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Codes for errors raised by Flask/werkzeug/webargs rather than by our code.
HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    500: "internal_error", 502: "bad_gateway", 503: "unavailable", 504: "gateway_timeout",
}


# The facts a refusal was made without, named for the gateway (services/common/settling.py).
LACKING_HEADER = "X-Sferum-Lacking"
# What the keys of announced facts are made of. A key built from an id a
# client sent with anything else names nothing ever announced, and in the
# header it would break the answer (a newline) or split into other keys (a comma).
_FACT_KEY = re.compile(r"[\w:*-]+", re.ASCII)


def lacking_value(keys) -> str:
    """The header's value: the keys that may name an announced fact."""
    return ",".join(key for key in keys if _FACT_KEY.fullmatch(key))


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "The request is not valid."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict | None = None, headers: dict | None = None, lacking=()):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = dict(headers or {})
        if lacking_value(lacking):
            self.headers[LACKING_HEADER] = lacking_value(lacking)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "Sign in first."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "You are not allowed to do this."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class MethodNotAllowed(ApiError):
    status, code, message = 405, "method_not_allowed", "This method is not allowed here."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "This conflicts with the current state."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class Unprocessable(ApiError):
    status, code, message = 422, "validation_error", "The request is not valid."


class TooManyRequests(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None, **kwargs):
        retry_after = max(1, int(retry_after))
        super().__init__(message, details={"retry_after": retry_after},
                         headers={"Retry-After": str(retry_after)}, **kwargs)


class ServiceUnavailable(ApiError):
    status, code, message = 503, "unavailable", "This part of the platform is briefly unavailable; try again."

    def __init__(self, message: str | None = None, retry_after: int = 2, **kwargs):
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict()


class ErrorSchema(ma.Schema):
    """The error payload, for the OpenAPI documents."""
    error = ma.fields.Nested(ErrorBodySchema, required=True)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict | None = None,
                   headers: dict | None = None):
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_exception_response(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    details = {}
    if "messages" in data:  # webargs validation errors, by location
        details = {"fields": _flatten_locations(data["messages"])}
    elif "errors" in data:
        details = {"fields": data["errors"]}
    message = data.get("message") or (
        "Some fields are not valid." if status == 422 else (error.description or error.name))
    # What werkzeug says beside the error, such as a 405's Allow (RFC 9110).
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return error_response(status, HTTP_CODES.get(status, "error"), message, details, headers)


def _flatten_locations(messages: dict) -> dict:
    """webargs nests errors under the location (json, query...); clients want fields."""
    flat: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            flat.update(location_errors)
    return flat or messages


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.details, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return http_exception_response(error)

    @app.errorhandler(peewee.OperationalError)
    @app.errorhandler(peewee.InterfaceError)
    def _database_away(error: peewee.DatabaseError):
        # The database restarting or out of reach: the client tries again, as
        # after any 503; the pool replaces the connection that failed.
        log.warning("database unavailable: %s", error)
        unavailable = ServiceUnavailable()
        return error_response(unavailable.status, unavailable.code, unavailable.message, None, unavailable.headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
