"""messaging: chats, membership by consent, messages, files, polls."""
import logging

from services.common.auth import Trust
from services.common.config import Settings
from services.common.filters import Filters
from services.common.web import create_service

from . import official, uploads
from .settings import FileSettings, MessagingConfig
from .storage import open_storage

UPLOADS_EVERY_SECONDS = 60

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, trust: Trust | None = None):
    settings = settings or Settings.from_env("messaging")
    config = FileSettings.from_env(settings.env)
    storage = open_storage(settings.env.get("FILE_STORAGE"), settings.var_dir)
    if config.part_bytes < storage.min_part_bytes:
        raise ValueError(f"UPLOAD_PART_BYTES must be at least {storage.min_part_bytes} with this FILE_STORAGE")
    # A file sent whole in its small multipart envelope checks its own size
    # exactly while it is stored; a part is at most one part's size.
    app = create_service(settings, title="Sferum messaging", trust=trust, config=MessagingConfig.from_env(settings.env, config, storage),
                         upload_limits={"messaging.upload_file": config.file_max_bytes + (64 << 10),
                                        "messaging.put_part": config.part_bytes})
    runtime = app.extensions["sferum"]
    app.extensions["sferum.files"] = storage
    app.extensions["sferum.file_settings"] = config
    app.extensions["sferum.filters"] = Filters.from_env(settings.env)
    runtime.checks["file_storage"] = storage.check

    def unfinished_uploads(stop):
        while not stop.is_set():
            try:
                with runtime.connection():
                    while uploads.drop_expired(storage) and not stop.is_set():
                        pass
            except Exception:
                log.exception("dropping unfinished uploads")
            stop.wait(UPLOADS_EVERY_SECONDS)

    def class_chats(stop):
        """Once per start: classes made before one of the class chats existed get it."""
        with runtime.connection():
            official.ensure_every_class_has_its_chats(runtime.service)
        runtime.relay_what_was_written()

    def describe_school_channels(stop):
        """Once per start: the operator's support contact may have changed."""
        with runtime.connection():
            official.describe_school_channels(runtime.service.config.school_channel_description)

    runtime.background += [unfinished_uploads, class_chats, describe_school_channels]
    return app
