"""The RSA keys that sign access tokens. The newest key signs; older keys stay
published in the JWKS until every token they signed has expired, unless an
emergency rotation retires them at once: then every process that verifies
tokens is told and refuses their tokens within seconds."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import ALGORITHM
from services.common.clock import utcnow
from services.common.ids import new_id
from services.common.service import Service

from . import events
from .models import SigningKey, db

# Retired keys the revocation snapshot names: every verifier refetches the JWKS,
# which no longer has them, well within this.
RETIRED_LATELY = timedelta(hours=1)


def create_key(secret_key: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = new_id()[:16]
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(secret_key.encode()))
    return SigningKey.create(kid=kid, private_pem=pem.decode(), public_jwk=json.dumps(public_jwk))


def rotate(secret_key: str, grace_seconds: int) -> SigningKey:
    """A new signing key; the previous ones are retired once the tokens they
    signed can no longer be valid."""
    with db.atomic():
        (SigningKey.update(retire_after=utcnow() + timedelta(seconds=grace_seconds))
         .where(SigningKey.retire_after.is_null()).execute())
        return create_key(secret_key)


def retire_at_once(service: Service, secret_key: str) -> tuple[SigningKey, list[str]]:
    """Emergency (a private key may have leaked): a new key signs from now on and
    every older one is retired now, not after a grace period. Tokens they signed
    stop working everywhere; their holders refresh them."""
    now = utcnow()
    with db.atomic():
        retired = [key.kid for key in SigningKey.select(SigningKey.kid).where(
            SigningKey.retire_after.is_null() | (SigningKey.retire_after > now))]
        SigningKey.update(retire_after=now).where(SigningKey.kid.in_(retired)).execute()
        key = create_key(secret_key)
        for kid in retired:
            service.outbox.add(events.SIGNING_KEY_RETIRED, {"kid": kid, "emergency": True})
    return key, retired


def retired_lately() -> list[str]:
    now = utcnow()
    return [key.kid for key in SigningKey.select(SigningKey.kid).where(
        SigningKey.retire_after <= now, SigningKey.retire_after > now - RETIRED_LATELY)]


def published_keys() -> list[SigningKey]:
    return list(SigningKey.select().where(
        SigningKey.retire_after.is_null() | (SigningKey.retire_after > utcnow()))
        .order_by(SigningKey.created_at.desc()))


def jwks(secret_key: str) -> dict:
    """The published keys; never empty, so that nobody caches an empty set."""
    keys = published_keys() or [create_key(secret_key)]
    return {"keys": [json.loads(key.public_jwk) for key in keys]}


class Signer:
    """Signs with the newest key, re-read now and then so that a rotation made
    by one replica (or by the command) reaches all of them."""

    def __init__(self, secret_key: str, reload_every: float = 30.0):
        self.secret_key = secret_key
        self.reload_every = reload_every
        self._loaded_at = 0.0
        self._key = None
        self._kid = None
        self._lock = threading.Lock()

    def forget(self, kid: str) -> None:
        """That key was retired: the next token is signed with the newest one."""
        with self._lock:
            if kid == self._kid:
                self._key = None

    def sign(self, claims: dict) -> str:
        kid, key = self._current()
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})

    def _current(self):
        with self._lock:
            if self._key is None or time.monotonic() - self._loaded_at > self.reload_every:
                with db.connection_context():
                    newest = (SigningKey.select().where(SigningKey.retire_after.is_null())
                              .order_by(SigningKey.created_at.desc()).first())
                    if newest is None:
                        newest = create_key(self.secret_key)
                if newest.kid != self._kid:
                    self._key = serialization.load_pem_private_key(
                        newest.private_pem.encode(), password=self.secret_key.encode())
                    self._kid = newest.kid
                self._loaded_at = time.monotonic()
            return self._kid, self._key
