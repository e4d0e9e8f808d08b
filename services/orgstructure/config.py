"""orgstructure's own settings, read from the environment once at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from services.common.config import positive_int
from services.common.support import Support

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class OrgstructureConfig:
    # Where the links the platform sends (invites) open.
    public_url: str
    support: Support
    # How often the job looks for a finished week whose digest is due.
    digest_poll_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OrgstructureConfig":
        return cls(public_url=(env.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
                   support=Support.from_env(env),
                   digest_poll_seconds=positive_int(env, "STATS_DIGEST_POLL_SECONDS", 600))

    def link(self, path: str) -> str:
        return f"{self.public_url}/{path.lstrip('/')}"
