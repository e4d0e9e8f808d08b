"""One OpenAPI document for clients, merged from the services' own documents."""
from __future__ import annotations

import json
import logging
import time

from .backends import BackendUnavailable

log = logging.getLogger(__name__)

STREAM_PATH = {
    "get": {
        "tags": ["realtime"],
        "summary": "Realtime stream (WebSocket)",
        "description": "Upgrades to a WebSocket. The token goes in the Authorization header or "
                       "the `token` query parameter. Frames are JSON `{type, data}`; types include "
                       "message.created, message.updated, message.deleted, chat.invitation, "
                       "chat.member.joined, chat.member.removed, poll.updated, call.ringing, "
                       "call.updated, call.signal, moderation.blocked.",
        "parameters": [{"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}],
        "responses": {"101": {"description": "Switching protocols"},
                      "401": {"description": "No valid token"}},
        "security": [{"bearerAuth": []}],
    }
}


def _rename_refs(node, service: str):
    """Component names are prefixed with the service so that two services'
    schemas of the same name never overwrite each other."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                out[key] = f"#/components/{kind}/{service}.{name}"
            else:
                out[key] = _rename_refs(value, service)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, service) for item in node]
    return node


def merge(documents: dict[str, dict], missing: list[str]) -> dict:
    merged = {
        "openapi": "3.0.3",
        "info": {"title": "Sferum platform API", "version": "v1",
                 "description": "The public API of the platform, served through the gateway."},
        "paths": {"/api/v1/stream": STREAM_PATH},
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "tags": [{"name": "realtime"}],
    }
    for service, document in sorted(documents.items()):
        document = _rename_refs(document, service)
        for path, item in document.get("paths", {}).items():
            merged["paths"][path] = item
        for kind, entries in document.get("components", {}).items():
            if kind == "securitySchemes":
                continue
            target = merged["components"].setdefault(kind, {})
            for name, value in entries.items():
                target[f"{service}.{name}"] = value
        merged["tags"].extend(document.get("tags", []))
    if missing:
        merged["x-unavailable-services"] = sorted(missing)
    return merged


class MergedSpec:
    def __init__(self, backends: dict, ttl: float = 60.0):
        self.backends = backends
        self.ttl = ttl
        self._cached: tuple[float, bytes] | None = None

    def document(self) -> bytes:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self.ttl:
            return self._cached[1]
        documents, missing = {}, []
        for service, backend in self.backends.items():
            try:
                status, document = backend.get_json("/openapi.json")
                if status != 200:
                    raise BackendUnavailable(f"status {status}")
                documents[service] = document
            except BackendUnavailable as error:
                log.warning("no OpenAPI document from %s: %s", service, error)
                missing.append(service)
        body = json.dumps(merge(documents, missing), ensure_ascii=False).encode()
        # A partial document is served but not kept, so the next call tries again.
        if not missing:
            self._cached = (now, body)
        return body


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sferum API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});</script>
</body></html>"""
