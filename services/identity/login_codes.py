"""One-time sign-in codes: 6 digits, stored as a keyed hash, alive for a few
minutes, dead after too many wrong tries; sending is limited per destination
and per address, answered with 429 and Retry-After.

Requests that arrive together are decided one after another, as if they had
come in turn: asking for codes is serialised per destination and per address,
and the guesses at one code are checked one at a time under its row lock."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from services.common.clock import utcnow
from services.common.db import is_postgres, lock_for_transaction
from services.common.errors import ApiError, TooManyRequests

from .config import IdentityConfig
from .models import LoginCode, db


class InvalidCode(ApiError):
    status, code, message = 400, "invalid_code", "The code is wrong or has expired; ask for a new one."


def _hash(secret_key: str, code_id: int, code: str) -> str:
    return hmac.new(secret_key.encode(), f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue(config: IdentityConfig, secret_key: str, channel: str, destination: str,
          ip: str | None) -> tuple[LoginCode, str]:
    """A new code for the destination, or 429 when sending another would be abuse."""
    now = utcnow()
    hour_ago = now - timedelta(hours=1)
    with db.atomic():
        # Without these, parallel requests each found the others' codes uncommitted
        # and passed the cooldown and the caps: one code sent per request, several
        # live at once. Always the destination first, so two requests never wait
        # for each other's second lock.
        lock_for_transaction(db, f"login-code:{destination}")
        if ip:
            lock_for_transaction(db, f"login-code-address:{ip}")
        recent = list(LoginCode.select(LoginCode.created_at)
                      .where(LoginCode.destination == destination, LoginCode.created_at > hour_ago)
                      .order_by(LoginCode.created_at.desc()))
        if recent:
            since_last = (now - recent[0].created_at).total_seconds()
            if since_last < config.resend_cooldown:
                raise TooManyRequests(config.resend_cooldown - since_last,
                                      "A code was sent moments ago; wait before asking again.",
                                      code="resend_cooldown")
        if len(recent) >= config.codes_per_destination_per_hour:
            retry = (recent[-1].created_at + timedelta(hours=1) - now).total_seconds()
            raise TooManyRequests(retry, "Too many codes for this number; try again later.")
        if ip:
            from_ip = (LoginCode.select(LoginCode.created_at)
                       .where(LoginCode.ip == ip, LoginCode.created_at > hour_ago)
                       .order_by(LoginCode.created_at))
            if from_ip.count() >= config.codes_per_ip_per_hour:
                retry = (from_ip.first().created_at + timedelta(hours=1) - now).total_seconds()
                raise TooManyRequests(retry, "Too many codes requested from your network; try again later.")
        # Earlier codes for this destination stop working: only the newest counts.
        (LoginCode.update(dead=True)
         .where(LoginCode.destination == destination, LoginCode.used_at.is_null(),
                LoginCode.dead == False)  # noqa: E712
         .execute())
        code = f"{secrets.randbelow(10 ** 6):06d}"
        row = LoginCode.create(channel=channel, destination=destination, ip=ip, code_hash="",
                               expires_at=now + timedelta(seconds=config.code_lifetime))
        row.code_hash = _hash(secret_key, row.id, code)
        row.save(only=[LoginCode.code_hash])
    return row, code


def withdraw(row: LoginCode) -> None:
    """The code could not be delivered: it does not count against the limits."""
    LoginCode.delete().where(LoginCode.id == row.id).execute()


def redeem(config: IdentityConfig, secret_key: str, destination: str, code: str, use: bool = True) -> None:
    """Use up the destination's live code, or count a failure (committed even
    though the request fails) and kill the code after too many. The live code is
    locked for the decision: parallel guesses wait for each other, each sees the
    failures before it, and no guess is checked once the limit is reached, not
    even the right one. With `use=False` a right code stays live: the holder of
    a parent's address chooses which child's account it signs in."""
    now = utcnow()
    with db.atomic():
        live = (LoginCode.select()
                .where(LoginCode.destination == destination, LoginCode.used_at.is_null(),
                       LoginCode.dead == False, LoginCode.expires_at > now,  # noqa: E712
                       LoginCode.failed_attempts < config.code_max_failures)
                .order_by(LoginCode.created_at.desc()))
        if is_postgres(db):
            # SQLite needs no lock: its write transactions run one at a time already.
            live = live.for_update()
        row = live.first()
        if row is None:
            raise InvalidCode()
        if hmac.compare_digest(row.code_hash, _hash(secret_key, row.id, code)):
            if use:
                LoginCode.update(used_at=now).where(LoginCode.id == row.id).execute()
            return
        failures = row.failed_attempts + 1
        (LoginCode.update(failed_attempts=failures, dead=failures >= config.code_max_failures)
         .where(LoginCode.id == row.id).execute())
    raise InvalidCode(details={"attempts_left": config.code_max_failures - failures})
