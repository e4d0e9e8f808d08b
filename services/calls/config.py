"""calls's own settings, from the environment (services/common/config.py has
the common ones). Without `JANUS_URL` calls run peer-to-peer, small ones only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from services.common.config import Settings


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


@dataclass(frozen=True)
class CallsConfig:
    janus_url: str
    janus_api_secret: str
    janus_admin_key: str
    # Janus's event handler authenticates with it (HTTP basic auth, user `janus`).
    janus_events_secret: str
    turn_urls: tuple[str, ...]
    turn_secret: str
    turn_ttl: int
    stun_urls: tuple[str, ...]
    # Without an SFU, at most this many people are in one call at a time.
    p2p_max_participants: int
    # Nobody in a started call for this long ends it: room for reconnects.
    empty_grace: int
    # A direct call nobody answers for this long is missed.
    ring_seconds: int
    # A scheduled call nobody started this long after its time is cancelled.
    scheduled_expiry: int
    # Keepalives for the participants' Janus sessions: well within Janus's session_timeout.
    janus_keepalive: int
    # How often each call's room is compared with Janus's list of participants.
    janus_reconcile: int
    # A participant whose media Janus saw go down, and not come back for this long, is taken out.
    media_grace: int
    # A participant whose client has not confirmed its presence for this long is taken out
    # (clients confirm every 30 s).
    presence_timeout: int
    max_publishers: int

    @property
    def sfu(self) -> bool:
        return bool(self.janus_url)

    @property
    def mode(self) -> str:
        return "sfu" if self.sfu else "p2p"

    def describe(self) -> str:
        """One line for the start-up banner and the log."""
        if self.sfu:
            turn = f"TURN {', '.join(self.turn_urls)}" if self.turn_urls else "no TURN server"
            return f"calls: through the Janus SFU at {self.janus_url} ({turn})"
        return (f"calls: peer-to-peer, no SFU (JANUS_URL is not set): at most {self.p2p_max_participants} "
                f"people in a call; lessons, meetings and broadcasts larger than that need Janus")

    @classmethod
    def from_settings(cls, settings: Settings) -> "CallsConfig":
        env = settings.env
        config = cls(
            janus_url=(env.get("JANUS_URL") or "").strip(),
            janus_api_secret=env.get("JANUS_API_SECRET") or "",
            janus_admin_key=env.get("JANUS_ADMIN_KEY") or "",
            janus_events_secret=env.get("JANUS_EVENTS_SECRET") or "",
            turn_urls=_list(env.get("TURN_URLS")),
            turn_secret=env.get("TURN_SECRET") or "",
            turn_ttl=_int(env, "TURN_TTL_SECONDS", 4 * 3600, minimum=60),
            stun_urls=_list(env.get("STUN_URLS")),
            p2p_max_participants=_int(env, "CALL_P2P_MAX_PARTICIPANTS", 4, minimum=2),
            empty_grace=_int(env, "CALL_EMPTY_GRACE_SECONDS", 60),
            ring_seconds=_int(env, "CALL_RING_SECONDS", 45),
            scheduled_expiry=_int(env, "CALL_SCHEDULED_EXPIRY_SECONDS", 12 * 3600),
            janus_keepalive=_int(env, "JANUS_KEEPALIVE_SECONDS", 15),
            janus_reconcile=_int(env, "JANUS_RECONCILE_SECONDS", 10),
            media_grace=_int(env, "CALL_MEDIA_GRACE_SECONDS", 45),
            presence_timeout=_int(env, "CALL_PRESENCE_TIMEOUT_SECONDS", 90),
            max_publishers=_int(env, "CALL_MAX_PUBLISHERS", 100),
        )
        if config.sfu and not (config.janus_api_secret and config.janus_admin_key):
            raise RuntimeError("calls: JANUS_URL needs JANUS_API_SECRET and JANUS_ADMIN_KEY")
        if config.turn_urls and not config.turn_secret:
            raise RuntimeError("calls: TURN_URLS needs TURN_SECRET (coturn's static-auth-secret)")
        return config
