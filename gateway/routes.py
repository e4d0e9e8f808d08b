"""Which service answers which path under /api/v1. More specific rules come
first. `public` paths are forwarded without a token; every other path needs a
valid access token before it reaches a service."""
from __future__ import annotations

import re
from dataclasses import dataclass

SEG = r"[^/]+"


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern
    service: str
    public: bool = False
    methods: frozenset[str] | None = None  # public only for these methods


def _route(pattern: str, service: str, public: bool = False, methods: tuple[str, ...] | None = None) -> Route:
    return Route(re.compile(f"^{pattern}$"), service, public, frozenset(methods) if methods else None)


# The services that hold a part of a person's data, each answering it at
# /me/export/<service> (calls adds itself when it holds any).
EXPORT_PARTS = ("identity", "orgstructure", "messaging", "moderation", "calls")

ROUTES: tuple[Route, ...] = (
    # identity
    _route(r"auth/(otp|email-otp|token|refresh)", "identity", public=True),
    _route(r"auth/logout", "identity"),
    _route(r"\.well-known/jwks\.json", "identity", public=True),
    _route(r"dev/outbox", "identity", public=True),
    _route(r"me(/erasure)?", "identity"),
    _route(rf"users/{SEG}(/erasure)?", "identity"),
    # Each service's part of the person's data; GET /me/export is assembled by the gateway (export.py).
    *(_route(f"me/export/{service}", service) for service in EXPORT_PARTS),
    _route(r"verifications(/.*)?", "identity"),
    _route(rf"orgs/{SEG}/verifications(/.*)?", "identity"),
    # moderation paths that live under other services' resources
    _route(rf"orgs/{SEG}/(moderation-log|reports|appeals)", "moderation"),
    _route(rf"chats/{SEG}/(reports|violations|reminders|blocks|unblock-requests|moderation-log)(/.*)?",
           "moderation"),
    _route(rf"messages/{SEG}/removal", "moderation"),
    _route(r"me/(reports|violations|blocks)", "moderation"),
    _route(r"(reports|unblock-requests|blocks|appeals)(/.*)?", "moderation"),
    # orgstructure
    _route(r"regions(/.*)?", "orgstructure", public=True, methods=("GET",)),
    _route(r"applications(/.*)?", "orgstructure"),
    _route(r"me/(orgs|applications)", "orgstructure"),
    _route(r"support", "orgstructure", public=True, methods=("GET",)),
    _route(r"orgs(/.*)?", "orgstructure"),
    _route(rf"invites/{SEG}", "orgstructure", public=True, methods=("GET",)),
    _route(rf"invites/{SEG}/accept", "orgstructure"),
    # messaging
    _route(r"me/chat-invitations", "messaging"),
    _route(r"chats(/.*)?", "messaging"),
    _route(r"(chat-invitations|chat-invites|messages|files|polls|uploads)(/.*)?", "messaging"),
    # calls
    _route(r"calls(/.*)?", "calls"),
)


def resolve(path: str, method: str) -> tuple[str, bool] | None:
    """(service, public) for a path relative to /api/v1, or None."""
    for route in ROUTES:
        if route.pattern.match(path):
            public = route.public and (route.methods is None or method in route.methods)
            return route.service, public
    return None


# The parts of a large file: the one path whose bodies may be larger than
# others (up to GATEWAY_UPLOAD_PART_MAX_BYTES), streamed through.
UPLOAD_PART = re.compile(rf"^uploads/{SEG}/parts/{SEG}$")


def is_upload_part(path: str, method: str) -> bool:
    return method == "PUT" and UPLOAD_PART.match(path) is not None
