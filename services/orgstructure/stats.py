"""Usage statistics for admins and directors: members by role and unit, joins,
and, from other services' events, messages, calls and call minutes, by week."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services.common.clock import parse_iso
from services.common.db import Statement

from .access import Access
from .models import Member, MemberRole, Placement, Unit, WeeklyStat, db


def week_of(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


# Every message of every school is counted here: the statement is written out.
_ADD = Statement(db, f"""
    INSERT INTO {WeeklyStat._meta.table_name} (organisation_id, unit_id, week, metric, value)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (organisation_id, unit_id, week, metric) DO UPDATE SET value = {WeeklyStat._meta.table_name}.value
                                                                                + excluded.value""")


def count(org_id: str | None, metric: str, at: str | datetime, amount: int = 1, unit_id: str = "") -> None:
    """Add to a weekly counter (called by event handlers, inside their transaction)."""
    if not org_id:
        return
    moment = parse_iso(at) if isinstance(at, str) else at
    _ADD.execute(org_id, unit_id or "", week_of(moment), metric, amount)


def report(access: Access, start: date, end: date) -> dict:
    access.require_any("admin", "director")
    org = access.org
    by_role: dict[str, int] = {}
    for row in (MemberRole.select(MemberRole.role).join(Member)
                .where(Member.organisation == org, Member.left_at.is_null())):
        by_role[row.role] = by_role.get(row.role, 0) + 1
    by_unit = []
    for unit in Unit.select().where(Unit.organisation == org, Unit.archived_at.is_null()).order_by(Unit.name):
        people = Placement.select().where(Placement.unit == unit, Placement.ended_at.is_null()).count()
        by_unit.append({"unit_id": unit.id, "name": unit.name, "kind": unit.kind, "members": people})
    weeks: dict[date, dict] = {}
    first, last = week_of(start), week_of(end)
    cursor = first
    while cursor <= last:
        weeks[cursor] = {"week": cursor.isoformat(), "joins": 0, "messages": 0, "calls": 0, "call_minutes": 0}
        cursor += timedelta(days=7)
    for member in Member.select(Member.joined_at).where(Member.organisation == org):
        week = week_of(member.joined_at)
        if week in weeks:
            weeks[week]["joins"] += 1
    for stat in WeeklyStat.select().where(WeeklyStat.organisation_id == org.id, WeeklyStat.week >= first,
                                          WeeklyStat.week <= last, WeeklyStat.unit_id == ""):
        weeks[stat.week][stat.metric] = weeks[stat.week].get(stat.metric, 0) + stat.value
    return {"org_id": org.id, "from": start.isoformat(), "to": end.isoformat(),
            "members_by_role": by_role, "members_by_unit": by_unit, "weeks": list(weeks.values())}
