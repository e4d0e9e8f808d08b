"""Large files on PostgreSQL: an upload completed several times at the same
moment (a client retrying while its first request still runs) is assembled
once and becomes one file."""
import io
import threading

import pytest
from support.races import at_once

from devkit.helpers import wait_for
from services.common.auth import Principal

pytestmark = pytest.mark.integration

PART = 4096
LESSON = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 64)[:3 * PART - 100]


def waiting_for_locks(runtime) -> int:
    """Backends of the service's database waiting for a lock another holds."""
    with runtime.db.connection_context():
        return runtime.db.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()").fetchone()[0]


def test_an_upload_completed_three_times_at_once_becomes_one_file(service_on_postgres):
    from services.common.errors import Conflict
    from services.messaging import uploads
    from services.messaging.models import StoredFile, Upload

    runtime = service_on_postgres("messaging", UPLOAD_PART_BYTES=str(PART))
    storage = runtime.app.extensions["sferum.files"]
    settings = runtime.app.extensions["sferum.file_settings"]
    teacher = Principal(id="teacher", session_id=None)
    with runtime.connection():
        upload = uploads.begin(storage, settings, teacher, "урок.mp4", len(LESSON))
        for number in (1, 2, 3):
            piece = LESSON[(number - 1) * PART:number * PART]
            uploads.put_part(storage, teacher, upload.id, number, io.BytesIO(piece), len(piece))

    def complete():
        with runtime.connection():
            try:
                stored, made = uploads.complete(storage, teacher, upload.id)
                return "made" if made else "same", stored.id
            except Conflict as refused:
                return refused.code, None

    # The upload's row is held locked while the three requests run: each reads
    # it open, and each then waits to claim it, until the lock goes.
    held, release = threading.Event(), threading.Event()

    def hold():
        with runtime.connection(), runtime.db.atomic():
            Upload.select().where(Upload.id == upload.id).for_update().get()
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    answers = []
    racing = threading.Thread(target=lambda: answers.extend(at_once([complete, complete, complete])))
    racing.start()
    wait_for(lambda: waiting_for_locks(runtime) == 3, message="the three requests waiting to claim the upload")
    release.set()
    holder.join(30)
    racing.join(60)
    assert sorted(answer for answer, _ in answers) == ["made", "upload_assembling", "upload_assembling"], answers
    with runtime.connection():
        stored = StoredFile.get()
        assert StoredFile.select().count() == 1 and Upload.get_by_id(upload.id).status == "complete"
        assert b"".join(storage.iter_chunks(stored.storage_key)) == LESSON
