"""Short-lived TURN credentials for coturn's REST scheme (`use-auth-secret`):
the TURN server and the calls service share one secret, and nothing is stored
per participant. coturn accepts the username until the expiry it carries."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time


def turn_credentials(secret: str, participant: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """(username, credential) for `participant`, valid for `ttl` seconds:
    username `<expiry unix time>:<participant>`, credential
    base64(HMAC-SHA1(secret, username))."""
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    if ":" in participant:
        raise ValueError("participant must not contain ':'")
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{participant}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(participant: str, turn_urls, turn_secret: str, ttl: int, stun_urls=(),
                now: float | None = None) -> tuple[list[dict], int | None]:
    """`ice_servers` as a join answers them, and when the TURN credentials in
    them expire (unix time; None without TURN): STUN servers as they are, the
    TURN servers with credentials of this participant's own."""
    servers = [{"urls": list(stun_urls)}] if stun_urls else []
    if not turn_urls:
        return servers, None
    username, credential = turn_credentials(turn_secret, participant, ttl, now)
    servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers, int(username.split(":", 1)[0])
