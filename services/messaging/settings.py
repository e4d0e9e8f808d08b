"""messaging's own settings, read from the environment once at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

from services.common.config import positive_int
from services.common.support import Support

from . import texts
from .storage import FileStorage

DEFAULT_FILE_MAX_BYTES = 25 << 20
# Video lessons: a file in parts may be this large.
DEFAULT_UPLOAD_MAX_BYTES = 2 << 30
# Small enough for a retry on a poor connection to cost little, large enough
# for S3, which takes no part under 5 MiB but the last.
DEFAULT_UPLOAD_PART_BYTES = 8 << 20
DEFAULT_UPLOAD_LIFETIME_SECONDS = 86400


@dataclass(frozen=True)
class FileSettings:
    file_max_bytes: int  # a file sent whole (POST /files)
    upload_max_bytes: int  # a file sent in parts (POST /uploads)
    part_bytes: int  # every part but the last
    upload_lifetime: timedelta  # an unfinished upload is dropped after this

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FileSettings":
        return cls(file_max_bytes=positive_int(env, "FILE_MAX_BYTES", DEFAULT_FILE_MAX_BYTES),
                   upload_max_bytes=positive_int(env, "UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES),
                   part_bytes=positive_int(env, "UPLOAD_PART_BYTES", DEFAULT_UPLOAD_PART_BYTES),
                   upload_lifetime=timedelta(seconds=positive_int(env, "UPLOAD_LIFETIME_SECONDS",
                                                                  DEFAULT_UPLOAD_LIFETIME_SECONDS)))

    @property
    def largest_body(self) -> int:
        """The largest request body messaging takes: a file sent whole in its
        multipart envelope (small), or one part."""
        return max(self.file_max_bytes + (64 << 10), self.part_bytes)


@dataclass(frozen=True)
class MessagingConfig:
    """What messaging's event handlers and jobs are handed (`Service.config`)."""
    files: FileSettings
    storage: FileStorage
    # What every school's announcements channel says about support (000 §3.2–3.3, 004 §2.2).
    school_channel_description: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str], files: FileSettings, storage: FileStorage) -> "MessagingConfig":
        return cls(files, storage, texts.school_channel_description(Support.from_env(env)))
