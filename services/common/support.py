"""Where users turn for help (seed 000 §3.2–3.3, 004 §2.2): the operator's
support contact and the link to the instructions, from the configuration
(`SUPPORT_EMAIL`, `SUPPORT_PHONE`, `SUPPORT_URL`), read once at start-up by
the services that show them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Support:
    email: str = ""
    phone: str = ""
    instructions_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Support":
        url = (env.get("SUPPORT_URL") or "").strip()
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ValueError(f"SUPPORT_URL must be an http(s) address, got {url!r}")
        email = (env.get("SUPPORT_EMAIL") or "").strip()
        if email and ("@" not in email or any(c.isspace() for c in email)):
            raise ValueError(f"SUPPORT_EMAIL must be an e-mail address, got {email!r}")
        return cls(email=email, phone=(env.get("SUPPORT_PHONE") or "").strip(), instructions_url=url)

    @property
    def configured(self) -> bool:
        return bool(self.email or self.phone or self.instructions_url)

    def view(self) -> dict:
        return {"email": self.email or None, "phone": self.phone or None,
                "instructions_url": self.instructions_url or None, "configured": self.configured}
