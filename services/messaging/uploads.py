"""Large files (video lessons, up to 2 GB by default) uploaded in parts, one
request each, so that a broken connection costs one part and the upload
resumes where it stopped (`GET /uploads/{id}` says which part comes next).

Parts come in order: every part but the last is `part_size` bytes, and part n
is taken once parts 1..n-1 are there (sending a part again replaces it). The
first part must already look like the file its name says; once all are there
the storage assembles them and the whole file is checked as a file sent in
one piece is (`files.check_stored`), then becomes the same file object. No
part is ever held in memory whole: the storage streams it to disk or S3."""
from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.db import is_postgres
from services.common.errors import ApiError, Conflict, NotFound, Unprocessable

from . import files
from .models import StoredFile, Upload, UploadPart, db
from .settings import FileSettings
from .storage import FileStorage, PartsMissing, WrongSize

# Uploads one person may have open at once: each may hold up to 2 GB of parts.
MAX_OPEN_PER_USER = 8
OPEN = ("open", "assembling")


class TooManyUploads(ApiError):
    status, code = 429, "too_many_uploads"


def _field(name: str, message: str, **details) -> Unprocessable:
    return Unprocessable("Some fields are not valid.", details={"fields": {name: [message]}, **details})


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def part_length(size: int, part_size: int, number: int) -> int:
    """The size of part `number`: `part_size`, but for the last, which holds the rest."""
    return part_size if number < part_count(size, part_size) else size - part_size * (part_count(size, part_size) - 1)


def next_part(received: list[int]) -> int:
    """Parts arrive in order, so those received are 1..k: the next is k + 1."""
    return len(received) + 1


def _received(upload: Upload) -> list[int]:
    return [row.number for row in UploadPart.select(UploadPart.number).where(UploadPart.upload == upload)
            .order_by(UploadPart.number)]


def view(upload: Upload, received: list[int] | None = None) -> dict:
    received = _received(upload) if received is None else received
    count = part_count(upload.size, upload.part_size)
    return {"id": upload.id, "name": upload.name, "size": upload.size, "content_type": upload.content_type,
            "part_size": upload.part_size, "parts": count, "received": received,
            "next_part": next_part(received) if upload.status == "open" and len(received) < count else None,
            "status": upload.status, "created_at": isoformat(upload.created_at),
            "expires_at": isoformat(upload.expires_at),
            "file": file_view(upload.file) if upload.file_id else None}


def file_view(stored: StoredFile) -> dict:
    return {"id": stored.id, "name": stored.name, "size": stored.size, "content_type": stored.content_type,
            "created_at": stored.created_at}


def begin(storage: FileStorage, settings: FileSettings, user: Principal, name: str, size: int) -> Upload:
    """An upload of a file of this name and size, refused at once when the
    name is of no allowed kind or the size over the limit."""
    name = files.clean_name(name)
    kind = files.kind_of(name)
    if size > settings.upload_max_bytes:
        raise files.too_large(settings.upload_max_bytes)
    now = utcnow()
    with db.atomic():
        if Upload.select().where(Upload.uploader_id == user.id, Upload.status.in_(OPEN),
                                 Upload.expires_at > now).count() >= MAX_OPEN_PER_USER:
            raise TooManyUploads(f"At most {MAX_OPEN_PER_USER} uploads may be open at once; finish or cancel "
                                 "one first.", details={"max_open": MAX_OPEN_PER_USER})
        key = files.new_storage_key()
        return Upload.create(uploader_id=user.id, name=name, content_type=kind.content_type, size=size,
                             part_size=settings.part_bytes, storage_key=key, storage_ref=storage.begin_parts(key),
                             created_at=now, expires_at=now + settings.upload_lifetime)


def mine(user: Principal, upload_id: str) -> Upload:
    """Someone else's upload is as unknown as a made-up one."""
    upload = Upload.get_or_none(Upload.id == upload_id, Upload.uploader_id == user.id)
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def _still_open(upload: Upload, now: datetime) -> None:
    if upload.status == "assembling":
        raise Conflict("The file is being assembled; ask again in a moment.", code="upload_assembling")
    if upload.status != "open":
        raise Conflict(f"This upload is {upload.status}.", code="upload_closed", details={"status": upload.status})
    if upload.expires_at <= now:
        raise Conflict("This upload has expired; start again.", code="upload_expired")


def put_part(storage: FileStorage, user: Principal, upload_id: str, number: int, stream: BinaryIO,
             length: int | None) -> dict:
    """Part `number` of the upload, exactly its size, in order."""
    upload = mine(user, upload_id)
    _still_open(upload, utcnow())
    count = part_count(upload.size, upload.part_size)
    if not 1 <= number <= count:
        raise _field("number", f"This upload has parts 1 to {count}.", parts=count)
    expected = part_length(upload.size, upload.part_size, number)
    if length is not None and length != expected:
        raise Unprocessable(f"Part {number} is {expected} bytes.", code="wrong_part_size",
                            details={"expected": expected, "received": length})
    received = _received(upload)
    if number > next_part(received):
        raise Conflict(f"Parts come in order: part {next_part(received)} is next.", code="part_out_of_order",
                       details={"next_part": next_part(received)})
    if number == 1:
        # A program named like a video is refused before the rest of it is sent.
        kind = files.kind_of(upload.name)
        head = files.read_head(stream)
        files.check_head(kind, head)
        stream = files.rejoined(head, stream)
    try:
        storage.put_part(upload.storage_key, upload.storage_ref, number, stream, expected)
    except WrongSize as error:
        raise Unprocessable(f"Part {number} is {expected} bytes.", code="wrong_part_size",
                            details={"expected": expected, "received": error.received}) from None
    with db.atomic():
        upload = Upload.get_by_id(upload.id)
        if upload.status != "open":  # ended while the part was on its way: it is not kept
            if upload.status != "assembling":
                storage.abort_parts(upload.storage_key, upload.storage_ref)
            _still_open(upload, utcnow())
        (UploadPart.insert(upload=upload, number=number, size=expected, received_at=utcnow())
         .on_conflict(conflict_target=[UploadPart.upload, UploadPart.number],
                      update={UploadPart.received_at: utcnow()}).execute())
    return view(upload)


def _claim(upload: Upload, status: str, to: str) -> bool:
    """Moves the upload on, once: two requests at once do not both assemble it."""
    return Upload.update(status=to).where(Upload.id == upload.id, Upload.status == status).execute() == 1


def complete(storage: FileStorage, user: Principal, upload_id: str) -> tuple[StoredFile, bool]:
    """The file, assembled from every part and checked whole; (file, made now).
    Completing it again answers the same file."""
    upload = mine(user, upload_id)
    if upload.status == "complete":
        return upload.file, False
    _still_open(upload, utcnow())
    count = part_count(upload.size, upload.part_size)
    received = _received(upload)
    if len(received) < count:
        raise Conflict("Some parts have not arrived yet.", code="upload_incomplete",
                       details={"next_part": next_part(received), "missing": list(range(len(received) + 1,
                                                                                     count + 1))[:100]})
    if not _claim(upload, "open", "assembling"):
        raise Conflict("The file is being assembled; ask again in a moment.", code="upload_assembling")
    sizes = [part_length(upload.size, upload.part_size, number) for number in range(1, count + 1)]
    try:
        size, sha256 = storage.assemble(upload.storage_key, upload.storage_ref, sizes)
    except PartsMissing as error:
        # The storage lost parts it had taken (cleared behind our back): they are sent again.
        UploadPart.delete().where(UploadPart.upload == upload, UploadPart.number >= min(error.numbers)).execute()
        _claim(upload, "assembling", "open")
        raise Conflict("Some parts must be sent again.", code="upload_incomplete",
                       details={"next_part": min(error.numbers)}) from None
    except BaseException:
        _claim(upload, "assembling", "open")
        raise
    try:
        files.check_stored(storage, upload.storage_key, files.kind_of(upload.name))
    except ApiError:
        storage.delete(upload.storage_key)
        with db.atomic():
            _claim(upload, "assembling", "refused")
            UploadPart.delete().where(UploadPart.upload == upload).execute()
        raise
    with db.atomic():
        stored = StoredFile.create(uploader_id=user.id, name=upload.name, content_type=upload.content_type,
                                   size=size, sha256=sha256, storage_key=upload.storage_key)
        Upload.update(status="complete", file=stored).where(Upload.id == upload.id).execute()
        UploadPart.delete().where(UploadPart.upload == upload).execute()
    return stored, True


def abort(storage: FileStorage, user: Principal, upload_id: str) -> None:
    upload = mine(user, upload_id)
    if upload.status == "complete":
        raise Conflict("This upload is a file already; it is deleted with the messages that carry it.",
                       code="upload_closed", details={"status": upload.status})
    if upload.status == "assembling":
        raise Conflict("The file is being assembled; ask again in a moment.", code="upload_assembling")
    drop(storage, upload)


def drop(storage: FileStorage, upload: Upload) -> None:
    """The parts stored so far are deleted, and the upload ends."""
    storage.abort_parts(upload.storage_key, upload.storage_ref)
    with db.atomic():
        if upload.status in OPEN:
            Upload.update(status="aborted").where(Upload.id == upload.id).execute()
        UploadPart.delete().where(UploadPart.upload == upload).execute()


def drop_expired(storage: FileStorage, now: datetime | None = None, limit: int = 50) -> int:
    """Uploads left unfinished past their lifetime give their space back.
    Several replicas may run this: on PostgreSQL each claims its own."""
    with db.atomic():
        query = (Upload.select().where(Upload.status.in_(OPEN), Upload.expires_at <= (now or utcnow()))
                 .order_by(Upload.expires_at).limit(limit))
        if is_postgres(db):
            query = query.for_update(skip_locked=True)
        due = list(query)
        for upload in due:
            drop(storage, upload)
    return len(due)
