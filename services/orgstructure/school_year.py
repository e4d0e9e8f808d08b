"""The school year (beyond every anchor): at its end an admin moves every
class and group up a grade (5А becomes 6А, in the new academic year) and lets
the graduating ones go: their students leave the school, and so do their
parents who have no other child in it (and do not work there); the
graduated classes are archived, their chats with them, while the promoted
classes' chats take their new names. A dry run shows the plan; carrying it
out is a single confirmation, of exactly the plan shown (`plan_id`). A year
rolls over once, and never in a school the operator archived."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from services.common.clock import utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict
from services.common.service import Service

from . import events, membership, teaching
from .access import STAFF_ROLES, Access, active_member, roles_of
from .models import Invite, Organisation, Unit, YearRollover, db
from .structure import unit_data

# The last grade of each kind of organisation, unless the admin says otherwise.
FINAL_GRADE = {"school": 11, "college": 4, "additional": 12}


@dataclass(frozen=True)
class UnitFacts:
    unit_id: str
    name: str
    grade: int | None
    academic_year: str | None


def next_name(name: str, grade: int) -> str:
    """A class named after its grade follows it ("5А" → "6А", "10-Б" → "11-Б");
    any other name stays."""
    prefix = str(grade)
    if name.startswith(prefix) and not name[len(prefix):len(prefix) + 1].isdigit():
        return f"{grade + 1}{name[len(prefix):]}"
    return name


def year_starting(today: date) -> str:
    """The academic year that begins this September."""
    return f"{today.year}/{today.year + 1}"


def plan_for(units: list[UnitFacts], final_grade: int, academic_year: str) -> dict:
    """What the rollover does to these active classes and groups: a plain
    function of its inputs. Two classes that would share a name in the same
    year are a conflict, and nothing is carried out until it is resolved."""
    promoted, graduating, unchanged = [], [], []
    for unit in sorted(units, key=lambda u: (u.grade or 0, u.name)):
        if unit.grade is None:
            unchanged.append({"unit_id": unit.unit_id, "name": unit.name, "reason": "no_grade"})
        elif unit.grade >= final_grade:
            graduating.append({"unit_id": unit.unit_id, "name": unit.name, "grade": unit.grade})
        else:
            promoted.append({"unit_id": unit.unit_id, "name": unit.name, "grade": unit.grade,
                             "new_name": next_name(unit.name, unit.grade), "new_grade": unit.grade + 1})
    years = {unit.unit_id: unit.academic_year for unit in units}
    after: dict[tuple, list[str]] = {}
    for row in promoted:
        after.setdefault((row["new_name"], academic_year), []).append(row["unit_id"])
    for row in unchanged:
        after.setdefault((row["name"], years[row["unit_id"]]), []).append(row["unit_id"])
    conflicts = [{"name": name, "unit_ids": ids} for (name, _year), ids in sorted(after.items()) if len(ids) > 1]
    return {"academic_year": academic_year, "final_grade": final_grade, "promoted": promoted,
            "graduating": graduating, "unchanged": unchanged, "conflicts": conflicts}


def _fingerprint(plan: dict) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _active_units(org: Organisation) -> list[Unit]:
    return list(Unit.select().where(Unit.organisation == org, Unit.kind.in_(("class", "group")),
                                    Unit.archived_at.is_null()))


def _leaving_parents(org_id: str, graduating: set[str]) -> int:
    """Parents whose every child here graduates now and who do not work here."""
    leaving = set()
    for unit_id in graduating:
        for placement in membership.students_of(unit_id):
            for parent_id in membership.parents_of(org_id, placement.user_id):
                places = set()
                for child in membership.children_of(org_id, parent_id):
                    child_place = membership.current_placement(org_id, child, "student")
                    if child_place is not None:
                        places.add(child_place.unit_id)
                if places <= graduating and not roles_of(active_member(org_id, parent_id)) & STAFF_ROLES:
                    leaving.add(parent_id)
    return len(leaving)


def plan(org: Organisation, final_grade: int, academic_year: str) -> dict:
    units = _active_units(org)
    found = plan_for([UnitFacts(u.id, u.name, u.grade, u.academic_year) for u in units], final_grade,
                     academic_year)
    for row in found["graduating"]:
        row["students"] = membership.students_of(row["unit_id"]).count()
    found["parents_leaving"] = _leaving_parents(org.id, {row["unit_id"] for row in found["graduating"]})
    found["plan_id"] = _fingerprint(found)
    return found


def _graduate(service: Service, org: Organisation, unit: Unit) -> list[dict]:
    graduates = []
    for placement in list(membership.students_of(unit)):
        data = membership.let_go(service, org.id, placement, "graduated")
        graduates.append({key: data[key] for key in ("user_id", "unit_id", "parent_ids", "staying_parent_ids")})
    teaching.end_for_unit(service, unit, "graduated")
    # The class head stays in the archived chats: their history stays readable.
    unit.archived_at = utcnow()
    unit.save()
    # Links made for the class that is no more.
    Invite.update(revoked_at=utcnow()).where(Invite.unit == unit, Invite.revoked_at.is_null()).execute()
    service.outbox.add(events.UNIT_ARCHIVED, unit_data(unit), org_id=org.id)
    return graduates


def rollover(service: Service, access: Access, *, dry_run: bool, final_grade: int | None,
             academic_year: str | None, plan_id: str | None) -> dict:
    access.require_admin()
    final_grade = final_grade or FINAL_GRADE.get(access.org.kind, 11)
    academic_year = academic_year or year_starting(utcnow().date())
    with db.atomic():
        # One rollover of a school at a time: a second confirmation waits, then finds the first.
        lock_for_transaction(db, f"rollover:{access.org.id}")
        org = Organisation.get_by_id(access.org.id)
        if org.archived_at is not None:
            raise Conflict("This organisation is archived.", code="org_archived")
        if YearRollover.select().where(YearRollover.organisation == org,
                                       YearRollover.academic_year == academic_year).exists():
            raise Conflict(f"The school year {academic_year} has begun already: the rollover was carried out.",
                           code="already_rolled_over", details={"academic_year": academic_year})
        found = plan(org, final_grade, academic_year)
        if dry_run:
            return dict(found, dry_run=True)
        if plan_id and plan_id != found["plan_id"]:
            raise Conflict("The school changed since this plan was shown: look at the new plan and confirm it.",
                           code="plan_changed", details={"plan": found})
        if found["conflicts"]:
            raise Conflict("Some classes would share a name: rename them first.", code="rollover_conflicts",
                           details={"conflicts": found["conflicts"]})
        units = {unit.id: unit for unit in _active_units(org)}
        graduates = []
        for row in found["graduating"]:
            graduates += _graduate(service, org, units[row["unit_id"]])
        for row in found["promoted"]:
            unit = units[row["unit_id"]]
            unit.name, unit.grade, unit.academic_year = row["new_name"], row["new_grade"], academic_year
            unit.save()
            service.outbox.add(events.UNIT_UPDATED, unit_data(unit), org_id=org.id)
        YearRollover.create(organisation=org, academic_year=academic_year, by=access.user.id,
                            plan=json.dumps(found, ensure_ascii=False))
        service.outbox.add(events.YEAR_ROLLED_OVER, {
            "org_id": org.id, "academic_year": academic_year, "by": access.user.id,
            "promoted": [{"unit_id": row["unit_id"], "grade": row["new_grade"], "name": row["new_name"],
                          "previous_grade": row["grade"], "previous_name": row["name"]} for row in found["promoted"]],
            "graduated_unit_ids": [row["unit_id"] for row in found["graduating"]],
            "graduates": graduates}, org_id=org.id)
    return dict(found, dry_run=False)
