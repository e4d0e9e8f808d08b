"""Users and their profiles. A phone or e-mail is shown to its owner only."""
from __future__ import annotations

from services.common.bus import Outbox
from services.common.clock import isoformat, utcnow
from services.common.errors import NotFound

from . import events, organisations
from .models import User, db


def sign_in_user(outbox: Outbox, *, phone: str | None = None, email: str | None = None) -> User:
    """The user behind this phone or address, created on the first sign-in."""
    field = User.phone if phone else User.email
    value = phone or email
    with db.atomic():
        user = User.get_or_none(field == value)
        if user is None:
            user = User.create(phone=phone, email=email)
            data = {"user_id": user.id, "display_name": user.display_name}
            if phone:
                # orgstructure grants admin rights and matches invites by phone.
                data["phone"] = phone
            outbox.add(events.USER_REGISTERED, data)
    return user


def own_profile(user: User) -> dict:
    return {"id": user.id, "display_name": user.display_name, "phone": user.phone,
            "email": user.email, "teacher_verified": organisations.teacher_verified(user.id),
            "created_at": isoformat(user.created_at)}


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
    if viewer_id != user_id and not organisations.share_an_organisation(viewer_id, user_id):
        raise NotFound("No such user.")
    return public_profile(get_user(user_id))


def rename(outbox: Outbox, user: User, display_name: str) -> User:
    with db.atomic():
        user.display_name = display_name
        user.updated_at = utcnow()
        user.save()
        outbox.add(events.USER_UPDATED, {"user_id": user.id, "display_name": display_name})
    return user
