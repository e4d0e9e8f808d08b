"""One OpenAPI document for clients, merged from the services' own documents."""
from __future__ import annotations

import json
import logging
import time

from .backends import BackendUnavailable

log = logging.getLogger(__name__)

# The platform's error format (services/common/errors.py), inline: the
# services' components carry their names.
ERROR = {"schema": {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}}

STREAM_PATH = {
    "get": {
        "tags": ["realtime"],
        "summary": "Realtime stream (WebSocket)",
        "description": "Upgrades to a WebSocket. Apps send the access token in the Authorization header; "
                       "browsers, which cannot, pass a `ticket` from POST /api/v1/stream/ticket. "
                       "Frames are JSON `{type, data}`; types include message.created, message.updated, "
                       "message.deleted, chat.invitation, chat.member.joined, chat.member.removed, "
                       "poll.updated, call.ringing, call.updated, call.signal, moderation.blocked, "
                       "moderation.unblocked, moderation.violation (privately: the rule broken), "
                       "moderation.report.filed, moderation.report.resolved, moderation.unblock_request.opened, "
                       "moderation.unblock_request.objected, moderation.appeal.filed, moderation.appeal.decided, "
                       "stream.resync (read the history of open chats again). The stream is closed with "
                       "code 4001 when the access token it was opened with expires (reason `token "
                       "expired`), when its session is revoked (`session revoked`: sign in again) or "
                       "when the key that signed the token is retired (`signing key retired`: refresh "
                       "the token and open it again).",
        "parameters": [{"name": "ticket", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "a stream ticket (single use, 30 seconds)"}],
        "responses": {"101": {"description": "Switching protocols"},
                      "401": {"description": "No valid token or ticket", "content": {"application/json": ERROR}},
                      "426": {"description": "Asked for without a WebSocket upgrade (plain HTTP)",
                              "headers": {"Upgrade": {"schema": {"type": "string", "enum": ["websocket"]}}},
                              "content": {"application/json": ERROR}},
                      "429": {"description": "Too many streams open for this user, or opened too often "
                                             "(code `too_many_streams` or `rate_limited`); see Retry-After",
                              "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                              "content": {"application/json": ERROR}}},
        "security": [{"bearerAuth": []}, {}],
    }
}

TICKET_PATH = {
    "post": {
        "tags": ["realtime"],
        "summary": "A ticket that opens the realtime stream",
        "description": "For browsers: the ticket goes in the stream's URL instead of the access token. "
                       "It opens one stream, within `expires_in` seconds (30).",
        "responses": {"200": {"description": "The ticket", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"ticket": {"type": "string"}, "expires_in": {"type": "integer"}}}}}},
            "401": {"description": "No valid token", "content": {"application/json": ERROR}},
            "429": {"description": "Too many requests; see Retry-After",
                    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                    "content": {"application/json": ERROR}}},
        "security": [{"bearerAuth": []}],
    }
}


EXPORT_PATH = {
    "get": {
        "tags": ["personal data"],
        "summary": "Download my data (152-FZ)",
        "description": "Everything the platform holds about the signed-in user, as one JSON document "
                       "(`Content-Disposition: attachment`): `{format: \"sferum-export/1\", user_id, exported_at, "
                       "parts: {identity, orgstructure, messaging, moderation, calls}}`, each part as that "
                       "service answers it at `GET /api/v1/me/export/{service}` (profile and sign-ins; "
                       "memberships, classes and children; chats, own messages and files with their download "
                       "links, votes; violations, blocks, own reports, appeals and apologies; calls made, "
                       "attended (with each stay) and named in). The gateway gathers the parts; "
                       "when one cannot be had, the answer is that part's error (503 `service_unavailable` when "
                       "a service is down), never an export with a part missing.",
        "responses": {"200": {"description": "The export", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"format": {"type": "string"}, "user_id": {"type": "string"},
                                             "exported_at": {"type": "string"},
                                             "parts": {"type": "object"}}}}}},
            "401": {"description": "No valid token"},
            "429": {"description": "Too many requests; see Retry-After"},
            "503": {"description": "A service holding a part is unavailable; try again"}},
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
                 "description": "The public API of the platform, served through the gateway.\n\n"
                                "Right after a change (joining a school, a new role, a new class or chat) "
                                "the other parts of the platform learn of it within moments; a request "
                                "that depends on it meanwhile is held by the gateway until it can be "
                                "answered, for a few seconds at most, and otherwise answered "
                                "`409` with code `not_ready` and `Retry-After`: ask again then."},
        "paths": {"/api/v1/stream": STREAM_PATH, "/api/v1/stream/ticket": TICKET_PATH,
                  "/api/v1/me/export": EXPORT_PATH},
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "tags": [{"name": "realtime"}, {"name": "personal data"}],
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
