"""Usage statistics the director checks weekly (seed 000 §2.2, 002 §2.1): active
users by role (by day and by week), messages, calls and call minutes by week
and by class and group, new joins and pending join requests; and a weekly
digest of the finished week, which messaging posts in the school's staff
channel.

Figures never identify a student: they are counts only, and a count of
people between 1 and `SUPPRESS_BELOW - 1` is not shown (null). Active means
having written a message, joined a chat or joined a call that day (what the
other services' events tell); roles are the people's roles now."""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta

from services.common.clock import parse_iso, utcnow
from services.common.db import ListsStatement, lock_for_transaction
from services.common.service import Service

from . import events
from .access import Access
from .models import (Activity, ChatUnit, DigestSent, JoinRequest, Member, MemberRole, Organisation, Placement, Unit,
                     WeeklyStat, db)

log = logging.getLogger(__name__)

# Counts of people below this (and above zero) are suppressed: a class of three
# with "2 active students" says too much about two children.
SUPPRESS_BELOW = 5
ROLES = ("admin", "director", "deputy", "teacher", "student", "parent")
UNIT_METRICS = ("messages", "calls", "call_minutes")


def shown(count: int) -> int | None:
    """A count of people as the report shows it: small ones are suppressed."""
    return count if count == 0 or count >= SUPPRESS_BELOW else None


def week_of(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


# Every message of every school is counted here: a batch of events is counted
# with three statements written out, not peewee queries for each event.
_ADD = ListsStatement(db, f"""
    INSERT INTO {WeeklyStat._meta.table_name} (organisation_id, unit_id, week, metric, value) VALUES {{counters}}
    ON CONFLICT (organisation_id, unit_id, week, metric) DO UPDATE SET value = {WeeklyStat._meta.table_name}.value
                                                                                + excluded.value""")
_ACTIVE = ListsStatement(db, f"""
    INSERT INTO {Activity._meta.table_name} (organisation_id, day, user_id) VALUES {{actives}}
    ON CONFLICT (organisation_id, day, user_id) DO NOTHING""")
_UNITS_OF_CHATS = ListsStatement(db, f"""
    SELECT chat_id, unit_id FROM {ChatUnit._meta.table_name} WHERE chat_id IN ({{chats}})""")

# (organisation, unit or "" for the whole school, week, metric) -> amount to add
Increments = dict[tuple[str, str, date, str], int]
# (organisation, day, user): who was active that day
Actives = set[tuple[str, date, str]]


def chats_to_place(events: list[dict]) -> set[str]:
    """The chats whose class or group the counts of `events` need."""
    return {event["data"]["chat_id"] for event in events
            if event["type"] in ("messaging.message.created", "calls.call.ended") and event["data"].get("chat_id")}


def counted(events: list[dict], unit_of_chat: dict[str, str]) -> tuple[Increments, Actives]:
    """What a batch of the other services' events adds to the counters: a
    message is counted for the school and for the class or group its chat
    belongs to, and so is a call that took place, with its minutes; writing,
    joining a chat and joining a call make a person active that day."""
    increments: Increments = {}
    actives: Actives = set()

    def add(org_id, chat_id, metric, at, amount=1):
        week = week_of(parse_iso(at))
        for unit_id in ("", unit_of_chat.get(chat_id)):
            if unit_id is not None:
                key = (org_id, unit_id, week, metric)
                increments[key] = increments.get(key, 0) + amount

    def active(org_id, user_id, at):
        if user_id:
            actives.add((org_id, parse_iso(at).date(), user_id))

    for event in events:
        data, kind = event["data"], event["type"]
        org_id = data.get("org_id") or event.get("org_id")
        if not org_id:
            continue
        if kind == "messaging.message.created":
            add(org_id, data.get("chat_id"), "messages", event["occurred_at"])
            active(org_id, data.get("author_id"), event["occurred_at"])
        elif kind == "messaging.chat.member.joined":
            active(org_id, data.get("user_id"), event["occurred_at"])
        elif kind == "calls.participant.joined":
            active(org_id, data.get("user_id"), data.get("at") or event["occurred_at"])
        elif kind == "calls.call.ended" and data.get("started_at"):  # a call rung and never answered did not take place
            add(org_id, data.get("chat_id"), "calls", data["started_at"])
            if data.get("ended_at"):
                minutes = (parse_iso(data["ended_at"]) - parse_iso(data["started_at"])).total_seconds() / 60
                add(org_id, data.get("chat_id"), "call_minutes", data["started_at"], max(0, round(minutes)))
    return increments, actives


def count(events: list[dict]) -> None:
    """Counts a batch of events (the consumer's handler, inside its transaction)."""
    chats = sorted(chats_to_place(events))
    unit_of_chat = dict(_UNITS_OF_CHATS.execute(chats=chats).fetchall()) if chats else {}
    increments, actives = counted(events, unit_of_chat)
    # In a fixed order: two transactions adding to the same counters never wait for each other in turn.
    if increments:
        _ADD.execute(counters=[(*key, amount) for key, amount in sorted(increments.items())])
    if actives:
        _ACTIVE.execute(actives=sorted(actives))


def chat_changed(data: dict) -> None:
    """messaging.chat.created / updated: a chat bound to a class or group."""
    if data.get("unit_id"):
        ChatUnit.insert(chat_id=data["chat_id"], organisation_id=data["org_id"], unit_id=data["unit_id"]).on_conflict(
            conflict_target=[ChatUnit.chat_id], update={ChatUnit.unit_id: data["unit_id"]}).execute()


def _roles_now(org_id: str) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    for row in (MemberRole.select(MemberRole.role, Member.user_id).join(Member)
                .where(Member.organisation == org_id, Member.left_at.is_null()).tuples()):
        roles.setdefault(row[1], set()).add(row[0])
    return roles


def _active_by_role(users: set[str], roles: dict[str, set[str]]) -> dict:
    figures = {role: shown(sum(1 for user in users if role in roles.get(user, ()))) for role in ROLES}
    figures["all"] = shown(len(users))
    return figures


def figures(org: Organisation, start: date, end: date) -> dict:
    """The report of the days from `start` to `end`, both included."""
    roles = _roles_now(org.id)
    first, last = week_of(start), week_of(end)
    weeks: dict[date, dict] = {}
    cursor = first
    while cursor <= last:
        weeks[cursor] = {"week": cursor.isoformat(), "joins": 0, "messages": 0, "calls": 0, "call_minutes": 0}
        cursor += timedelta(days=7)
    for member in Member.select(Member.joined_at).where(Member.organisation == org):
        week = week_of(member.joined_at)
        if week in weeks:
            weeks[week]["joins"] += 1
    units = {unit.id: unit for unit in Unit.select().where(Unit.organisation == org).order_by(Unit.name)}
    by_unit: dict[str, dict] = {}
    for stat in WeeklyStat.select().where(WeeklyStat.organisation_id == org.id, WeeklyStat.week >= first,
                                          WeeklyStat.week <= last):
        if stat.unit_id == "":
            weeks[stat.week][stat.metric] = weeks[stat.week].get(stat.metric, 0) + stat.value
        elif stat.unit_id in units and stat.metric in UNIT_METRICS:
            totals = by_unit.setdefault(stat.unit_id, dict.fromkeys(UNIT_METRICS, 0))
            totals[stat.metric] += stat.value
    daily: dict[date, set[str]] = {}
    weekly: dict[date, set[str]] = {}
    for row in Activity.select().where(Activity.organisation_id == org.id, Activity.day >= first,
                                       Activity.day <= last + timedelta(days=6)):
        weekly.setdefault(week_of(row.day), set()).add(row.user_id)
        if start <= row.day <= end:
            daily.setdefault(row.day, set()).add(row.user_id)
    for week, row in weeks.items():
        row["joins"] = shown(row["joins"])
        row["active"] = _active_by_role(weekly.get(week, set()), roles)
    days = []
    day = start
    while day <= end:
        days.append({"day": day.isoformat(), "active": _active_by_role(daily.get(day, set()), roles)})
        day += timedelta(days=1)
    by_role: dict[str, int] = {}
    for held in roles.values():
        for role in held:
            by_role[role] = by_role.get(role, 0) + 1
    people = {}
    for placement in Placement.select(Placement.unit).where(Placement.organisation == org,
                                                             Placement.ended_at.is_null()):
        people[placement.unit_id] = people.get(placement.unit_id, 0) + 1
    members_by_unit = [{"unit_id": unit.id, "name": unit.name, "kind": unit.kind,
                        "members": shown(people.get(unit.id, 0))}
                       for unit in units.values() if unit.archived_at is None]
    unit_activity = [{"unit_id": unit_id, "name": units[unit_id].name, "kind": units[unit_id].kind, **totals}
                     for unit_id, totals in sorted(by_unit.items(), key=lambda item: units[item[0]].name)]
    pending = JoinRequest.select().where(JoinRequest.organisation == org, JoinRequest.status == "pending").count()
    return {"org_id": org.id, "from": start.isoformat(), "to": end.isoformat(), "suppressed_below": SUPPRESS_BELOW,
            "members_by_role": {role: shown(n) for role, n in by_role.items()},
            "members_by_unit": members_by_unit, "units": unit_activity, "pending_requests": shown(pending),
            "weeks": list(weeks.values()), "days": days}


def report(access: Access, start: date, end: date) -> dict:
    access.require_any("admin", "director")
    return figures(access.org, start, end)


def digest(org: Organisation, week: date) -> dict:
    """The finished week's figures, for the weekly digest."""
    found = figures(org, week, week + timedelta(days=6))
    totals = found["weeks"][0]
    return {"org_id": org.id, "week": week.isoformat(), "suppressed_below": SUPPRESS_BELOW,
            "active": totals["active"], "messages": totals["messages"], "calls": totals["calls"],
            "call_minutes": totals["call_minutes"], "joins": totals["joins"],
            "pending_requests": found["pending_requests"], "units": found["units"]}


def send_digests(service: Service, today: date) -> int:
    """Once a week ended, its digest goes out for every organisation that
    existed during it, once (replicas take a lock per organisation and week)."""
    week = week_of(today) - timedelta(days=7)
    week_end = datetime.combine(week + timedelta(days=7), datetime.min.time())
    done = DigestSent.select(DigestSent.organisation_id).where(DigestSent.week == week)
    sent = 0
    for org in list(Organisation.select().where(Organisation.created_at < week_end, Organisation.id.not_in(done))):
        with db.atomic():
            lock_for_transaction(db, f"digest:{org.id}:{week.isoformat()}")
            if DigestSent.select().where(DigestSent.organisation_id == org.id, DigestSent.week == week).exists():
                continue
            DigestSent.create(organisation_id=org.id, week=week)
            service.outbox.add(events.WEEKLY_DIGEST, digest(org, week), org_id=org.id)
            sent += 1
    return sent


def run_digests(service: Service, stop: threading.Event, poll_seconds: int, after_commit) -> None:
    """The job: looks for a finished week every `poll_seconds`."""
    while not stop.is_set():
        try:
            with db.connection_context():
                if send_digests(service, utcnow().date()):
                    after_commit()
        except Exception:
            log.exception("weekly digests")
        stop.wait(poll_seconds)
