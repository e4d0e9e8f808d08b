"""Access tokens: RS256 JWTs signed by identity, verified everywhere with the
public keys identity publishes (JWKS). The algorithm is pinned; issuer,
audience, expiry and the token type are checked."""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import jwt
import requests
from flask import current_app, g, request

from .errors import Unauthorized

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPE = "access"


class KeySet:
    """Public keys by key id, fetched from identity and refreshed when a token
    names a key we do not know yet (key rotation), at most every few seconds."""

    def __init__(self, fetch: Callable[[], dict], refresh_every: float = 600.0,
                 min_refetch_interval: float = 2.0):
        self._fetch = fetch
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._refresh_every = refresh_every
        self._min_interval = min_refetch_interval
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> "KeySet":
        def fetch() -> dict:
            response = requests.get(url, timeout=3)
            response.raise_for_status()
            return response.json()
        return cls(fetch)

    def get(self, kid: str):
        now = time.monotonic()
        key = self._keys.get(kid)
        stale = now - self._fetched_at > self._refresh_every
        if (key is None or stale) and now - self._fetched_at > self._min_interval:
            self._refresh()
            key = self._keys.get(kid)
        return key

    def _refresh(self) -> None:
        with self._lock:
            try:
                document = self._fetch()
            except Exception as error:
                log.warning("could not fetch signing keys: %s", error)
                return
            keys = {}
            for jwk in document.get("keys", []):
                if jwk.get("kty") == "RSA" and jwk.get("kid"):
                    keys[jwk["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
            self._keys = keys
            self._fetched_at = time.monotonic()


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request."""
    id: str
    session_id: str | None
    operator: bool = False
    operator_regions: tuple[str, ...] = ()
    claims: dict = field(default_factory=dict, repr=False, compare=False)

    def operates_region(self, region_id: str) -> bool:
        return self.operator and (not self.operator_regions or region_id in self.operator_regions)


class TokenVerifier:
    def __init__(self, keys: KeySet, issuer: str, audience: str, leeway: int = 5, cache_size: int = 50_000):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_size = cache_size
        self._verified: dict[str, Principal] = {}

    def verify(self, token: str) -> Principal:
        """The token's user. A token already verified is taken from a small cache
        until it expires: a client sends the same token for 15 minutes, and the
        signature check is the costliest part of a short request."""
        cached = self._verified.get(token)
        if cached is not None and cached.claims["exp"] > time.time():
            return cached
        principal = self._verify(token)
        if len(self._verified) >= self.cache_size:
            self._verified.clear()
        self._verified[token] = principal
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The access token is malformed.", code="invalid_token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("The access token is not signed as expected.", code="invalid_token")
        key = self.keys.get(str(header.get("kid", "")))
        if key is None:
            raise Unauthorized("The access token is signed with an unknown key.", code="invalid_token")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired.", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("The access token is not valid.", code="invalid_token") from None
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthorized("This is not an access token.", code="invalid_token")
        return Principal(id=str(claims["sub"]), session_id=claims.get("sid"),
                         operator=bool(claims.get("op")),
                         operator_regions=tuple(claims.get("op_regions") or ()), claims=claims)


def bearer_token(headers, args=None) -> str | None:
    value = headers.get("Authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    if args is not None:
        return args.get("token") or None
    return None


def current_user(optional: bool = False) -> Principal | None:
    """The verified user of this request; 401 when there is none (unless optional)."""
    if "principal" not in g:
        token = bearer_token(request.headers)
        verifier: TokenVerifier = current_app.extensions["sferum.verifier"]
        g.principal = verifier.verify(token) if token else None
    if g.principal is None and not optional:
        raise Unauthorized()
    return g.principal
