"""Personal data (152-FZ): a person, or a parent for their child, asks for
the person's data to be erased. The request waits a grace period
(ERASURE_GRACE_SECONDS, a week by default), during which the person or a
parent may cancel it; then identity erases what it holds and publishes
`identity.user.erased`, on which every service removes or anonymises the
person's data in its own database.

What identity keeps of an erased person is their id, which no phone, e-mail
or name points to any more: their sessions, revoked at that moment, refer to
it until their tokens have expired everywhere."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from services.common import settling
from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.db import is_postgres, lock_for_transaction
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.service import Service

from . import events, organisations
from .models import (DevMessage, ErasureRequest, LoginCode, Notification, OrgMembership, ParentLink, RefreshToken,
                     Session, User, Verification, db)
from .sessions import Tokens

log = logging.getLogger(__name__)

ERASE_BATCH = 20


# Rules: plain functions of what they are given.

def may_request(requester_id: str, person_id: str, parent_ids: set[str]) -> bool:
    """The person themselves, or one of their parents."""
    return requester_id == person_id or requester_id in parent_ids


def sole_admin_of(user_id: str, admins_by_org: dict[str, set[str]]) -> list[str]:
    """The organisations that would be left with no administrator."""
    return sorted(org_id for org_id, admins in admins_by_org.items() if admins == {user_id})


# Who is whose parent (orgstructure's events).

def link_parent(org_id: str, parent_id: str, child_id: str) -> None:
    ParentLink.insert(org_id=org_id, parent_id=parent_id, child_id=child_id).on_conflict_ignore().execute()


def unlink_parent(org_id: str, parent_id: str | None, child_id: str) -> None:
    query = ParentLink.delete().where(ParentLink.org_id == org_id, ParentLink.child_id == child_id)
    if parent_id is not None:
        query = query.where(ParentLink.parent_id == parent_id)
    query.execute()


def parents_of(user_id: str) -> set[str]:
    return {link.parent_id for link in ParentLink.select(ParentLink.parent_id).where(ParentLink.child_id == user_id)}


def children_of(user_id: str) -> list[str]:
    return sorted({link.child_id for link in ParentLink.select(ParentLink.child_id)
                   .where(ParentLink.parent_id == user_id)})


# Requests.

def _person(principal: Principal, person_id: str) -> User:
    """The person whose erasure the caller may ask for or cancel: themselves or
    their child. Someone the caller shares a school with is refused (403);
    anyone else is as unknown as a made-up id (404)."""
    if not may_request(principal.id, person_id, parents_of(person_id)):
        shared = organisations.shared_organisations(principal.id, person_id)
        if shared:
            # Becoming their parent (a child linked a moment ago) may be on its way.
            raise Forbidden("Only the person or their parent asks for the erasure of their data.",
                            code="not_a_parent", lacking=[settling.standing(org_id, principal.id) for org_id in shared])
        raise NotFound("No such user.", lacking=organisations.shared_membership_lacking(principal.id, person_id))
    person = User.get_or_none(User.id == person_id, User.erased_at.is_null())
    if person is None:
        raise NotFound("No such user.")
    return person


def _admins_by_org(user_id: str) -> dict[str, set[str]]:
    """The administrators of each organisation the user administers."""
    orgs = [m.org_id for m in OrgMembership.select().where(OrgMembership.user_id == user_id,
                                                           OrgMembership.active == True)  # noqa: E712
            if "admin" in m.role_set]
    admins: dict[str, set[str]] = {org_id: set() for org_id in orgs}
    for member in OrgMembership.select().where(OrgMembership.org_id.in_(orgs), OrgMembership.active == True):  # noqa: E712
        if "admin" in member.role_set:
            admins[member.org_id].add(member.user_id)
    return admins


def pending(user_id: str) -> ErasureRequest | None:
    return ErasureRequest.get_or_none(ErasureRequest.user_id == user_id, ErasureRequest.status == "pending")


def request(service: Service, grace_seconds: int, principal: Principal, person_id: str) -> ErasureRequest:
    """The person's data will be erased after the grace period; asking again
    while a request waits answers that request."""
    with db.atomic():
        lock_for_transaction(db, f"erasure:{person_id}")
        person = _person(principal, person_id)
        waiting = pending(person.id)
        if waiting is not None:
            return waiting
        sole = sole_admin_of(person.id, _admins_by_org(person.id))
        if sole:
            raise Conflict("You are the only administrator of your school: appoint another administrator first, "
                           "so that the school is never left without one.", code="sole_admin",
                           details={"org_ids": sole})
        now = utcnow()
        made = ErasureRequest.create(user_id=person.id, requested_by=principal.id, requested_at=now,
                                     erase_at=now + timedelta(seconds=grace_seconds))
        service.outbox.add(events.ERASURE_REQUESTED, {"user_id": person.id, "erase_at": isoformat(made.erase_at),
                                                      "requested_by": principal.id})
    return made


def waiting_for(principal: Principal, person_id: str) -> ErasureRequest:
    person = _person(principal, person_id)
    waiting = pending(person.id)
    if waiting is None:
        raise NotFound("No erasure of this person's data is waiting.", code="no_erasure_pending")
    return waiting


def cancel(service: Service, principal: Principal, person_id: str) -> None:
    """The person, or a parent, changed their mind within the grace period."""
    with db.atomic():
        lock_for_transaction(db, f"erasure:{person_id}")
        waiting = waiting_for(principal, person_id)
        if waiting.erase_at <= utcnow():
            raise Conflict("The erasure is being carried out; it can no longer be cancelled.",
                           code="erasure_under_way")
        cancelled = (ErasureRequest.update(status="cancelled", decided_by=principal.id, decided_at=utcnow())
                     .where(ErasureRequest.id == waiting.id, ErasureRequest.status == "pending").execute())
        if cancelled:
            service.outbox.add(events.ERASURE_CANCELLED, {"user_id": waiting.user_id, "cancelled_by": principal.id})


def view(made: ErasureRequest) -> dict:
    return {"user_id": made.user_id, "status": made.status, "requested_by": made.requested_by,
            "requested_at": isoformat(made.requested_at), "erase_at": isoformat(made.erase_at)}


# Carrying it out.

def erase(service: Service, tokens: Tokens, made: ErasureRequest) -> None:
    """What identity holds of the person goes: their phone, e-mail and name,
    sign-in codes sent to them, sessions (revoked everywhere at once), teacher
    status, memberships and family links, remembered answers."""
    now = utcnow()
    user = User.get_or_none(User.id == made.user_id)
    if user is not None:
        for session in Session.select().where(Session.user == user, Session.revoked_at.is_null()):
            tokens.revoke(service, session, "erased")
        sessions = Session.select(Session.id).where(Session.user == user)
        RefreshToken.delete().where(RefreshToken.session.in_(sessions)).execute()
        Session.update(user_agent="").where(Session.user == user).execute()
        destinations = [value for value in (user.phone, user.email) if value]
        if destinations:
            LoginCode.delete().where(LoginCode.destination.in_(destinations)).execute()
            DevMessage.delete().where(DevMessage.to.in_(destinations)).execute()
        # Notices sent to them (invites, applications' decisions); a parent's
        # address that still signs in their other children keeps its own.
        shared = bool(user.email) and User.select().where(User.email == user.email, User.id != user.id).exists()
        theirs = [value for value in (user.phone, None if shared else user.email) if value]
        if theirs:
            Notification.delete().where(Notification.to.in_(theirs)).execute()
        Verification.delete().where(Verification.user == user).execute()
        (User.update(phone=None, email=None, display_name="", erased_at=now, updated_at=now)
         .where(User.id == user.id).execute())
    orgs = [m.org_id for m in OrgMembership.select(OrgMembership.org_id).where(OrgMembership.user_id == made.user_id)]
    # Nothing about them is on its way any more: the gateways stop waiting for it.
    service.withdraw(*(key(org_id, made.user_id) for org_id in orgs for key in (settling.member, settling.standing)))
    OrgMembership.delete().where(OrgMembership.user_id == made.user_id).execute()
    ParentLink.delete().where((ParentLink.parent_id == made.user_id) | (ParentLink.child_id == made.user_id)).execute()
    kit = service.outbox.kit
    kit.IdempotentRequest.delete().where(kit.IdempotentRequest.user_id == made.user_id).execute()
    ErasureRequest.update(status="erased", decided_at=now).where(ErasureRequest.id == made.id).execute()
    service.outbox.add(events.USER_ERASED, {"user_id": made.user_id, "requested_by": made.requested_by,
                                            "erased_at": isoformat(now)})
    log.info("erased the data of a user", extra={"erasure_id": made.id})


def erase_due(service: Service, tokens: Tokens, now: datetime | None = None, limit: int = ERASE_BATCH) -> int:
    """The requests whose grace period is over are carried out, each once:
    on PostgreSQL several replicas claim theirs with FOR UPDATE SKIP LOCKED."""
    with service.realtime.deferred(), db.atomic():
        query = (ErasureRequest.select().where(ErasureRequest.status == "pending",
                                               ErasureRequest.erase_at <= (now or utcnow()))
                 .order_by(ErasureRequest.erase_at).limit(limit))
        if is_postgres(db):
            query = query.for_update(skip_locked=True)
        due = list(query)
        for made in due:
            erase(service, tokens, made)
    return len(due)


def run(service: Service, tokens: Tokens, stop: threading.Event, after_commit: Callable[[], None],
        poll_seconds: float = 1.0) -> None:
    """The job: every second, the erasures that are due are carried out."""
    while not stop.is_set():
        try:
            with db.connection_context():
                while erase_due(service, tokens) and not stop.is_set():
                    after_commit()
        except Exception:
            log.exception("carrying out due erasures")
        stop.wait(poll_seconds)
