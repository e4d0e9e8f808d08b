"""The chat-ethics regulation's decisions as plain functions of their inputs
(seed 002, "Положение об этике общения", points 2.2-2.9), free of the
database and of HTTP: what `api.py` and the domain modules ask before acting.
Each answers None when the action may go ahead, or why not."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

# 2.6: "более трех раз" - more than three recorded violations.
VIOLATIONS_BEFORE_A_BLOCK = 3
OVERSEERS = frozenset({"admin", "director"})
STAFF = frozenset({"admin", "director", "deputy", "teacher"})


def month_after(moment: datetime) -> datetime:
    """The same day and time of the next calendar month, or that month's last
    day when it is shorter: 31 January -> 28 (29) February, 15 May -> 15 June.
    2.6 allows a block "up to one month" from the moment it is imposed."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def rule_text(rules: list[str], number: int) -> str | None:
    """The text of rule `number` (counted from 1) of the chat's current rules."""
    return rules[number - 1] if 1 <= number <= len(rules) else None


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    field: str | None = None
    details: dict | None = None


def why_not_block(cited: int, until: datetime, now: datetime) -> Refusal | None:
    """2.6: a member who broke the chat's rules more than three times may be
    blocked for up to one month. `cited` is how many of their violations in
    this chat, none cited by an earlier block, the block cites."""
    if until <= now:
        return Refusal("until_in_the_past", "A block ends in the future.", "until")
    latest = month_after(now)
    if until > latest:
        return Refusal("block_too_long", "A block lasts at most one month: until the same day and time of the "
                       "next month (its last day when it is shorter).", "until", {"latest": latest})
    if cited <= VIOLATIONS_BEFORE_A_BLOCK:
        return Refusal("not_enough_violations",
                       f"A member is blocked only after more than {VIOLATIONS_BEFORE_A_BLOCK} recorded violations "
                       "of this chat's rules that no earlier block cited.", "violation_ids",
                       {"cited": cited, "needed": VIOLATIONS_BEFORE_A_BLOCK + 1})
    return None


@dataclass(frozen=True)
class RequestFacts:
    """An unblock request as 2.7 sees it."""
    window_ends_at: datetime
    objections: int
    open: bool


def why_not_unblock_early(request: RequestFacts | None, now: datetime) -> Refusal | None:
    """2.7: the moderator may unblock early only when the member apologised
    (an unblock request) and no member of the chat objected within the window."""
    if request is None or not request.open:
        return Refusal("no_unblock_request", "An early unblock needs the member's apology: an open unblock request.")
    if request.objections:
        return Refusal("objected", "A member of the chat objected to the early unblock.",
                       details={"objections": request.objections})
    if now < request.window_ends_at:
        return Refusal("objection_window_open", "The members of the chat may still object to the early unblock.",
                       details={"window_ends_at": request.window_ends_at})
    return None


def why_not_object(request: RequestFacts, objector_id: str, requester_id: str, now: datetime) -> Refusal | None:
    if objector_id == requester_id:
        return Refusal("own_request", "The blocked member does not object to their own request.")
    if not request.open:
        return Refusal("request_closed", "This unblock request is closed.")
    if now >= request.window_ends_at:
        return Refusal("window_closed", "The time for objections is over.",
                       details={"window_ends_at": request.window_ends_at})
    return None


def why_not_act_on(subject_id: str, actor_id: str, subject_moderates: bool) -> Refusal | None:
    """Violations and removals concern members, not the moderators: a
    moderator answers to the school's admins, not to a fellow moderator."""
    if subject_id == actor_id:
        return Refusal("own_conduct", "Moderators do not record their own conduct.", "user_id")
    if subject_moderates:
        return Refusal("subject_moderates", "A moderator of this chat answers to the school's admins, "
                       "not to another moderator.", "user_id")
    return None


def oversees(roles: set[str]) -> bool:
    """The school's admins and director oversee moderation: the school's log and appeals."""
    return bool(roles & OVERSEERS)


def is_student(roles: set[str]) -> bool:
    return "student" in roles and not roles & STAFF
