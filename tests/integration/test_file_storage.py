"""File storage behaviour, the same tests for a local directory and for a real
S3-compatible server (moto's, over HTTP on a free local port). Every test gets
its own directory or bucket, so tests never see each other."""
import hashlib
import io
import os
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from services.messaging.storage import (
    CHUNK_SIZE,
    FileStorage,
    LocalStorage,
    NotFound,
    PartsMissing,
    S3Storage,
    StorageUnavailable,
    TooLarge,
    WrongSize,
    open_storage,
)

KEY = "ab/" + "0123456789abcdef" * 2
OTHER_KEY = "cd/" + "fedcba9876543210" * 2
BAD_KEYS = ["../etc/passwd", "AB/..", "", "ab/..", "AB/" + "0" * 32, "ab/" + "0" * 31,
            "ab/" + "0" * 32 + "\n", "ab/" + "0" * 32 + "/x", "/ab/" + "0" * 32, "ab\\" + "0" * 32]
PREFIX = "uploads/messaging"


@pytest.fixture(scope="module")
def s3_endpoint():
    """One moto server for the module; buckets keep the tests apart."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Credentials the way production passes them, and nothing from the machine's own AWS setup."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_client(s3_endpoint, aws_env):
    """A plain boto3 client, to look at the bucket independently of the code under test."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3_client):
    name = f"files-{uuid.uuid4().hex}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> FileStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return S3Storage(request.getfixturevalue("bucket"), endpoint_url=request.getfixturevalue("s3_endpoint"),
                     region="us-east-1", prefix=PREFIX)


@pytest.fixture
def stored(request):
    """Everything the storage holds, read behind its back: files under the
    directory (temporary ones included), or objects and unfinished multipart
    uploads in the bucket."""
    def names(storage: FileStorage) -> list[str]:
        if isinstance(storage, LocalStorage):
            if not storage.root.exists():
                return []
            files = (path for path in storage.root.rglob("*") if path.is_file())
            return sorted(str(path.relative_to(storage.root)) for path in files)
        client = request.getfixturevalue("s3_client")
        objects = client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
        return sorted([item["Key"] for item in objects] + [f"multipart:{item['Key']}" for item in uploads])
    return names


def location(storage: FileStorage, key: str) -> str:
    return f"{PREFIX}/{key}" if isinstance(storage, S3Storage) else key


class CountingStream(io.BytesIO):
    """Records how many bytes the storage actually pulled from the upload."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


@pytest.mark.parametrize("data", [b"", b"hello, school", os.urandom(3 * 1024 * 1024)],
                         ids=["empty", "small", "3MiB-random"])
def test_round_trip(storage, stored, data):
    size, sha256 = storage.put(KEY, io.BytesIO(data), max_bytes=10 * 1024 * 1024)

    assert (size, sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert storage.size(KEY) == len(data)
    chunks = list(storage.iter_chunks(KEY))
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)
    assert stored(storage) == [location(storage, KEY)]


def test_iter_chunks_honours_chunk_size(storage):
    data = os.urandom(10_000)
    storage.put(KEY, io.BytesIO(data), max_bytes=len(data))

    chunks = list(storage.iter_chunks(KEY, chunk_size=4096))

    assert b"".join(chunks) == data
    assert all(len(chunk) <= 4096 for chunk in chunks) and len(chunks) >= 3


def test_exactly_max_bytes_is_accepted(storage):
    data = os.urandom(1000)

    assert storage.put(KEY, io.BytesIO(data), max_bytes=1000) == (1000, hashlib.sha256(data).hexdigest())
    assert storage.size(KEY) == 1000


def test_too_large_is_refused_early_and_stores_nothing(storage, stored):
    max_bytes = 100 * 1024
    upload = CountingStream(os.urandom(4 * 1024 * 1024))

    with pytest.raises(TooLarge) as refused:
        storage.put(KEY, upload, max_bytes=max_bytes)

    assert refused.value.max_bytes == max_bytes
    assert upload.consumed <= max_bytes + CHUNK_SIZE, "must stop reading once over the limit"
    assert stored(storage) == []
    with pytest.raises(NotFound):
        storage.size(KEY)


def test_one_byte_over_the_limit_is_too_large(storage, stored):
    with pytest.raises(TooLarge):
        storage.put(KEY, io.BytesIO(b"x" * 1001), max_bytes=1000)
    assert stored(storage) == []


def test_refused_replacement_keeps_the_previous_file(storage, stored):
    storage.put(KEY, io.BytesIO(b"first version"), max_bytes=100)

    with pytest.raises(TooLarge):
        storage.put(KEY, io.BytesIO(b"y" * 101), max_bytes=100)

    assert b"".join(storage.iter_chunks(KEY)) == b"first version"
    assert stored(storage) == [location(storage, KEY)]


def test_put_replaces_and_keys_are_independent(storage, stored):
    storage.put(KEY, io.BytesIO(b"old"), max_bytes=100)
    storage.put(OTHER_KEY, io.BytesIO(b"other"), max_bytes=100)
    storage.put(KEY, io.BytesIO(b"new content"), max_bytes=100)

    assert b"".join(storage.iter_chunks(KEY)) == b"new content"
    assert b"".join(storage.iter_chunks(OTHER_KEY)) == b"other"
    assert stored(storage) == sorted([location(storage, KEY), location(storage, OTHER_KEY)])


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(storage, stored, key):
    with pytest.raises(ValueError):
        storage.put(key, io.BytesIO(b"payload"), max_bytes=100)
    with pytest.raises(ValueError):
        storage.iter_chunks(key)
    with pytest.raises(ValueError):
        storage.size(key)
    with pytest.raises(ValueError):
        storage.delete(key)
    assert stored(storage) == []


def test_delete(storage, stored):
    storage.put(KEY, io.BytesIO(b"to be removed"), max_bytes=100)
    storage.put(OTHER_KEY, io.BytesIO(b"stays"), max_bytes=100)

    storage.delete(KEY)

    assert stored(storage) == [location(storage, OTHER_KEY)]
    with pytest.raises(NotFound):
        storage.size(KEY)
    with pytest.raises(NotFound):
        storage.iter_chunks(KEY)
    storage.delete(KEY)  # a retried delete is not an error
    assert b"".join(storage.iter_chunks(OTHER_KEY)) == b"stays"


def test_missing_key_is_not_found_before_streaming_starts(storage):
    with pytest.raises(NotFound) as missing:
        storage.iter_chunks(KEY)
    assert missing.value.key == KEY
    with pytest.raises(NotFound):
        storage.size(KEY)


def test_check_passes_on_usable_storage(storage):
    storage.check()


def test_check_creates_a_missing_local_directory(tmp_path):
    root = tmp_path / "not" / "yet" / "there"

    LocalStorage(root).check()

    assert root.is_dir()
    assert list(root.iterdir()) == [], "the probe file must not stay behind"


def test_check_fails_for_a_local_directory_under_a_regular_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a directory")
    storage = LocalStorage(blocker / "files")

    with pytest.raises(StorageUnavailable, match="not writable"):
        storage.check()
    with pytest.raises(OSError):
        storage.put(KEY, io.BytesIO(b"data"), max_bytes=100)


def test_check_fails_for_a_missing_bucket(s3_endpoint, aws_env):
    storage = S3Storage(f"missing-{uuid.uuid4().hex}", endpoint_url=s3_endpoint, region="us-east-1")

    with pytest.raises(StorageUnavailable, match="not reachable"):
        storage.check()


def test_open_storage_defaults_to_var_files(tmp_path):
    for url in (None, ""):
        storage = open_storage(url, tmp_path)
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "files"


def test_open_storage_file_url(tmp_path):
    root = tmp_path / "dir with space"
    storage = open_storage(f"file://{root.as_posix().replace(' ', '%20')}", Path("/unused"))

    assert isinstance(storage, LocalStorage)
    assert storage.root == root
    storage.put(KEY, io.BytesIO(b"on disk"), max_bytes=100)
    assert (root / KEY).read_bytes() == b"on disk"


def test_open_storage_s3_url(s3_endpoint, bucket, stored):
    storage = open_storage(f"s3://{bucket}?endpoint_url={s3_endpoint}&region=eu-west-1&prefix=/tenant/files/",
                           Path("/unused"))

    assert isinstance(storage, S3Storage)
    assert storage.bucket == bucket
    assert storage.prefix == "tenant/files"
    assert storage.client.meta.endpoint_url == s3_endpoint
    assert storage.client.meta.region_name == "eu-west-1"
    storage.check()
    storage.put(KEY, io.BytesIO(b"in the bucket"), max_bytes=100)
    assert stored(storage) == [f"tenant/files/{KEY}"]


def test_open_storage_s3_url_without_options(aws_env):
    storage = open_storage("s3://plain-bucket", Path("/unused"))

    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.endpoint_url) == ("plain-bucket", "", None)


@pytest.mark.parametrize("url", [
    "ftp://x",
    "x",
    "file://relative/path",
    "file:///abs?query=1",
    "s3://",
    "s3://bucket/some/path",
    "s3://Bad_Bucket",
    "s3://key:secret@bucket",
    "s3://bucket?access_key=AKIA",
    "s3://bucket?region=a&region=b",
    "s3://bucket?secret",
])
def test_open_storage_refuses_other_urls(url):
    with pytest.raises(ValueError, match="FILE_STORAGE"):
        open_storage(url, Path("/unused"))


@pytest.mark.parametrize("url", ["s3://AKIAEXAMPLE:topsecret@bucket", "s3://bucket?secret_key=topsecret",
                                 "s3://bucket?topsecret"])
def test_refused_s3_url_does_not_echo_secrets(url):
    with pytest.raises(ValueError) as refused:
        open_storage(url, Path("/unused"))
    assert "topsecret" not in str(refused.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_check_fails_for_a_read_only_local_directory(tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(StorageUnavailable, match="not writable"):
            LocalStorage(root).check()
    finally:
        root.chmod(0o755)


# Files in parts (video lessons): stored part by part, assembled once all are there.

def test_parts_are_assembled_into_the_file_and_then_dropped(storage, stored):
    part = max(storage.min_part_bytes, 4096)
    data = os.urandom(2 * part + 123)
    pieces = [data[:part], data[part:2 * part], data[2 * part:]]
    ref = storage.begin_parts(KEY)
    for number in (2, 1, 3, 2):  # any order, and a part sent again replaces the first
        storage.put_part(KEY, ref, number, io.BytesIO(pieces[number - 1]), len(pieces[number - 1]))
    with pytest.raises(NotFound):
        storage.size(KEY)  # nothing is under the key before assembly
    size, sha256 = storage.assemble(KEY, ref, [len(piece) for piece in pieces])
    assert size == len(data)
    assert sha256 in (hashlib.sha256(data).hexdigest(), "")
    assert b"".join(storage.iter_chunks(KEY)) == data
    assert storage.read_head(KEY, 10) == data[:10]
    assert stored(storage) == [location(storage, KEY)]


def test_a_part_of_the_wrong_size_stores_nothing_and_is_not_read_to_its_end(storage, stored):
    ref = storage.begin_parts(KEY)
    longer = CountingStream(b"x" * (5 * CHUNK_SIZE))
    with pytest.raises(WrongSize) as refused:
        storage.put_part(KEY, ref, 1, longer, CHUNK_SIZE)
    assert refused.value.expected == CHUNK_SIZE
    assert longer.consumed == CHUNK_SIZE + 1
    with pytest.raises(WrongSize):
        storage.put_part(KEY, ref, 1, io.BytesIO(b"short"), CHUNK_SIZE)
    with pytest.raises(PartsMissing) as missing:
        storage.assemble(KEY, ref, [CHUNK_SIZE])
    assert missing.value.numbers == [1]
    storage.abort_parts(KEY, ref)
    assert stored(storage) == []


def test_assembly_with_a_part_missing_or_short_makes_no_file(storage, stored):
    part = max(storage.min_part_bytes, 4096)
    ref = storage.begin_parts(KEY)
    storage.put_part(KEY, ref, 1, io.BytesIO(b"a" * part), part)
    storage.put_part(KEY, ref, 3, io.BytesIO(b"c" * 10), 10)
    with pytest.raises(PartsMissing) as missing:
        storage.assemble(KEY, ref, [part, part, 10])
    assert missing.value.numbers == [2]
    with pytest.raises(PartsMissing) as missing:
        storage.assemble(KEY, ref, [part, 11])
    assert missing.value.numbers == [2]
    with pytest.raises(NotFound):
        storage.size(KEY)
    storage.abort_parts(KEY, ref)
    storage.abort_parts(KEY, ref)  # twice: a retry
    assert stored(storage) == []


def test_parts_need_valid_keys(storage, stored):
    for key in BAD_KEYS:
        with pytest.raises(ValueError):
            storage.begin_parts(key)
        with pytest.raises(ValueError):
            storage.put_part(key, "", 1, io.BytesIO(b"x"), 1)
    assert stored(storage) == []


def test_the_head_of_a_missing_or_empty_file(storage):
    with pytest.raises(NotFound):
        storage.read_head(KEY, 10)
    storage.put(KEY, io.BytesIO(b""), max_bytes=10)
    assert storage.read_head(KEY, 10) == b""
