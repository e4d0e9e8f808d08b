"""The organisation's structure: its information, units (classes, groups, the
staff room), class heads and additional admins."""
from __future__ import annotations

from services.common import settling
from services.common.service import Service
from services.common.clock import utcnow
from services.common.errors import Conflict, Forbidden, Unprocessable

from . import events, membership, teaching
from .access import TEACHING_ROLES, Access, active_member, roles_of
from .models import Organisation, Unit, db

STAFF_ROOM_NAME = "Учительская"


def org_data(org: Organisation) -> dict:
    return {"org_id": org.id, "region_id": org.region_id, "name": org.name, "kind": org.kind,
            "journal_url": org.journal_url, "diary_url": org.diary_url, "archived": org.archived_at is not None}


def unit_data(unit: Unit) -> dict:
    return {"org_id": unit.organisation_id, "unit_id": unit.id, "kind": unit.kind, "name": unit.name,
            "grade": unit.grade, "academic_year": unit.academic_year}


def create_organisation(service: Service, region_id: str, name: str, kind: str) -> Organisation:
    with db.atomic():
        org = Organisation.create(region=region_id, name=name, kind=kind)
        service.outbox.add(events.ORG_CREATED, org_data(org), org_id=org.id)
        staff_room = Unit.create(organisation=org, name=STAFF_ROOM_NAME, kind="staff_room")
        service.outbox.add(events.UNIT_CREATED, unit_data(staff_room), org_id=org.id)
    return org


def archive_organisation(service: Service, access: Access) -> Organisation:
    """The operator of the region archives a school that left the platform: its
    structure and chats stay readable and change no more."""
    if not access.user.operates_region(access.org.region_id):
        raise Forbidden("Only the operator of the region archives an organisation.")
    with db.atomic():
        org = Organisation.get_by_id(access.org.id)
        if org.archived_at is not None:
            raise Conflict("This organisation is archived already.", code="org_archived")
        org.archived_at = org.updated_at = utcnow()
        org.save()
        service.outbox.add(events.ORG_UPDATED, org_data(org), org_id=org.id)
    return org


def staff_room(org: Organisation) -> Unit:
    return Unit.get(Unit.organisation == org, Unit.kind == "staff_room")


def update_organisation(service: Service, access: Access, changes: dict) -> Organisation:
    access.require_admin()
    org = access.org
    with db.atomic():
        for field, value in changes.items():
            setattr(org, field, value.strip() if isinstance(value, str) else value)
        org.updated_at = utcnow()
        org.save()
        service.outbox.add(events.ORG_UPDATED, org_data(org), org_id=org.id)
    return org


def units(access: Access, include_archived: bool = False):
    query = Unit.select().where(Unit.organisation == access.org).order_by(Unit.kind, Unit.grade, Unit.name)
    if not include_archived:
        query = query.where(Unit.archived_at.is_null())
    return query


def create_unit(service: Service, access: Access, name: str, kind: str, grade: int | None,
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
        service.outbox.add(events.UNIT_CREATED, unit_data(unit), org_id=access.org.id)
        service.announce(settling.unit(access.org.id, unit.id))
    return unit


def update_unit(service: Service, access: Access, unit_id: str, changes: dict) -> Unit:
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        if unit.kind == "staff_room" or unit.archived_at is not None:
            raise Conflict("This unit cannot be changed.", code="unit_not_editable")
        for field, value in changes.items():
            setattr(unit, field, value.strip() if isinstance(value, str) else value)
        unit.save()
        service.outbox.add(events.UNIT_UPDATED, unit_data(unit), org_id=access.org.id)
    return unit


def archive_unit(service: Service, access: Access, unit_id: str) -> Unit:
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
        teaching.end_for_unit(service, unit, "archived")
        unit.archived_at = utcnow()
        unit.save()
        service.outbox.add(events.UNIT_ARCHIVED, unit_data(unit), org_id=access.org.id)
    return unit


def assign_head(service: Service, access: Access, unit_id: str, user_id: str) -> Unit:
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
        service.outbox.add(events.UNIT_HEAD_ASSIGNED, {"org_id": access.org.id, "unit_id": unit.id,
                                               "user_id": user_id, "previous_user_id": previous},
                   org_id=access.org.id)
    return unit

