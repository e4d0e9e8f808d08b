"""Where uploaded file bytes live, chosen by FILE_STORAGE: a local directory
(./var/files by default) or an S3-compatible bucket in production.

Metadata (names, owners, chats) stays in the database; this module only
stores opaque bytes under keys the caller generates. Uploads are streamed in
chunks so that a large or hostile upload never sits in memory whole, and an
upload over the limit leaves nothing behind.

A large file (a video lesson) arrives in parts, each in a request of its own,
and is assembled once all are there: in a directory of parts that is then
copied into one file, or as an S3 multipart upload. A part of the wrong size
stores nothing; a file is under its key only once assembled."""
import hashlib
import io
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody

CHUNK_SIZE = 64 * 1024
SPOOL_MAX_MEMORY = 8 * 1024 * 1024
# A part on its way to S3 waits in a temporary file beyond this much memory.
PART_SPOOL_MAX_MEMORY = 1024 * 1024
ASSEMBLY_CHUNK_SIZE = 1024 * 1024
# S3 refuses parts smaller than this, but for the last one.
S3_MIN_PART_BYTES = 5 * 1024 * 1024
KEY_PATTERN = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_OPTIONS = frozenset({"endpoint_url", "region", "prefix"})


class TooLarge(Exception):
    """More than max_bytes arrived; nothing was stored."""

    def __init__(self, max_bytes: int):
        super().__init__(f"the upload is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class NotFound(LookupError):
    """No bytes are stored under this key."""

    def __init__(self, key: str):
        super().__init__(f"no stored file under key {key!r}")
        self.key = key


class StorageUnavailable(Exception):
    """The storage cannot be used (raised by check() for the readiness probe)."""


class WrongSize(Exception):
    """A part brought another number of bytes than it was announced with; nothing was stored."""

    def __init__(self, expected: int, received: int):
        super().__init__(f"expected {expected} bytes, received {received}")
        self.expected, self.received = expected, received


class PartsMissing(Exception):
    """Assembly found parts absent, or of another size than expected."""

    def __init__(self, numbers: list[int]):
        super().__init__(f"parts missing or of the wrong size: {numbers}")
        self.numbers = numbers


def validate_key(key: str) -> str:
    """Keys become file paths and object names: only the exact generated shape
    ("ab/" + 32 hex digits) is accepted, so no key can escape the storage root."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"invalid storage key {key!r}: expected two hex digits, '/', 32 hex digits")
    return key


def copy_limited(stream: BinaryIO, write: Callable[[bytes], object], max_bytes: int) -> tuple[int, str]:
    """Copy stream to write chunk by chunk, hashing as it goes; stop with TooLarge
    as soon as more than max_bytes have arrived rather than reading the rest."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(max_bytes)
        digest.update(chunk)
        write(chunk)
    return size, digest.hexdigest()


def copy_exactly(stream: BinaryIO, write: Callable[[bytes], object], size: int) -> None:
    """Copy exactly `size` bytes; WrongSize when the stream ends before, or
    holds more (found by reading one byte past the end, never the rest)."""
    left = size
    while left:
        chunk = stream.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise WrongSize(size, size - left)
        write(chunk)
        left -= len(chunk)
    if stream.read(1):
        raise WrongSize(size, size + 1)


class FileStorage(ABC):
    """Opaque bytes under validated keys."""

    # The smallest part but the last that assembly accepts.
    min_part_bytes = 1

    @abstractmethod
    def put(self, key: str, stream: BinaryIO, max_bytes: int) -> tuple[int, str]:
        """Store the stream under key; return (size, sha256 hex). Raises TooLarge
        (storing nothing) when more than max_bytes arrive."""

    @abstractmethod
    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The stored bytes in chunks, for a streaming response. NotFound is raised
        by this call itself, before any chunk, so the caller can still answer 404."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes of the stored file; NotFound when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the stored file; deleting a missing key is not an error (retries)."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable when the storage cannot be written or reached."""

    @abstractmethod
    def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes (fewer for a shorter file); NotFound when there is none."""

    # A file in parts: begin, put each part, then assemble (or abort).

    @abstractmethod
    def begin_parts(self, key: str) -> str:
        """Get ready for the parts of the file under key; returns the storage's
        reference for them, which every later call about them is given."""

    @abstractmethod
    def put_part(self, key: str, ref: str, number: int, stream: BinaryIO, size: int) -> None:
        """Store part `number` (from 1): exactly `size` bytes of the stream, or
        WrongSize and nothing stored. A part sent again replaces the first."""

    @abstractmethod
    def assemble(self, key: str, ref: str, sizes: list[int]) -> tuple[int, str]:
        """The parts 1..len(sizes), each of its size, become the file under key
        and are dropped; returns (size, sha256 hex, or "" where the bytes were
        not read to assemble them). PartsMissing when some are not there."""

    @abstractmethod
    def abort_parts(self, key: str, ref: str) -> None:
        """Drop the parts stored so far; aborting twice is not an error."""


class LocalStorage(FileStorage):
    """Files under a directory, one per key ("ab/cdef..." -> root/ab/cdef...)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put(self, key: str, stream: BinaryIO, max_bytes: int) -> tuple[int, str]:
        """Write to a temporary file beside the target, fsync, then os.replace:
        a crash or a refused upload never leaves a partial file under the key."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                result = copy_limited(stream, out.write, max_bytes)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return result

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        try:
            handle = open(self._path(key), "rb")
        except FileNotFoundError:
            raise NotFound(key) from None
        return _read_chunks(handle, chunk_size)

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        """Create the directory if needed and write (then drop) a probe file."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root) as probe:
                probe.write(b"ok")
        except OSError as error:
            raise StorageUnavailable(
                f"file storage directory {self.root} is not writable: {error}") from error

    def read_head(self, key: str, size: int) -> bytes:
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read(size)
        except FileNotFoundError:
            raise NotFound(key) from None

    def _parts_dir(self, key: str) -> Path:
        """Parts wait beside the files, under a directory no key can name."""
        return self.root / ".parts" / validate_key(key)

    def begin_parts(self, key: str) -> str:
        self._parts_dir(key).mkdir(parents=True, exist_ok=True)
        return ""

    def put_part(self, key: str, ref: str, number: int, stream: BinaryIO, size: int) -> None:
        directory = self._parts_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{number}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                copy_exactly(stream, out.write, size)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, directory / f"{number:05d}")
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(directory)

    def assemble(self, key: str, ref: str, sizes: list[int]) -> tuple[int, str]:
        directory = self._parts_dir(key)
        parts = [directory / f"{number:05d}" for number in range(1, len(sizes) + 1)]
        wrong = [number for number, (path, size) in enumerate(zip(parts, sizes), 1)
                 if not path.is_file() or path.stat().st_size != size]
        if wrong:
            raise PartsMissing(wrong)
        result = self.put(key, _Concatenated(parts), sum(sizes))
        self.abort_parts(key, ref)
        return result

    def abort_parts(self, key: str, ref: str) -> None:
        shutil.rmtree(self._parts_dir(key), ignore_errors=True)


class _Concatenated(io.RawIOBase):
    """The part files one after another, opened one at a time."""

    def __init__(self, paths: list[Path]):
        self._paths = list(paths)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                if not self._paths:
                    return b""
                self._current = open(self._paths.pop(0), "rb")
            chunk = self._current.read(ASSEMBLY_CHUNK_SIZE if size < 0 else size)
            if chunk:
                return chunk
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable, not only the file's contents."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage(FileStorage):
    """Objects in an S3-compatible bucket, named prefix/key. Credentials come from
    the boto3 chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, roles), never from
    the FILE_STORAGE URL, so the URL can be logged and shown in config dumps."""

    min_part_bytes = S3_MIN_PART_BYTES

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 prefix: str = ""):
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.prefix = prefix.strip("/")
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=30)
        # A session of our own: boto3's default session is not safe to share across threads.
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config)

    def __repr__(self) -> str:
        return (f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, "
                f"prefix={self.prefix!r})")

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, stream: BinaryIO, max_bytes: int) -> tuple[int, str]:
        """Spool the upload (memory up to 8 MiB, then a temporary file) while
        counting and hashing, and upload only once it is known to fit: a refused
        upload never reaches the bucket. upload_fileobj goes multipart for big files."""
        object_key = self._object_key(key)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY) as spool:
            result = copy_limited(stream, spool.write, max_bytes)
            spool.seek(0)
            self.client.upload_fileobj(spool, self.bucket, object_key,
                                       ExtraArgs={"ContentType": "application/octet-stream"})
        return result

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        object_key = self._object_key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"]
        except ClientError as error:
            if _is_missing(error):
                raise NotFound(key) from None
            raise
        return _stream_body(body, chunk_size)

    def size(self, key: str) -> int:
        object_key = self._object_key(key)
        try:
            return self.client.head_object(Bucket=self.bucket, Key=object_key)["ContentLength"]
        except ClientError as error:
            if _is_missing(error):
                raise NotFound(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(f"S3 bucket {self.bucket!r} is not reachable: {error}") from error

    def read_head(self, key: str, size: int) -> bytes:
        object_key = self._object_key(key)
        if size < 1:
            return b""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=object_key, Range=f"bytes=0-{size - 1}")["Body"]
        except ClientError as error:
            if _is_missing(error):
                raise NotFound(key) from None
            if error.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object
                return b""
            raise
        try:
            return body.read()
        finally:
            body.close()

    def begin_parts(self, key: str) -> str:
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._object_key(key),
                                                     ContentType="application/octet-stream")
        return answer["UploadId"]

    def put_part(self, key: str, ref: str, number: int, stream: BinaryIO, size: int) -> None:
        """Spooled first (memory up to 1 MiB, then a temporary file), so that a
        part of the wrong size never reaches the bucket."""
        object_key = self._object_key(key)
        with tempfile.SpooledTemporaryFile(max_size=PART_SPOOL_MAX_MEMORY) as spool:
            copy_exactly(stream, spool.write, size)
            spool.seek(0)
            self.client.upload_part(Bucket=self.bucket, Key=object_key, UploadId=ref, PartNumber=number,
                                    Body=spool, ContentLength=size)

    def _parts(self, object_key: str, ref: str) -> dict[int, dict]:
        found: dict[int, dict] = {}
        marker = 0
        while True:
            answer = self.client.list_parts(Bucket=self.bucket, Key=object_key, UploadId=ref,
                                            PartNumberMarker=marker)
            for part in answer.get("Parts", []):
                found[part["PartNumber"]] = part
            if not answer.get("IsTruncated"):
                return found
            marker = answer["NextPartNumberMarker"]

    def assemble(self, key: str, ref: str, sizes: list[int]) -> tuple[int, str]:
        """The bucket joins the parts itself: their bytes are not read here, so
        there is no hash of them."""
        object_key = self._object_key(key)
        parts = self._parts(object_key, ref)
        wrong = [number for number, size in enumerate(sizes, 1)
                 if number not in parts or parts[number]["Size"] != size]
        if wrong:
            raise PartsMissing(wrong)
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=object_key, UploadId=ref,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": parts[number]["ETag"]}
                                       for number in range(1, len(sizes) + 1)]})
        return sum(sizes), ""

    def abort_parts(self, key: str, ref: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._object_key(key), UploadId=ref)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404", "NotFound"):
                raise


def _stream_body(body: StreamingBody, chunk_size: int) -> Iterator[bytes]:
    """Close the HTTP response even when the client stops reading early."""
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def open_storage(url: str | None, var_dir: Path) -> FileStorage:
    """The storage FILE_STORAGE names: unset or empty -> var_dir/files;
    file:///abs/path; s3://bucket?endpoint_url=...&region=...&prefix=..."""
    if not url:
        return LocalStorage(Path(var_dir) / "files")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query:
            raise ValueError(f"FILE_STORAGE {url!r}: expected file:///absolute/path")
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if "@" in parts.netloc:
            raise ValueError("FILE_STORAGE: credentials do not belong in the URL; "
                             "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if not BUCKET_PATTERN.fullmatch(parts.netloc) or parts.path not in ("", "/"):
            raise ValueError("FILE_STORAGE: expected s3://bucket-name?endpoint_url=...&region=...&prefix=..."
                             f", got bucket {parts.netloc!r} and path {parts.path!r}")
        # Errors below name options, never echo the query: a misplaced secret must not reach the logs.
        try:
            options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ValueError("FILE_STORAGE: malformed s3 URL options; expected name=value&...") from None
        unknown = set(options) - S3_OPTIONS
        if unknown:
            raise ValueError(f"FILE_STORAGE: unknown s3 option(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(S3_OPTIONS))}")
        repeated = [name for name, values in options.items() if len(values) > 1]
        if repeated:
            raise ValueError(f"FILE_STORAGE: s3 option(s) given twice: {', '.join(sorted(repeated))}")
        single = {name: values[0] for name, values in options.items()}
        return S3Storage(parts.netloc, endpoint_url=single.get("endpoint_url") or None,
                         region=single.get("region") or None, prefix=single.get("prefix", ""))
    raise ValueError(f"FILE_STORAGE {url!r}: unsupported scheme {parts.scheme or '(none)'!r}; "
                     "use file:///absolute/path or s3://bucket-name")
