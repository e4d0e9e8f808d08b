"""Which files may be shared is decided by the platform's own table of
extensions and the content's signature, the same on every host: a host
without /etc/mime.types (python:3.11-slim), whose `mimetypes` takes .ksh,
.bat, .pl and .c for text, changes nothing, and neither does a host whose
table says anything else. Every trick is refused with 415 and stores nothing."""
import io
import mimetypes

import pytest
from support.school import Person

from devkit.helpers import assert_error
from services.common import filetypes


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """The first box of an ISO base media file (MP4, M4A, MOV, HEIF)."""
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body


TEXT = "Домашнее задание: упражнения 5–7.\nСдать в пятницу.\n".encode()
GOOD = [
    ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image/jpeg"),
    ("photo.JPEG", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00", "image/jpeg"),
    ("board.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    ("smile.gif", b"GIF89a\x01\x00\x01\x00", "image/gif"),
    ("photo.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ("photo.heic", ftyp(b"heic", b"mif1", b"heic") + b"\x00" * 16, "image/heic"),
    ("notes.txt", TEXT, "text/plain"),
    ("empty.txt", b"", "text/plain"),
    ("with-bom.txt", b"\xef\xbb\xbf" + TEXT, "text/plain"),
    ("marks.csv", "class,student,mark\n5А,Иван,5\n".encode(), "text/csv"),
    ("letter.rtf", b"{\\rtf1\\ansi Hello}", "application/rtf"),
    ("essay.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24, "application/msword"),
    ("marks.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24, "application/vnd.ms-excel"),
    ("essay.docx", b"PK\x03\x04\x14\x00\x06\x00",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("slides.odp", b"PK\x03\x04\x14\x00\x00\x08", "application/vnd.oasis.opendocument.presentation"),
    ("photos.zip", b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
    ("nothing.zip", b"PK\x05\x06" + b"\x00" * 18, "application/zip"),
    ("song.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
    ("bare.mp3", b"\xff\xfb\x90\x64\x00\x00", "audio/mpeg"),
    ("voice.ogg", b"OggS\x00\x02\x00\x00", "audio/ogg"),
    ("voice.opus", b"OggS\x00\x02\x00\x00", "audio/ogg"),
    ("voice.m4a", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom") + b"\x00" * 8, "audio/mp4"),
    ("voice.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    ("lesson.mp4", ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + b"\x00\x00\x00\x08free", "video/mp4"),
    ("lesson.m4v", ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42") + b"\x00" * 8, "video/mp4"),
    ("lesson.mov", ftyp(b"qt  ", b"qt  ") + b"\x00" * 8, "video/quicktime"),
    ("old.mov", b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", "video/quicktime"),
    ("lesson.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video/webm"),
]
SCRIPT = b"echo pwned\nrm -rf ~\n"
PAGE = b"<html><script>fetch('/api/v1/me')</script></html>"
REFUSED = [
    # Scripts and programs the host's table takes for text.
    ("a Korn shell script", SCRIPT, "run.ksh"),
    ("a batch file", b"@echo off\r\ndel /q C:\\*\r\n", "run.bat"),
    ("a Perl script", b"print 'hi';\n", "run.pl"),
    ("C source", b"int main(void) { return 0; }\n", "main.c"),
    ("a shell script", SCRIPT, "run.sh"),
    ("a Python script", b"import os\n", "run.py"),
    ("JavaScript", b"alert(1)\n", "run.js"),
    ("a program", b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe"),
    ("a web page", PAGE, "page.html"),
    ("an SVG picture", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg"),
    ("no extension", TEXT, "README"),
    ("a double extension", b"MZ\x90\x00", "homework.pdf.exe"),
    # Content that is not what the name says.
    ("a web page named .mp4", PAGE, "lesson.mp4"),
    ("a web page named .mov", PAGE, "lesson.mov"),
    ("a web page named .m4a", PAGE, "voice.m4a"),
    ("a web page named .jpg", PAGE, "photo.jpg"),
    ("a web page named .mp3", PAGE, "song.mp3"),
    ("a web page named .pdf", PAGE, "report.pdf"),
    ("a web page named .docx", PAGE, "essay.docx"),
    ("a picture named .mp4", ftyp(b"heic", b"mif1", b"heic") + b"\x00" * 16, "lesson.mp4"),
    ("a video named .heic", ftyp(b"isom", b"isom", b"mp41") + b"\x00" * 8, "photo.heic"),
    ("a program named .docx", b"MZ\x90\x00\x03\x00\x00\x00", "essay.docx"),
    ("a program named .zip", b"MZ\x90\x00\x03\x00\x00\x00", "photos.zip"),
    ("text named .png", TEXT, "board.png"),
    ("an empty .png", b"", "board.png"),
    ("a WAVE named .webp", b"RIFF\x24\x00\x00\x00WAVEfmt ", "photo.webp"),
    # Text that is not plain text.
    ("a web page named .txt", PAGE, "notes.txt"),
    ("a doctype named .txt", b"<!DOCTYPE html><p>hi</p>", "notes.txt"),
    ("markup after spaces named .txt", b"\n\n   <body onload=alert(1)>", "notes.txt"),
    ("a script tag inside a .txt", "Задание:\n<script>alert(1)</script>\n".encode(), "notes.txt"),
    ("a script named .txt", b"#!/bin/sh\nrm -rf /\n", "notes.txt"),
    ("PHP named .csv", b"<?php system($_GET['c']); ?>", "marks.csv"),
    ("a program named .txt", b"MZ\x90\x00\x03\x00\x00\x00", "notes.txt"),
    ("an ELF binary named .txt", b"\x7fELF\x02\x01\x01", "notes.txt"),
    ("NUL bytes named .txt", b"text\x00\x00\x00more", "notes.txt"),
    ("Windows-1251 named .txt", "Домашнее задание".encode("cp1251"), "notes.txt"),
    ("UTF-16 named .txt", "Домашнее задание".encode("utf-16"), "notes.txt"),
    ("a cut UTF-8 sequence at the end", TEXT + "ж".encode()[:1], "notes.txt"),
    ("a control byte far into a .txt", TEXT * 3000 + b"\x1b[2J" + TEXT, "notes.txt"),
    ("bad UTF-8 far into a .csv", b"a,b\n" * 40000 + b"\xff\xfe", "marks.csv"),
]


@pytest.mark.parametrize("name,content,content_type", GOOD, ids=[case[0] for case in GOOD])
def test_the_table_accepts_what_schools_share(name, content, content_type):
    kind = filetypes.kind_of("." + name.rsplit(".", 1)[1])
    filetypes.check_head(kind, content[:filetypes.HEAD_BYTES])
    if kind.text:
        check = filetypes.TextCheck()
        check.feed(content)
        check.end()
    assert kind.content_type == content_type


@pytest.fixture
def bare_mime_table(monkeypatch):
    """The host's table as python:3.11-slim has it, with no /etc/mime.types:
    Python's own defaults, which take .ksh, .bat, .pl and .c for text/plain."""
    saved = mimetypes._db
    monkeypatch.setattr(mimetypes, "knownfiles", [])
    mimetypes._db = None
    mimetypes.init()
    assert [mimetypes.guess_type(name)[0] for name in ("run.ksh", "run.bat", "run.pl", "main.c")] == \
        ["text/plain"] * 4
    yield
    mimetypes._db = saved
    mimetypes.init(files=[])  # the saved table back in the module's globals


@pytest.fixture
def no_mime_table(monkeypatch):
    """A host whose table may not be asked at all."""
    def never(*args, **kwargs):
        raise AssertionError("the host's mimetypes table was consulted")

    for name in ("guess_type", "guess_extension", "guess_all_extensions", "init", "read_mime_types"):
        monkeypatch.setattr(mimetypes, name, never)
    monkeypatch.setattr(mimetypes.MimeTypes, "guess_type", never)


@pytest.fixture(scope="module")
def uploader(embedded_module):
    return Person(embedded_module.api, "uploader")


def stored_files(platform) -> list[str]:
    root = platform.apps["messaging"].extensions["sferum.files"].root
    return sorted(str(path) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def upload(platform, person, content: bytes, name: str, claimed: str = "text/plain"):
    """What the client claims the type is counts for nothing."""
    return platform.api.post("/files", token=person.token, data={"file": (io.BytesIO(content), name, claimed)},
                             content_type="multipart/form-data")


@pytest.mark.parametrize("name,content,content_type", GOOD, ids=[case[0] for case in GOOD])
def test_shared_files_get_the_tables_type_on_a_bare_host(embedded_module, uploader, bare_mime_table,
                                                         name, content, content_type):
    response = upload(embedded_module, uploader, content, name)
    assert response.status_code == 201, response
    assert response.json["content_type"] == content_type


@pytest.mark.parametrize("name,content,filename", REFUSED, ids=[case[0] for case in REFUSED])
def test_every_trick_is_refused_on_a_bare_host(embedded_module, uploader, bare_mime_table, name, content, filename):
    before = stored_files(embedded_module)
    assert_error(upload(embedded_module, uploader, content, filename), 415, "unsupported_file_type")
    assert stored_files(embedded_module) == before


def test_the_host_table_is_never_consulted(embedded_module, uploader, no_mime_table):
    for name, content, content_type in GOOD:
        response = upload(embedded_module, uploader, content, name)
        assert response.status_code == 201 and response.json["content_type"] == content_type, (name, response)
    for _case, content, filename in REFUSED:
        assert_error(upload(embedded_module, uploader, content, filename), 415, "unsupported_file_type")


def test_what_the_refusal_says(embedded_module, uploader):
    error = assert_error(upload(embedded_module, uploader, SCRIPT, "run.ksh"), 415, "unsupported_file_type")
    assert ".pdf" in error["details"]["extensions"] and ".ksh" not in error["details"]["extensions"]
    assert "application/pdf" in error["details"]["allowed"]


@pytest.mark.parametrize("name,content", [("notes.txt", TEXT), ("board.png", GOOD[3][1]),
                                          ("report.pdf", GOOD[0][1])])
def test_files_are_served_as_downloads_never_sniffed(embedded_module, uploader, name, content):
    stored = upload(embedded_module, uploader, content, name).json
    response = embedded_module.api.get(f"/files/{stored['id']}", token=uploader.token)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == stored["content_type"]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
