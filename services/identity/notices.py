"""What the platform tells people by SMS and e-mail besides sign-in codes:
the decision on an organisation's application, to whoever filed it and to
the admin it names, and invites that an admin or a class head asked the
platform to send. Each notice is queued in the transaction of the event that
asked for it and sent by a job, which tries again with growing pauses until
the provider takes it (a provider's outage loses nothing); a notice that
still fails after a day's tries is given up and logged."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from services.common.clock import parse_iso, utcnow

from .models import Notification, User

log = logging.getLogger(__name__)

BATCH = 20
MAX_ATTEMPTS = 12
CLAIM = timedelta(minutes=2)  # another replica leaves a notice alone this long while one sends it
ROLE_NAMES = {"director": "директор", "deputy": "заместитель директора", "teacher": "учитель",
              "student": "ученик", "parent": "родитель"}


def backoff(attempts: int) -> timedelta:
    """The pause before the next try: 30 s, doubling, at most 4 hours."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 4 * 3600))


def queue(channel: str, to: str, text: str, kind: str, subject: str = "") -> None:
    Notification.create(channel=channel, to=to, text=text, kind=kind, subject=subject)


def application_decided(data: dict, approved: bool) -> None:
    """The applicant, and the admin the application names, learn the decision
    (by SMS to each phone, and by e-mail to each address, once)."""
    org = data.get("org_name") or ""
    if approved:
        subject = f"Заявка «{org}» одобрена"
        text = (f"Сферум: заявка на подключение организации «{org}» одобрена. Администратор входит на "
                f"платформу по номеру телефона {data.get('admin_phone') or ''}, указанному в заявке.")
    else:
        subject = f"Заявка «{org}» отклонена"
        text = f"Сферум: заявка на подключение организации «{org}» отклонена. Причина: {data.get('reason') or '—'}"
    applicant = User.get_or_none(User.id == data.get("applicant_id"))
    phones = [applicant.phone if applicant else None, data.get("admin_phone")]
    emails = [applicant.email if applicant else None, data.get("admin_email")]
    kind = "application_approved" if approved else "application_rejected"
    for phone in dict.fromkeys(filter(None, phones)):
        queue("sms", phone, text, kind)
    for email in dict.fromkeys(filter(None, emails)):
        queue("email", email, text, kind, subject)


def invite_text(data: dict) -> str:
    role = ROLE_NAMES.get(data.get("role"), data.get("role") or "")
    where = f", {data['unit_name']}" if data.get("unit_name") else ""
    until = parse_iso(data["expires_at"]).strftime("%d.%m.%Y") if data.get("expires_at") else ""
    return (f"Сферум: вас приглашают в «{data.get('org_name') or ''}» ({role}{where}). "
            f"Ссылка для вступления: {data['url']}" + (f" (действует до {until})." if until else "."))


def invite(data: dict) -> None:
    queue(data["channel"], data["to"], invite_text(data), "invite",
          f"Приглашение в «{data.get('org_name') or ''}»" if data["channel"] == "email" else "")


def _claim(notice: Notification, now: datetime) -> bool:
    return bool(Notification.update(due_at=now + CLAIM)
                .where(Notification.id == notice.id, Notification.due_at == notice.due_at,
                       Notification.sent_at.is_null(), Notification.failed_at.is_null()).execute())


def deliver_due(providers: dict, now: datetime | None = None, limit: int = BATCH) -> int:
    """Send what is due now; the number sent."""
    now = now or utcnow()
    sent = 0
    due = list(Notification.select().where(Notification.sent_at.is_null(), Notification.failed_at.is_null(),
                                           Notification.due_at <= now).order_by(Notification.due_at).limit(limit))
    for notice in due:
        if not _claim(notice, now):
            continue
        try:
            providers[notice.channel].deliver(notice.to, notice.text, notice.subject)
        except Exception as error:
            attempts = notice.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                log.error("giving up the %s %s to %s after %s tries: %s", notice.kind, notice.channel,
                          notice.id, attempts, error)
                Notification.update(attempts=attempts, failed_at=utcnow(), text="").where(
                    Notification.id == notice.id).execute()
            else:
                Notification.update(attempts=attempts, due_at=utcnow() + backoff(attempts)).where(
                    Notification.id == notice.id).execute()
            continue
        Notification.update(sent_at=utcnow(), attempts=notice.attempts + 1, text="").where(
            Notification.id == notice.id).execute()
        sent += 1
    return sent


def run(runtime, providers: dict, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """The job: every second, what is due goes out."""
    while not stop.is_set():
        try:
            with runtime.connection():
                while deliver_due(providers) and not stop.is_set():
                    pass
        except Exception:
            log.exception("sending notices")
        stop.wait(poll_seconds)
