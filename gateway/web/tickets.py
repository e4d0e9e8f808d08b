"""Stream tickets: what a browser puts in the realtime stream's URL instead of
its access token, since a browser's WebSocket cannot send an Authorization
header and URLs end up in logs. A ticket lives 30 seconds, opens one stream,
and the stream it opens ends when the access token it was issued for would.

A ticket is signed (HMAC-SHA256) rather than remembered, so any gateway
replica holding the same STREAM_TICKET_KEY accepts it; each replica
remembers the tickets it has redeemed until they expire, so none opens two
streams there. Without the key, a process makes its own: right for a single
gateway process (the embedded platform)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

from services.common.auth import Principal, TokenVerifier, bearer_token
from services.common.errors import Unauthorized

TICKET_LIFETIME = 30


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTickets:
    def __init__(self, key: str | bytes = b"", lifetime: int = TICKET_LIFETIME, clock=time.time):
        if isinstance(key, str):
            key = key.encode()
        self.key = key or secrets.token_bytes(32)
        self.lifetime = lifetime
        self.clock = clock
        self._redeemed: dict[str, float] = {}  # nonce -> when it would expire anyway
        self._lock = threading.Lock()

    def issue(self, principal: Principal) -> dict:
        now = self.clock()
        token_expires = int(principal.claims.get("exp", now + self.lifetime))
        # The session and the key of the access token: the stream ends when either is taken back.
        claims = {"sub": principal.id, "sid": principal.session_id, "kid": principal.key_id,
                  "exp": token_expires, "tx": int(now + self.lifetime) + 1, "n": secrets.token_urlsafe(12)}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return {"ticket": f"{body}.{self._sign(body)}", "expires_in": self.lifetime}

    def redeem(self, ticket: str) -> Principal:
        """The ticket's user, once; 401 for a forged, expired or used ticket."""
        body, _, mac = ticket.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._sign(body).encode()):
            raise Unauthorized("The stream ticket is not valid.", code="invalid_ticket")
        claims = json.loads(_unb64(body))
        now = self.clock()
        if claims["tx"] <= now or claims["exp"] <= now:
            raise Unauthorized("The stream ticket has expired; ask for another.", code="ticket_expired")
        with self._lock:
            for nonce in [n for n, until in self._redeemed.items() if until <= now]:
                del self._redeemed[nonce]
            if claims["n"] in self._redeemed:
                raise Unauthorized("The stream ticket was already used.", code="ticket_used")
            self._redeemed[claims["n"]] = claims["tx"]
        return Principal(id=claims["sub"], session_id=claims["sid"], key_id=claims.get("kid"),
                         claims={"sub": claims["sub"], "exp": claims["exp"]})

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())


def stream_principal(tickets: StreamTickets, verifier: TokenVerifier, headers, args) -> Principal:
    """Who opens the stream: an app's Authorization header, or a browser's ticket.
    An access token in the URL is not accepted."""
    token = bearer_token(headers)
    if token:
        return verifier.verify(token)
    ticket = args.get("ticket")
    if ticket:
        return tickets.redeem(ticket)
    raise Unauthorized("Open the stream with an Authorization header or a ticket "
                       "from POST /api/v1/stream/ticket.")
