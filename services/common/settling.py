"""Facts on their way from the service that owns them to those that keep a
projection of them (read-your-writes across services).

A teacher who joins a school (orgstructure) and at once asks for the teacher
status (identity) must not be told that the school does not exist because
identity has not yet handled `member.joined`. Nor may a stranger be told
anything but 404. A service alone cannot tell the two apart; the gateway
can, because the owner of a fact says when it changed:

- the owner *announces* the keys of the facts it changed (`Service.announce`):
  in a request's answer (header `X-Sferum-Changed`, for the gateway that
  forwarded it) and, once the transaction committed, on the realtime
  exchange, which every gateway process hears; and it *withdraws* them when
  the fact ends (`Service.withdraw`: the person left), so that the refusals
  that follow are answered at once;
- a service that refuses because its projection lacks a fact names the
  fact's key (`lacking=` on the error, header `X-Sferum-Lacking`): refusals
  change nothing, so asking again is always safe;
- the gateway asks again, for a few seconds, while a lacking fact was
  announced a moment ago, and then answers `409 not_ready` with Retry-After;
  a refusal whose facts nobody announced goes to the client as it is.

A service that knows for certain that a fact is on its way (orgstructure
has not even heard of the signed-in user yet) answers `NotReady` itself,
which the gateway asks again for in the same way.

Keys name one fact about one person or one organisation's thing, so that a
stranger's refusal never matches what someone else's joining announced, and
a stranger is told 404 at once."""
from __future__ import annotations

from .errors import LACKING_HEADER, ApiError, lacking_value

CHANGED_HEADER = "X-Sferum-Changed"
# The realtime envelope that carries announcements to every gateway process.
ANNOUNCEMENT = "platform.settling"
# The lacking key of an answer that is certainly waiting for a fact on its way.
ON_ITS_WAY = "*"
WITHDRAWN = "-"
RETRY_AFTER_SECONDS = 1
NOT_READY_MESSAGE = "This is still being set up after a recent change; try again in a moment."


def member(org_id: str, user_id: str) -> str:
    """The user joined the organisation (or came back to it)."""
    return f"member:{org_id}:{user_id}"


def standing(org_id: str, user_id: str) -> str:
    """The member's roles, or their links to their children, changed."""
    return f"standing:{org_id}:{user_id}"


def unit(org_id: str, unit_id: str) -> str:
    """A class or group of the organisation was created."""
    return f"unit:{org_id}:{unit_id}"


def verified(org_id: str, user_id: str) -> str:
    """The person's teacher status in the organisation was confirmed (by an
    administrator, or by the operator's approval of the school's application)."""
    return f"verified:{org_id}:{user_id}"


def teaching(org_id: str, unit_id: str, user_id: str) -> str:
    """The teacher was assigned to teach the class or group."""
    return f"teaching:{org_id}:{unit_id}:{user_id}"


def chat_member(chat_id: str, user_id: str) -> str:
    """The user joined the chat, or their role in it (moderator) changed: for
    the services that keep chats' members and moderators (moderation, calls)."""
    return f"chat-member:{chat_id}:{user_id}"


def membership_lacking(org_id: str, user_id: str, in_school: bool, chat_id: str | None = None,
                       in_chat: bool = True) -> list[str]:
    """What a refusal names when a service's projection does not have the
    person in the school, or in the chat: facts that may simply be on their
    way (the gateway asks again while they were announced a moment ago)."""
    return (([] if in_school else [member(org_id, user_id)])
            + ([chat_member(chat_id, user_id)] if chat_id and not in_chat else []))


def lacking_header(keys) -> dict:
    """For an answer that is not a refusal but may be incomplete (a list read
    while a fact it depends on is on its way): a read, so safe to repeat."""
    value = lacking_value(keys)
    return {LACKING_HEADER: value} if value else {}


def withdrawn(key: str) -> str:
    """How an announcement says that a fact no longer holds."""
    return WITHDRAWN + key


def keys_of(header: str | None) -> list[str]:
    return [key for key in (header or "").split(",") if key]


class NotReady(ApiError):
    """409: what was asked for depends on a fact that may not have reached
    this service yet. When it is `certain` to be on its way, the gateway asks
    again for a few seconds before answering; otherwise (an id this service
    has not heard of, which may be new or may not exist) the client is told at
    once to try again in a moment."""
    status, code, message = 409, "not_ready", NOT_READY_MESSAGE

    def __init__(self, message: str | None = None, *, certain: bool = True, **kwargs):
        super().__init__(message, lacking=[ON_ITS_WAY] if certain else (),
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, **kwargs)
