"""The organisation's structure: its information, units (classes, groups, the
staff room), class heads and additional admins."""
from __future__ import annotations

from services.common.bus import Outbox
from services.common.clock import utcnow
from services.common.errors import Conflict, Unprocessable

from . import events, membership
from .access import TEACHING_ROLES, Access, active_member, roles_of
from .models import Organisation, Unit, db

STAFF_ROOM_NAME = "Учительская"


def org_data(org: Organisation) -> dict:
    return {"org_id": org.id, "region_id": org.region_id, "name": org.name, "kind": org.kind,
            "journal_url": org.journal_url, "diary_url": org.diary_url}


def unit_data(unit: Unit) -> dict:
    return {"org_id": unit.organisation_id, "unit_id": unit.id, "kind": unit.kind, "name": unit.name,
            "grade": unit.grade, "academic_year": unit.academic_year}


def create_organisation(outbox: Outbox, region_id: str, name: str, kind: str) -> Organisation:
    with db.atomic():
        org = Organisation.create(region=region_id, name=name, kind=kind)
        outbox.add(events.ORG_CREATED, org_data(org), org_id=org.id)
        staff_room = Unit.create(organisation=org, name=STAFF_ROOM_NAME, kind="staff_room")
        outbox.add(events.UNIT_CREATED, unit_data(staff_room), org_id=org.id)
    return org


def staff_room(org: Organisation) -> Unit:
    return Unit.get(Unit.organisation == org, Unit.kind == "staff_room")


def update_organisation(outbox: Outbox, access: Access, changes: dict) -> Organisation:
    access.require_admin()
    org = access.org
    with db.atomic():
        for field, value in changes.items():
            setattr(org, field, value.strip() if isinstance(value, str) else value)
        org.updated_at = utcnow()
        org.save()
        outbox.add(events.ORG_UPDATED, org_data(org), org_id=org.id)
    return org


def units(access: Access, include_archived: bool = False):
    query = Unit.select().where(Unit.organisation == access.org).order_by(Unit.kind, Unit.grade, Unit.name)
    if not include_archived:
        query = query.where(Unit.archived_at.is_null())
    return query


def create_unit(outbox: Outbox, access: Access, name: str, kind: str, grade: int | None,
                academic_year: str | None) -> Unit:
    access.require_admin()
    name = name.strip()
    with db.atomic():
        clash = Unit.get_or_none(Unit.organisation == access.org, Unit.name == name,
                                 Unit.academic_year == academic_year, Unit.archived_at.is_null())
        if clash is not None:
            raise Conflict("A unit with this name already exists for this year.", code="duplicate_unit")
        unit = Unit.create(organisation=access.org, name=name, kind=kind, grade=grade,
                           academic_year=academic_year)
        outbox.add(events.UNIT_CREATED, unit_data(unit), org_id=access.org.id)
    return unit


def update_unit(outbox: Outbox, access: Access, unit_id: str, changes: dict) -> Unit:
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        if unit.kind == "staff_room" or unit.archived_at is not None:
            raise Conflict("This unit cannot be changed.", code="unit_not_editable")
        for field, value in changes.items():
            setattr(unit, field, value.strip() if isinstance(value, str) else value)
        unit.save()
        outbox.add(events.UNIT_UPDATED, unit_data(unit), org_id=access.org.id)
    return unit


def archive_unit(outbox: Outbox, access: Access, unit_id: str) -> Unit:
    """A class that ended its course; its history stays. Only an empty class can go."""
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        if unit.kind == "staff_room":
            raise Conflict("The staff room cannot be archived.", code="unit_not_editable")
        if unit.archived_at is not None:
            return unit
        if membership.students_of(unit).exists():
            raise Conflict("Transfer or expel the students of this unit first.", code="unit_not_empty")
        unit.archived_at = utcnow()
        unit.save()
        outbox.add(events.UNIT_ARCHIVED, unit_data(unit), org_id=access.org.id)
    return unit


def assign_head(outbox: Outbox, access: Access, unit_id: str, user_id: str) -> Unit:
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        if unit.kind not in ("class", "group") or unit.archived_at is not None:
            raise Conflict("Only an active class or group has a class head.", code="unit_not_editable")
        if not roles_of(active_member(access.org.id, user_id)) & TEACHING_ROLES:
            raise Unprocessable("The class head must be a teacher of this organisation.",
                                code="not_a_teacher", details={"fields": {"user_id": ["Not a teacher here."]}})
        previous = unit.head_user_id
        if previous == user_id:
            return unit
        unit.head_user_id = user_id
        unit.save()
        outbox.add(events.UNIT_HEAD_ASSIGNED, {"org_id": access.org.id, "unit_id": unit.id,
                                               "user_id": user_id, "previous_user_id": previous},
                   org_id=access.org.id)
    return unit


def appoint_admin(outbox: Outbox, access: Access, user_id: str) -> None:
    access.require_admin()
    with db.atomic():
        member = active_member(access.org.id, user_id)
        if not roles_of(member) & TEACHING_ROLES:
            raise Unprocessable("Admins are appointed from the organisation's teachers.",
                                code="not_a_teacher", details={"fields": {"user_id": ["Not a teacher here."]}})
        membership.add_roles(outbox, member, {"admin"})
