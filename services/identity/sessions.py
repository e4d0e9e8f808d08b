"""Sessions and their tokens: a short-lived signed access token and a rotating
opaque refresh token. Presenting a refresh token that was already rotated means
it was stolen or replayed: the whole session is revoked. A revoked session is
published, and every process that verifies tokens refuses its access tokens
from then on, not only when they expire."""
from __future__ import annotations

import uuid
from calendar import timegm
from datetime import timedelta

from services.common.auth import ACCESS_TOKEN_TYPE
from services.common.clock import isoformat, utcnow
from services.common.errors import Unauthorized
from services.common.service import Service
from services.common.tokens import digest, new_token

from . import events, signing_keys
from .config import IdentityConfig
from .models import RefreshToken, Session, User, db
from .signing_keys import Signer

# Beyond the access tokens' lifetime: clocks differ, and verifiers allow some leeway.
REVOKED_MARGIN = timedelta(seconds=60)


class Tokens:
    def __init__(self, config: IdentityConfig, signer: Signer, issuer: str, audience: str,
                 operator_regions: tuple[str, ...]):
        self.config = config
        self.signer = signer
        self.issuer = issuer
        self.audience = audience
        self.operator_regions = operator_regions

    def start_session(self, user: User, user_agent: str = "") -> dict:
        with db.atomic():
            session = Session.create(user=user, user_agent=user_agent[:256])
            refresh = self._new_refresh_token(session)
        return self._pair(user, session, refresh)

    def refresh(self, service: Service, refresh_token: str) -> dict:
        now = utcnow()
        with db.atomic():
            stored = (RefreshToken.select(RefreshToken, Session, User)
                      .join(Session).join(User)
                      .where(RefreshToken.token_hash == digest(refresh_token)).first())
            if stored is None:
                raise Unauthorized("The refresh token is not valid.", code="invalid_token")
            session = stored.session
            if session.revoked_at is not None:
                raise Unauthorized("The session has ended; sign in again.", code="session_revoked")
            if stored.created_at < now - timedelta(days=self.config.refresh_ttl_days):
                raise Unauthorized("The session has expired; sign in again.", code="session_expired")
            rotated = (RefreshToken.update(rotated_at=now)
                       .where(RefreshToken.token_hash == stored.token_hash,
                              RefreshToken.rotated_at.is_null())
                       .execute())
            if rotated != 1:
                self._revoke(service, session, "refresh_token_reuse")
                reused = True
            else:
                reused = False
                Session.update(refreshed_at=now).where(Session.id == session.id).execute()
                refresh = self._new_refresh_token(session)
        if reused:
            # Committed above: the revocation stands although this request fails.
            raise Unauthorized("This refresh token was already used; the session is revoked.",
                               code="refresh_token_reused")
        return self._pair(session.user, session, refresh)

    def logout(self, service: Service, session_id: str) -> None:
        with db.atomic():
            session = Session.get_or_none(Session.id == session_id)
            if session is not None and session.revoked_at is None:
                self._revoke(service, session, "logout")

    def active_session(self, session_id: str | None) -> Session:
        session = Session.get_or_none(Session.id == session_id) if session_id else None
        if session is None or session.revoked_at is not None:
            raise Unauthorized("The session has ended; sign in again.", code="session_revoked")
        return session

    def revocations(self) -> dict:
        """What a process that verifies tokens must refuse although the tokens
        have not expired: sessions revoked within an access token's lifetime, and
        keys retired lately. Read when such a process starts, and whenever its
        feed of revocations reconnects."""
        now = utcnow()
        lifetime = timedelta(seconds=self.config.access_ttl)
        revoked = (Session.select(Session.id, Session.revoked_at)
                   .where(Session.revoked_at > now - lifetime - REVOKED_MARGIN))
        return {"sessions": [{"session_id": session.id, "until": isoformat(session.revoked_at + lifetime)}
                             for session in revoked],
                "retired_keys": signing_keys.retired_lately()}

    def revoke(self, service: Service, session: Session, reason: str) -> None:
        """The session ends now, everywhere (its access tokens are refused)."""
        self._revoke(service, session, reason)

    def _revoke(self, service: Service, session: Session, reason: str) -> None:
        now = utcnow()
        revoked = (Session.update(revoked_at=now, revoke_reason=reason)
                   .where(Session.id == session.id, Session.revoked_at.is_null()).execute())
        if revoked:
            # No access token of the session, all issued before now, is valid after `until`.
            service.outbox.add(events.SESSION_REVOKED, {
                "user_id": session.user_id, "session_id": session.id, "reason": reason,
                "until": isoformat(now + timedelta(seconds=self.config.access_ttl))})

    def _new_refresh_token(self, session: Session) -> str:
        token = new_token(32)
        RefreshToken.create(token_hash=digest(token), session=session)
        return token

    def _pair(self, user: User, session: Session, refresh_token: str) -> dict:
        now = utcnow()
        claims = {
            "iss": self.issuer, "aud": self.audience, "sub": user.id, "sid": session.id,
            "typ": ACCESS_TOKEN_TYPE, "jti": uuid.uuid4().hex,
            "iat": timegm(now.utctimetuple()),
            "exp": timegm(now.utctimetuple()) + self.config.access_ttl,
        }
        if user.phone and user.phone in self.config.operator_phones:
            claims["op"] = True
            if self.operator_regions:
                claims["op_regions"] = list(self.operator_regions)
        return {
            "access_token": self.signer.sign(claims),
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": self.config.access_ttl,
            "user": {"id": user.id, "display_name": user.display_name},
        }
