"""Access tokens: RS256 JWTs signed by identity, verified everywhere with the
public keys identity publishes (JWKS). The algorithm is pinned; issuer,
audience, expiry and the token type are checked, and a token of a session or
key identity has taken back since is refused (services.common.revocation)."""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin

import jwt
import requests
from flask import current_app, g, request

from .errors import Unauthorized
from .revocation import KEY_RETIRED, REVOCATIONS_PATH, Revocations

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPE = "access"
JWKS_PATH = "/api/v1/.well-known/jwks.json"


def _get_json(url: str) -> dict:
    response = requests.get(url, timeout=3)
    response.raise_for_status()
    return response.json()


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
        return cls(lambda: _get_json(url))

    def get(self, kid: str):
        now = time.monotonic()
        key = self._keys.get(kid)
        stale = now - self._fetched_at > self._refresh_every
        if (key is None or stale) and now - self._fetched_at > self._min_interval:
            self._refresh()
            key = self._keys.get(kid)
        return key

    def forget(self, kid: str) -> None:
        """A key retired in an emergency: dropped now, and the next unknown key
        id (its successor's) is looked up at once, not after the usual pause."""
        with self._lock:
            self._keys = {known: key for known, key in self._keys.items() if known != kid}
            self._fetched_at = min(self._fetched_at, time.monotonic() - self._min_interval)

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
class Trust:
    """What a process that verifies tokens learns from identity: its public keys,
    and the sessions and keys it has taken back. One per process; the services
    of the embedded platform share one."""
    keys: KeySet
    revocations: Revocations

    def __post_init__(self):
        self.revocations.listen(key=self.keys.forget)

    @classmethod
    def from_documents(cls, fetch: Callable[[str], dict]) -> "Trust":
        """`fetch(path)` answers identity's JSON document at that path."""
        return cls(KeySet(lambda: fetch(JWKS_PATH)), Revocations(lambda: fetch(REVOCATIONS_PATH)))

    @classmethod
    def from_jwks_url(cls, url: str) -> "Trust":
        """identity over HTTP; its snapshot of revocations is on the same host."""
        return cls(KeySet.from_url(url), Revocations(lambda: _get_json(urljoin(url, REVOCATIONS_PATH))))


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request."""
    id: str
    session_id: str | None
    operator: bool = False
    operator_regions: tuple[str, ...] = ()
    claims: dict = field(default_factory=dict, repr=False, compare=False)
    key_id: str | None = None  # of the key that signed the token

    def operates_region(self, region_id: str) -> bool:
        return self.operator and (not self.operator_regions or region_id in self.operator_regions)


class TokenVerifier:
    def __init__(self, trust: Trust, issuer: str, audience: str, leeway: int = 5, cache_size: int = 50_000):
        self.keys = trust.keys
        self.revocations = trust.revocations
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_size = cache_size
        self._verified: dict[str, Principal] = {}

    def verify(self, token: str) -> Principal:
        """The token's user. A token already verified is taken from a small cache
        until it expires: a client sends the same token for 15 minutes, and the
        signature check is the costliest part of a short request. Whether its
        session or key was taken back since is looked up every time."""
        principal = self._verified.get(token)
        if principal is None or principal.claims["exp"] <= time.time():
            self.revocations.ensure_loaded()
            principal = self._verify(token)
            if len(self._verified) >= self.cache_size:
                self._verified.clear()
            self._verified[token] = principal
        refusal = self.revocations.refusal(principal.session_id, principal.key_id)
        if refusal is not None:
            if refusal == KEY_RETIRED:
                raise Unauthorized("The access token is signed with a retired key; refresh it.",
                                   code="invalid_token")
            raise Unauthorized("The session has ended; sign in again.", code="session_revoked")
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The access token is malformed.", code="invalid_token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("The access token is not signed as expected.", code="invalid_token")
        kid = str(header.get("kid", ""))
        key = self.keys.get(kid)
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
                         operator_regions=tuple(claims.get("op_regions") or ()), claims=claims, key_id=kid)


def bearer_token(headers) -> str | None:
    """The access token of the Authorization header; never one from a URL,
    which would end up in logs."""
    value = headers.get("Authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip() or None
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
