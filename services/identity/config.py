"""identity's own settings, read from the environment next to the common ones."""
from __future__ import annotations

from dataclasses import dataclass

from services.common.config import Settings
from services.common.phones import normalise_phone


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class IdentityConfig:
    access_ttl: int
    refresh_ttl_days: int
    code_lifetime: int
    code_max_failures: int
    resend_cooldown: int
    codes_per_destination_per_hour: int
    codes_per_ip_per_hour: int
    default_region: str
    operator_phones: frozenset[str]
    sms_provider: str
    sms_gateway_url: str
    sms_gateway_token: str
    mail_provider: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_from: str
    smtp_starttls: bool
    # How long an erasure request waits before it is carried out: time to change one's mind.
    erasure_grace_seconds: int = 7 * 86400

    @classmethod
    def from_settings(cls, settings: Settings) -> "IdentityConfig":
        env = settings.env
        region = env.get("PHONE_DEFAULT_REGION", "RU")
        config = cls(
            access_ttl=_int(env, "ACCESS_TOKEN_TTL", 900),
            refresh_ttl_days=_int(env, "REFRESH_TOKEN_TTL_DAYS", 30),
            code_lifetime=_int(env, "OTP_LIFETIME", 300),
            code_max_failures=_int(env, "OTP_MAX_ATTEMPTS", 5),
            resend_cooldown=_int(env, "OTP_RESEND_COOLDOWN", 60),
            codes_per_destination_per_hour=_int(env, "OTP_PER_DESTINATION_PER_HOUR", 5),
            codes_per_ip_per_hour=_int(env, "OTP_PER_IP_PER_HOUR", 30),
            default_region=region,
            operator_phones=frozenset(normalise_phone(p, region) for p in settings.operator_phones),
            sms_provider=env.get("SMS_PROVIDER", "console"),
            sms_gateway_url=env.get("SMS_GATEWAY_URL", ""),
            sms_gateway_token=env.get("SMS_GATEWAY_TOKEN", ""),
            mail_provider=env.get("MAIL_PROVIDER", "console"),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=_int(env, "SMTP_PORT", 25),
            smtp_user=env.get("SMTP_USER", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            smtp_from=env.get("SMTP_FROM", "no-reply@sferum.local"),
            smtp_starttls=env.get("SMTP_STARTTLS", "0") in ("1", "true", "yes"),
            erasure_grace_seconds=_int(env, "ERASURE_GRACE_SECONDS", 7 * 86400),
        )
        if config.erasure_grace_seconds < 0:
            raise ValueError("ERASURE_GRACE_SECONDS must not be negative")
        if not settings.dev and "console" in (config.sms_provider, config.mail_provider):
            raise RuntimeError("console SMS/mail providers are for SFERUM_DEV=1 only; "
                               "set SMS_PROVIDER=http and MAIL_PROVIDER=smtp")
        return config

