"""Configuration from the environment (12-factor) with the embedded defaults of
architecture.md. Every service reads the same common settings; service-specific
ones are read by the service from `Settings.env`."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

SERVICES = ("identity", "orgstructure", "messaging", "calls", "moderation")

# Local ports of the distributed mode; Kubernetes sets the URLs explicitly.
DEFAULT_PORTS = {"gateway": 8080, "identity": 8101, "orgstructure": 8102,
                 "messaging": 8103, "calls": 8104, "moderation": 8105}


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A service's own setting that must be a whole number above zero."""
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {env.get(name)!r}")
    return value


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    service: str
    var_dir: Path
    database_url: str
    amqp_url: str
    dev: bool
    secret_key: str
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str
    operator_phones: tuple[str, ...]
    operator_regions: tuple[str, ...]
    event_prefetch: int
    event_max_attempts: int
    event_retry_delay_ms: int
    event_delivery_limit: int
    outbox_poll_ms: int
    run_workers: bool
    log_level: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("SFERUM_VAR_DIR", "var")).resolve()
        dev = _flag(env.get("SFERUM_DEV"))
        settings = cls(
            service=service,
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / (service + '.db')}",
            amqp_url=env.get("AMQP_URL") or "memory://",
            dev=dev,
            secret_key=env.get("SECRET_KEY") or (_dev_secret(var_dir) if dev else ""),
            jwt_issuer=env.get("JWT_ISSUER", "sferum-identity"),
            jwt_audience=env.get("JWT_AUDIENCE", "sferum"),
            jwks_url=env.get("JWKS_URL")
            or f"http://127.0.0.1:{DEFAULT_PORTS['identity']}/api/v1/.well-known/jwks.json",
            operator_phones=_csv(env.get("OPERATOR_PHONES")),
            operator_regions=_csv(env.get("OPERATOR_REGIONS")),
            event_prefetch=_int(env, "EVENT_PREFETCH", 32),
            event_max_attempts=_int(env, "EVENT_MAX_ATTEMPTS", 5),
            event_retry_delay_ms=_int(env, "EVENT_RETRY_DELAY_MS", 2000),
            event_delivery_limit=_int(env, "EVENT_DELIVERY_LIMIT", 20),
            outbox_poll_ms=_int(env, "OUTBOX_POLL_MS", 200),
            run_workers=_flag(env.get("RUN_WORKERS", "1")),
            log_level=env.get("LOG_LEVEL", "INFO"),
            env=env,
        )
        return replace(settings, **overrides) if overrides else settings

    def with_overrides(self, **overrides) -> "Settings":
        return replace(self, **overrides)


def require_secret_key(settings: "Settings") -> str:
    """For the services that sign or hash with it (identity); the others need none."""
    if not settings.secret_key:
        raise RuntimeError(f"{settings.service}: SECRET_KEY is not set (only SFERUM_DEV=1 may run without it)")
    return settings.secret_key


def _dev_secret(var_dir: Path) -> str:
    """Production must set SECRET_KEY; a developer's machine keeps a generated one
    so that sessions and codes survive restarts of `make run`."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
