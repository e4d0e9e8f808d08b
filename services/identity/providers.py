"""How sign-in codes reach people: SMS and e-mail providers."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import requests

from services.common.errors import ApiError

from .config import IdentityConfig
from .models import DevMessage

log = logging.getLogger(__name__)


class DeliveryFailed(ApiError):
    status, code, message = 503, "delivery_failed", "The code could not be sent; try again shortly."


CODE_SUBJECT = "Код для входа в Сферум"


def sms_text(code: str) -> str:
    return f"Код для входа в Сферум: {code}. Никому его не сообщайте."


def code_mail_text(code: str) -> str:
    return sms_text(code) + "\n\nЕсли вы не запрашивали код, просто удалите это письмо."


class ConsoleProvider:
    """Development only: what is sent goes to the log and to /dev/outbox."""

    def __init__(self, channel: str):
        self.channel = channel

    def send(self, to: str, code: str) -> None:
        log.warning("DEV %s to %s: code %s", self.channel, to, code)
        DevMessage.create(channel=self.channel, to=to, code=code)

    def deliver(self, to: str, text: str, subject: str = "") -> None:
        log.warning("DEV %s to %s: %s", self.channel, to, subject or text[:60])
        DevMessage.create(channel=self.channel, to=to, code="", text=text)


class HttpSmsGateway:
    """POSTs `{"to", "text"}` as JSON to the operator's SMS gateway."""

    def __init__(self, url: str, token: str = "", timeout: float = 5.0):
        if not url:
            raise RuntimeError("SMS_PROVIDER=http needs SMS_GATEWAY_URL")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, to: str, code: str) -> None:
        self.deliver(to, sms_text(code))

    def deliver(self, to: str, text: str, subject: str = "") -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.post(self.url, json={"to": to, "text": text},
                                     headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            log.error("SMS gateway unreachable: %s", error)
            raise DeliveryFailed() from None
        if response.status_code >= 300:
            log.error("SMS gateway answered %s", response.status_code)
            raise DeliveryFailed()


class SmtpMail:
    def __init__(self, config: IdentityConfig, timeout: float = 10.0):
        self.config, self.timeout = config, timeout

    def send(self, to: str, code: str) -> None:
        self.deliver(to, code_mail_text(code), CODE_SUBJECT)

    def deliver(self, to: str, text: str, subject: str = "") -> None:
        message = EmailMessage()
        message["From"] = self.config.smtp_from
        message["To"] = to
        message["Subject"] = subject or "Сферум"
        message.set_content(text)
        try:
            with smtplib.SMTP(self.config.smtp_host, self.config.smtp_port, timeout=self.timeout) as smtp:
                if self.config.smtp_starttls:
                    smtp.starttls()
                if self.config.smtp_user:
                    smtp.login(self.config.smtp_user, self.config.smtp_password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            log.error("SMTP delivery failed: %s", error)
            raise DeliveryFailed() from None


def make_providers(config: IdentityConfig) -> dict:
    sms = {"console": lambda: ConsoleProvider("sms"),
           "http": lambda: HttpSmsGateway(config.sms_gateway_url, config.sms_gateway_token)}
    mail = {"console": lambda: ConsoleProvider("email"), "smtp": lambda: SmtpMail(config)}
    if config.sms_provider not in sms or config.mail_provider not in mail:
        raise RuntimeError(f"unknown SMS_PROVIDER {config.sms_provider!r} or "
                           f"MAIL_PROVIDER {config.mail_provider!r}")
    return {"sms": sms[config.sms_provider](), "email": mail[config.mail_provider]()}
