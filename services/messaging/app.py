"""messaging: chats, membership by consent, messages, files, polls."""
from services.common.auth import KeySet
from services.common.config import Settings
from services.common.web import create_service

from . import push
from .storage import open_storage

DEFAULT_FILE_MAX_BYTES = 25 << 20


def create_app(settings: Settings | None = None, keys: KeySet | None = None):
    settings = settings or Settings.from_env("messaging")
    max_bytes = int(settings.env.get("FILE_MAX_BYTES") or DEFAULT_FILE_MAX_BYTES)
    # The multipart envelope around a file is small; the file itself is checked exactly while stored.
    app = create_service(settings, title="Sferum messaging", keys=keys, max_content_length=max_bytes + (64 << 10))
    runtime = app.extensions["sferum"]
    storage = open_storage(settings.env.get("FILE_STORAGE"), settings.var_dir)
    app.config["FILE_MAX_BYTES"] = max_bytes
    app.extensions["sferum.files"] = storage
    runtime.checks["file_storage"] = storage.check
    push.use(runtime.realtime)
    return app
