"""Request bodies a service will not take in: larger than its endpoint allows
(413, answered before anything is parsed), or JSON that no store can keep
(400): nested deeper than any request of the API, whose parsing would
exhaust the interpreter's stack, or holding an unpaired UTF-16 surrogate
(`"\\ud800"` is valid JSON but no valid UTF-8), which every database refuses
to write."""
from __future__ import annotations

import json
import re

from flask import Flask, request

from .errors import BadRequest, PayloadTooLarge

# A JSON request of the API is a few kilobytes: a message of 4 000 characters
# escaped as \uXXXX is 24 KiB. Uploads declare limits of their own.
JSON_MAX_BYTES = 64 << 10
# No request of the API nests deeper than a few levels.
MAX_JSON_DEPTH = 32

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_problem(raw: bytes) -> str | None:
    """Why this JSON body is refused, or None. Most bodies are decided by two
    byte counts and one search; only those with many brackets or with a
    surrogate escape (emoji from clients that escape everything) are parsed here."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH and not _SURROGATE_ESCAPE.search(raw):
        return None
    try:
        data = json.loads(raw)
    except RecursionError:
        return "nested_too_deeply"
    except ValueError:
        return None  # not JSON at all: the endpoint's parser answers that
    if _depth(data) > MAX_JSON_DEPTH:
        return "nested_too_deeply"
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "unpaired_surrogate"
    return None


def _depth(data) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


MESSAGES = {
    "nested_too_deeply": f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.",
    "unpaired_surrogate": "The JSON body holds an unpaired UTF-16 surrogate (\\ud800-\\udfff); "
                          "text must be valid Unicode.",
}


def install_body_limits(app: Flask, default_limit: int = JSON_MAX_BYTES,
                        endpoint_limits: dict[str, int] | None = None) -> None:
    """Every endpoint of `app` takes at most `default_limit` bytes, those named
    in `endpoint_limits` (uploads) their own; a JSON body is checked before
    any view parses it. Call it once the app's routes are registered."""
    endpoint_limits = dict(endpoint_limits or {})
    unknown = set(endpoint_limits) - set(app.view_functions)
    if unknown:
        raise RuntimeError(f"body limits for endpoints that do not exist: {sorted(unknown)}")
    app.config["MAX_CONTENT_LENGTH"] = default_limit

    @app.before_request
    def _check_body():
        limit = endpoint_limits.get(request.endpoint, default_limit)
        # Read by werkzeug whenever the body is, so a chunked body is cut off
        # there too. One byte more: under gunicorn werkzeug refuses a body of
        # exactly its cap once a reader looks for more (as a part's exact size
        # check does); the byte over is seen by that check and by the one below.
        request.max_content_length = limit + 1
        length = request.content_length
        if length is not None and length > limit:
            raise _too_large(limit)
        if request.is_json:
            raw = request.get_data(cache=True)
            if len(raw) > limit:
                raise _too_large(limit)
            problem = json_problem(raw)
            if problem:
                raise BadRequest(MESSAGES[problem], code=problem)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than this endpoint takes ({limit} bytes).",
                           details={"max_bytes": limit})
