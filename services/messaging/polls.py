"""Polls in a chat: single or multiple choice, anonymous or not, an optional
closing time; results for the chat's members. A vote can be changed until the
poll closes."""
from __future__ import annotations

from datetime import datetime

from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import isoformat, utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable

from . import chats, directory, events, messages
from .models import Chat, Message, Poll, PollOption, Vote, db


def is_closed(poll: Poll) -> bool:
    return poll.closed_at is not None or (poll.closes_at is not None and poll.closes_at <= utcnow())


def view(poll: Poll, viewer_id: str | None = None) -> dict:
    """Counts for everyone; who voted for what only when the poll is not anonymous."""
    options = list(poll.options.order_by(PollOption.position))
    votes = list(Vote.select(Vote.option, Vote.user_id).where(Vote.poll == poll))
    by_option: dict[str, list[str]] = {option.id: [] for option in options}
    for vote in votes:
        by_option[vote.option_id].append(vote.user_id)
    voters = {vote.user_id for vote in votes}
    people = {} if poll.anonymous else directory.people(poll.chat.org_id, voters)
    message = Message.get_or_none(Message.poll_id == poll.id)
    shown = {
        "id": poll.id, "chat_id": poll.chat_id, "message_id": message.id if message else None,
        "question": poll.question, "multiple": poll.multiple, "anonymous": poll.anonymous,
        "closes_at": isoformat(poll.closes_at), "closed": is_closed(poll), "total_voters": len(voters),
        "created_by": poll.created_by, "created_at": isoformat(poll.created_at),
        "options": [{"id": option.id, "text": option.text, "votes": len(by_option[option.id]),
                     "voters": None if poll.anonymous else [people[uid] for uid in sorted(by_option[option.id])]}
                    for option in options],
    }
    if viewer_id is not None:
        shown["my_option_ids"] = [vote.option_id for vote in votes if vote.user_id == viewer_id]
    return shown


def create(service: Service, user: Principal, chat_id: str, question: str, options: list[str], multiple: bool,
           anonymous: bool, closes_at: datetime | None) -> dict:
    options = [option.strip() for option in options]
    if len(set(options)) != len(options) or not all(options):
        raise Unprocessable("Some fields are not valid.", details={"fields": {"options": ["Options are distinct and not empty."]}})
    if closes_at is not None and closes_at <= utcnow():
        raise Unprocessable("Some fields are not valid.", details={"fields": {"closes_at": ["Must be in the future."]}})
    with db.atomic():
        chat, mine = chats.visible(user.id, chat_id)
        messages.may_post(chat, mine.role, messages.blocked_until(chat.id, user.id))
        poll = Poll.create(chat=chat, created_by=user.id, question=question.strip(), multiple=multiple,
                           anonymous=anonymous, closes_at=closes_at)
        for position, text in enumerate(options):
            PollOption.create(poll=poll, position=position, text=text)
        message = messages.post_poll_message(chat, user.id, poll)
        service.outbox.add(events.MESSAGE_CREATED, {
            "message_id": message.id, "chat_id": chat.id, "org_id": chat.org_id, "author_id": user.id,
            "text": "\n".join([poll.question, *options]), "file_ids": [], "poll_id": poll.id,
            "created_at": isoformat(message.created_at)}, org_id=chat.org_id)
        service.push(chats.member_ids(chat.id), "message.created", messages.view(chat, message))
        return view(poll, user.id)


def _visible(user: Principal, poll_id: str) -> tuple[Poll, Chat]:
    """A poll is seen by the chat's members while its message is there."""
    poll = Poll.get_or_none(Poll.id == poll_id)
    if (poll is None or chats.membership(poll.chat_id, user.id) is None
            or not Message.select().where(Message.poll_id == poll.id, Message.deleted_at.is_null()).exists()):
        raise NotFound("No such poll.")
    return poll, poll.chat


def get(user: Principal, poll_id: str) -> dict:
    poll, _ = _visible(user, poll_id)
    return view(poll, user.id)


def vote(service: Service, user: Principal, poll_id: str, option_ids: list[str]) -> dict:
    with db.atomic():
        poll, chat = _visible(user, poll_id)
        chats.writable(chat)
        messages.refuse_blocked(messages.blocked_until(chat.id, user.id))
        if is_closed(poll):
            raise Conflict("This poll is closed.", code="poll_closed")
        chosen = list(dict.fromkeys(option_ids))
        known = {o.id: o.position for o in PollOption.select(PollOption.id, PollOption.position)
                 .where(PollOption.poll == poll)}
        unknown = [option_id for option_id in chosen if option_id not in known]
        if unknown or not chosen:
            raise Unprocessable("Some fields are not valid.", details={"fields": {"option_ids": ["Choose options of this poll."]}})
        if not poll.multiple and len(chosen) != 1:
            raise Unprocessable("Some fields are not valid.", details={"fields": {"option_ids": ["Choose exactly one option."]}})
        # A person's votes in a poll are changed one at a time, so parallel
        # votes (a phone retrying, a double tap) leave exactly the last one.
        lock_for_transaction(db, f"poll-vote:{poll.id}:{user.id}")
        Vote.delete().where(Vote.poll == poll, Vote.user_id == user.id).execute()
        for option_id in chosen:
            Vote.create(poll=poll, option=option_id, user_id=user.id, slot=known[option_id] if poll.multiple else 0)
        service.push(chats.member_ids(chat.id), "poll.updated", view(poll))
        return view(poll, user.id)


def close(service: Service, user: Principal, poll_id: str) -> dict:
    with db.atomic():
        poll, chat = _visible(user, poll_id)
        mine = chats.membership(chat.id, user.id)
        if poll.created_by != user.id and mine.role != "moderator":
            raise Forbidden("The poll's author or a moderator closes it.")
        if not is_closed(poll):
            poll.closed_at = utcnow()
            poll.save()
            service.push(chats.member_ids(chat.id), "poll.updated", view(poll))
        return view(poll, user.id)
