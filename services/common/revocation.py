"""What identity takes back before the tokens it covers expire: sessions
(logout, a reused refresh token) and signing keys (an emergency rotation).

Every process that verifies tokens (each gunicorn worker of every service and
of the gateway) keeps its own `Revocations` and refuses what is in it. It
learns them from `RevocationFeed`, a queue of its own on `sferum.events`:
a service's ordinary queue hands each event to one replica only. What was
revoked before the process started it reads from identity's snapshot
(`REVOCATIONS_PATH`) before it verifies its first token, and again whenever
its feed (re)connects, for what was revoked while the feed was away."""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import timezone
from typing import Callable

from kombu import Queue, binding

from .bus import connect, events_exchange
from .clock import parse_iso
from .consumer import ReconnectingConsumer
from .errors import ServiceUnavailable

log = logging.getLogger(__name__)

SESSION_REVOKED = "identity.session.revoked"
SIGNING_KEY_RETIRED = "identity.signing_key.retired"
# Served by identity outside /api/v1: the gateway never forwards it to clients.
REVOCATIONS_PATH = "/internal/revocations"

# Why a token is refused, also the reason a stream it opened is closed with.
SESSION_ENDED = "session revoked"
KEY_RETIRED = "signing key retired"


def _epoch(iso: str) -> float:
    return parse_iso(iso).replace(tzinfo=timezone.utc).timestamp()


def _tell(listeners: list, *args) -> None:
    """A listener that fails (a socket that would not close) stops nothing else."""
    for listener in listeners:
        try:
            listener(*args)
        except Exception:
            log.exception("a revocation listener failed")


class Revocations:
    """Revoked sessions (until their last access token has expired) and retired
    key ids. Checking a token is two lookups; writers hold a lock."""

    PRUNE_EVERY = 60.0
    MARGIN = 60.0  # beyond a revoked session's last expiry: clocks and leeway

    def __init__(self, fetch: Callable[[], dict], retry_every: float = 2.0):
        self._fetch = fetch
        self._retry_every = retry_every
        self.sessions: dict[str, float] = {}  # session id -> when its last access token expires
        self.key_ids: set[str] = set()
        self.loaded = False
        self._tried_at = float("-inf")
        self._pruned_at = time.time()
        self._lock = threading.Lock()
        self._loading = threading.RLock()  # one read of the snapshot at a time
        self._session_listeners: list[Callable[[str | None, str], None]] = []
        self._key_listeners: list[Callable[[str], None]] = []
        self._feed: RevocationFeed | None = None

    def refusal(self, session_id: str | None, key_id: str | None) -> str | None:
        """Why a token of this session, signed with this key, is no longer good; None when it is."""
        if session_id in self.sessions:
            return SESSION_ENDED
        if key_id in self.key_ids:
            return KEY_RETIRED
        return None

    def listen(self, session: Callable[[str | None, str], None] | None = None,
               key: Callable[[str], None] | None = None) -> None:
        """Called for each session (user id, when known, and session id) and key id
        newly taken back, after it is refused: open streams are closed this way."""
        if session is not None:
            self._session_listeners.append(session)
        if key is not None:
            self._key_listeners.append(key)

    def revoke_session(self, session_id: str, until: float, user_id: str | None = None) -> None:
        with self._lock:
            known = session_id in self.sessions
            self.sessions[session_id] = max(until, self.sessions.get(session_id, until))
            self._prune()
        if not known:
            _tell(self._session_listeners, user_id, session_id)

    def retire_key(self, key_id: str) -> None:
        with self._lock:
            known = key_id in self.key_ids
            self.key_ids.add(key_id)
        if not known:
            _tell(self._key_listeners, key_id)

    def apply(self, event_type: str, data: dict) -> None:
        """One of identity's revocation events."""
        if event_type == SESSION_REVOKED:
            self.revoke_session(str(data["session_id"]), _epoch(data["until"]), data.get("user_id"))
        elif event_type == SIGNING_KEY_RETIRED:
            self.retire_key(str(data["kid"]))

    def load(self) -> bool:
        """Reads identity's snapshot: what was revoked while nobody here listened.
        False (and logged) when identity cannot be asked."""
        with self._loading:
            self._tried_at = time.monotonic()
            try:
                document = self._fetch()
                sessions = [(str(s["session_id"]), _epoch(s["until"])) for s in document["sessions"]]
                key_ids = [str(kid) for kid in document["retired_keys"]]
            except Exception as error:
                log.warning("could not read the revoked sessions and keys: %s", error)
                return False
            for session_id, until in sessions:
                self.revoke_session(session_id, until)
            for key_id in key_ids:
                self.retire_key(key_id)
            self.loaded = True
            return True

    def reload(self) -> None:
        """The feed has just bound its queue: a snapshot taken before (or being
        taken now) may miss what was revoked in between, so it is taken again.
        Without one yet, the first verification takes it, after this binding."""
        with self._loading:
            if self.loaded:
                self.load()

    def ensure_loaded(self) -> None:
        """Before a token is trusted: a process that has not read the snapshot yet
        cannot tell a token of a session ended before it started. It asks now
        (at most every few seconds) and answers 503 while identity cannot say."""
        if self.loaded:
            return
        with self._loading:  # a read under way (the feed's, at start) is waited for
            if not self.loaded and time.monotonic() - self._tried_at >= self._retry_every:
                self.load()
        if not self.loaded:
            raise ServiceUnavailable("Sign-in checks are starting; try again in a moment.")

    def follow(self, amqp_url: str, label: str) -> None:
        """Starts this process's feed (once)."""
        if self._feed is None:
            self._feed = RevocationFeed(amqp_url, self, label)
            self._feed.start()

    def stop_following(self) -> None:
        if self._feed is not None:
            self._feed.should_stop = True
            self._feed = None

    def _prune(self) -> None:
        """Forgets sessions whose tokens have all expired; the caller holds the lock."""
        now = time.time()
        if now - self._pruned_at >= self.PRUNE_EVERY:
            self._pruned_at = now
            self.sessions = {sid: until for sid, until in self.sessions.items() if until + self.MARGIN > now}


class RevocationFeed(ReconnectingConsumer):
    """identity's revocation events, each delivered to every process: an
    exclusive, auto-deleted queue per process. Nothing is acknowledged: what a
    lost connection held is read again from the snapshot, taken after the queue
    is bound again, so that nothing falls between the two."""

    ROUTING_KEYS = (SESSION_REVOKED, SIGNING_KEY_RETIRED)
    feed_name = "revocation feed"

    def __init__(self, amqp_url: str, revocations: Revocations, label: str, heartbeat: int = 20):
        self.connection = connect(amqp_url, heartbeat=heartbeat)
        self.revocations = revocations
        self.queue_name = f"revocations.{label}.{uuid.uuid4().hex[:12]}"

    def get_consumers(self, consumer_class, channel):
        events_exchange(channel).declare()
        queue = Queue(self.queue_name, bindings=[binding(events_exchange, routing_key=key)
                                                 for key in self.ROUTING_KEYS],
                      exclusive=True, auto_delete=True, durable=False)
        return [consumer_class(queues=[queue], on_message=self._on_message, no_ack=True, accept=None)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.revocations.reload()

    def _on_message(self, message) -> None:
        try:
            envelope = json.loads(message.body)
            self.revocations.apply(envelope["type"], envelope["data"])
        except (ValueError, KeyError, TypeError) as error:
            log.error("malformed revocation event dropped: %s", error)

    def start(self) -> None:
        threading.Thread(target=self.run, name="revocation-feed", daemon=True).start()
