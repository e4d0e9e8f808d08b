"""Users and their profiles. A phone or e-mail is shown to its owner only."""
from __future__ import annotations

from typing import Callable

from services.common.service import Service
from services.common.clock import isoformat, utcnow
from services.common.db import lock_for_transaction
from services.common.errors import ApiError, NotFound, Unprocessable

from . import erasure, events, organisations
from .models import Session, User, Verification, db


NEW_ACCOUNT = "new"
# Siblings in primary school share a parent's address; more is not a family.
MAX_ACCOUNTS_PER_EMAIL = 10


class TooManyAccounts(ApiError):
    status, code, message = 409, "too_many_accounts", "This address holds as many accounts as it may."


def _register(service: Service, phone: str | None, email: str | None) -> User:
    user = User.create(phone=phone, email=email)
    data = {"user_id": user.id, "display_name": user.display_name}
    if phone:
        # orgstructure grants admin rights and matches invites by phone.
        data["phone"] = phone
    service.outbox.add(events.USER_REGISTERED, data)
    return user


def sign_in_user(service: Service, *, phone: str) -> User:
    """The user behind this phone, created on the first sign-in."""
    with db.atomic():
        user = User.get_or_none(User.phone == phone)
        return user if user is not None else _register(service, phone, None)


def accounts_on(email: str) -> list[User]:
    """The accounts signed in with this address: a parent's, for their
    primary-school children, each child's own."""
    return list(User.select().where(User.email == email).order_by(User.created_at, User.id))


def email_account(service: Service, email: str, choice: str | None, use_code: Callable[[], None]) -> User | dict:
    """The account a sign-in by `email` (whose code was checked) opens: the one
    chosen by its id, a new one (`choice == "new"`: another child), or with no
    choice the address's only account (made on the first sign-in). With
    several accounts and no choice, what to choose from (names only), and the
    code stays good for the choice. The code is used up together with the
    account being made, or not at all."""
    with db.atomic():
        lock_for_transaction(db, f"email-accounts:{email}")
        accounts = accounts_on(email)
        if choice is None and len(accounts) > 1:
            return {"choose_account": True,
                    "accounts": [{"id": user.id, "display_name": user.display_name} for user in accounts]}
        if choice == NEW_ACCOUNT or not accounts:
            if len(accounts) >= MAX_ACCOUNTS_PER_EMAIL:
                raise TooManyAccounts(details={"max_accounts": MAX_ACCOUNTS_PER_EMAIL})
            user = _register(service, None, email)
        elif choice is None:
            user = accounts[0]
        else:
            user = next((account for account in accounts if account.id == choice), None)
            if user is None:
                raise Unprocessable("Some fields are not valid.",
                                    details={"fields": {"account_id": ["Not an account of this address."]}})
        use_code()
    return user


def own_profile(user: User) -> dict:
    return {"id": user.id, "display_name": user.display_name, "phone": user.phone,
            "email": user.email, "teacher_verified": organisations.teacher_verified(user.id),
            "created_at": isoformat(user.created_at)}


def export(user: User) -> dict:
    """What identity holds of the user, for the user (GET /me/export)."""
    sessions = [{"started_at": isoformat(s.created_at), "refreshed_at": isoformat(s.refreshed_at),
                 "user_agent": s.user_agent, "ended_at": isoformat(s.revoked_at), "end_reason": s.revoke_reason}
                for s in Session.select().where(Session.user == user).order_by(Session.created_at)]
    statuses = [{"org_id": v.org_id, "status": v.status, "requested_at": isoformat(v.created_at),
                 "decided_at": isoformat(v.decided_at)}
                for v in Verification.select().where(Verification.user == user).order_by(Verification.created_at)]
    waiting = erasure.pending(user.id)
    return {"profile": own_profile(user), "sessions": sessions, "teacher_status": statuses,
            "children": erasure.children_of(user.id), "erasure": erasure.view(waiting) if waiting else None}


def public_profile(user: User) -> dict:
    return {"id": user.id, "display_name": user.display_name,
            "teacher_verified": organisations.teacher_verified(user.id)}


def get_user(user_id: str) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def visible_profile(viewer_id: str, user_id: str) -> dict:
    """Profiles are visible only to oneself and to users who share an organisation."""
    if User.select().where(User.id == user_id, User.erased_at.is_null(False)).exists():
        raise NotFound("No such user.")  # for good: nothing about them is on its way
    if viewer_id != user_id and not organisations.share_an_organisation(viewer_id, user_id):
        raise NotFound("No such user.", lacking=organisations.shared_membership_lacking(viewer_id, user_id))
    return public_profile(get_user(user_id))


def rename(service: Service, user: User, display_name: str) -> User:
    with db.atomic():
        user.display_name = display_name
        user.updated_at = utcnow()
        user.save()
        service.outbox.add(events.USER_UPDATED, {"user_id": user.id, "display_name": display_name})
    return user
