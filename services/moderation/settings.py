"""moderation's own settings, read from the environment once at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from services.common.config import positive_int
from services.common.filters import Filters

DEFAULT_OBJECTION_WINDOW_SECONDS = 86400
DEFAULT_MESSAGE_TEXT_DAYS = 30


@dataclass(frozen=True)
class ModerationSettings:
    # 2.7: how long the members of a chat may object to an early unblock.
    objection_window_seconds: int
    # Messages' texts are kept for the filters and as evidence for reports this long.
    message_text_days: int
    filters: Filters

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ModerationSettings":
        return cls(objection_window_seconds=positive_int(env, "MODERATION_OBJECTION_WINDOW_SECONDS",
                                                      DEFAULT_OBJECTION_WINDOW_SECONDS),
                   message_text_days=positive_int(env, "MODERATION_MESSAGE_TEXT_DAYS", DEFAULT_MESSAGE_TEXT_DAYS),
                   filters=Filters.from_env(env))

