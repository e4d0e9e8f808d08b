"""Teaching assignments (seed 000 §2.3–2.4, 001 §6.1): an admin attaches the
subject teachers to the classes and groups they teach, with the subject. A
teacher teaches a unit once (a second assignment changes the subject); an
assignment ends when the admin takes it back, when the teacher is
dismissed or no longer holds a teaching role, and when the unit is
archived. Its history stays."""
from __future__ import annotations

from services.common import settling
from services.common.clock import utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.service import Service

from . import events
from .access import TEACHING_ROLES, Access, active_member, roles_of
from .models import Member, TeachingAssignment, Unit, db


def active(unit_id: str, user_id: str) -> TeachingAssignment | None:
    return (TeachingAssignment.select().where(TeachingAssignment.unit == unit_id,
                                              TeachingAssignment.user_id == user_id,
                                              TeachingAssignment.ended_at.is_null()).first())


def view(assignment: TeachingAssignment, member: Member | None) -> dict:
    return {"unit_id": assignment.unit_id, "user_id": assignment.user_id,
            "display_name": member.display_name if member else "", "subject": assignment.subject,
            "teacher_verified": bool(member and member.teacher_verified), "assigned_at": assignment.assigned_at}


def teachers(access: Access, unit_id: str) -> list[dict]:
    """The subject teachers of a class or group, for every member of the school."""
    unit = access.unit(unit_id)
    rows = list(TeachingAssignment.select().where(TeachingAssignment.unit == unit,
                                                  TeachingAssignment.ended_at.is_null())
                .order_by(TeachingAssignment.subject, TeachingAssignment.assigned_at))
    members = {m.user_id: m for m in Member.select().where(
        Member.organisation == access.org, Member.user_id.in_([row.user_id for row in rows]),
        Member.left_at.is_null())} if rows else {}
    return [view(row, members.get(row.user_id)) for row in rows]


def by_teacher(org_id: str) -> dict[str, list[dict]]:
    """Every active assignment of the organisation, by teacher: for member lists."""
    taught: dict[str, list[dict]] = {}
    for row in (TeachingAssignment.select(TeachingAssignment.user_id, TeachingAssignment.unit,
                                          TeachingAssignment.subject)
                .where(TeachingAssignment.organisation == org_id, TeachingAssignment.ended_at.is_null())
                .order_by(TeachingAssignment.assigned_at)):
        taught.setdefault(row.user_id, []).append({"unit_id": row.unit_id, "subject": row.subject})
    return taught


def _data(assignment: TeachingAssignment, **extra) -> dict:
    return {"org_id": assignment.organisation_id, "unit_id": assignment.unit_id, "user_id": assignment.user_id,
            "subject": assignment.subject or None, **extra}


def assign(service: Service, access: Access, unit_id: str, user_id: str, subject: str) -> tuple[dict, bool]:
    """(the assignment, whether it is new). Only a teacher of the school
    (teacher, deputy, director) teaches a class or group that is not archived."""
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        if unit.kind not in ("class", "group") or unit.archived_at is not None:
            raise Conflict("Subject teachers are assigned to active classes and groups.", code="unit_not_editable")
        member = active_member(access.org.id, user_id)
        if not roles_of(member) & TEACHING_ROLES:
            raise Unprocessable("Only a teacher of this organisation teaches a class.", code="not_a_teacher",
                                details={"fields": {"user_id": ["Not a teacher here."]}})
        lock_for_transaction(db, f"teaching:{unit.id}:{user_id}")
        assignment = active(unit.id, user_id)
        created = assignment is None
        if created:
            assignment = TeachingAssignment.create(organisation=access.org, unit=unit, user_id=user_id,
                                                   subject=subject, assigned_by=access.user.id)
        elif assignment.subject != subject:
            assignment.subject = subject
            assignment.save()
        else:
            return view(assignment, member), False
        service.outbox.add(events.UNIT_TEACHER_ASSIGNED, _data(assignment, by=access.user.id), org_id=access.org.id)
        service.announce(settling.teaching(access.org.id, unit.id, user_id))
    return view(assignment, member), created


def end(service: Service, assignment: TeachingAssignment, reason: str, by: str | None = None) -> None:
    assignment.ended_at, assignment.end_reason = utcnow(), reason
    assignment.save()
    service.outbox.add(events.UNIT_TEACHER_UNASSIGNED, _data(assignment, reason=reason, by=by),
                       org_id=assignment.organisation_id)
    service.withdraw(settling.teaching(assignment.organisation_id, assignment.unit_id, assignment.user_id))


def unassign(service: Service, access: Access, unit_id: str, user_id: str) -> None:
    access.require_admin()
    with db.atomic():
        unit = access.unit(unit_id)
        lock_for_transaction(db, f"teaching:{unit.id}:{user_id}")
        assignment = active(unit.id, user_id)
        if assignment is None:
            raise NotFound("This person does not teach this unit.")
        end(service, assignment, "unassigned", by=access.user.id)


def end_for_teacher(service: Service, org_id: str, user_id: str, reason: str) -> None:
    """The teacher left the school or holds no teaching role any more."""
    for assignment in TeachingAssignment.select().where(TeachingAssignment.organisation == org_id,
                                                        TeachingAssignment.user_id == user_id,
                                                        TeachingAssignment.ended_at.is_null()):
        end(service, assignment, reason)


def end_for_unit(service: Service, unit: Unit, reason: str) -> None:
    for assignment in TeachingAssignment.select().where(TeachingAssignment.unit == unit,
                                                        TeachingAssignment.ended_at.is_null()):
        end(service, assignment, reason)
