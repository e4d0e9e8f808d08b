"""Static files served from memory, gzip-compressed once, with validators and
cache headers. The client's files live under a versioned path (a digest of
all of them), so browsers keep them for a year and a new release is fetched
at once; the HTML page that names that path is never cached."""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request

YEAR = 365 * 24 * 3600
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
         ".map": "application/json", ".txt": "text/plain; charset=utf-8", ".png": "image/png",
         ".ico": "image/x-icon"}
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".map", ".txt")


@dataclass(frozen=True)
class Asset:
    content: bytes
    compressed: bytes | None
    content_type: str
    etag: str


def load(path: Path) -> Asset:
    content = path.read_bytes()
    suffix = path.suffix.lower()
    compressed = gzip.compress(content, 9, mtime=0) if suffix in COMPRESSIBLE and len(content) > 256 else None
    content_type = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Asset(content, compressed, content_type, '"' + hashlib.sha256(content).hexdigest()[:20] + '"')


class Directory:
    """The files under `root`, read and compressed the first time each is asked for."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self._assets: dict[str, Asset | None] = {}
        self._lock = threading.Lock()
        self._version: str | None = None

    @property
    def version(self) -> str:
        """A digest of every file: part of the path the client's files are served under."""
        if self._version is None:
            digest = hashlib.sha256()
            for path in sorted(self.root.rglob("*")):
                if path.is_file():
                    digest.update(str(path.relative_to(self.root)).encode() + b"\0" + path.read_bytes())
            self._version = digest.hexdigest()[:12]
        return self._version

    def get(self, name: str) -> Asset | None:
        if name in self._assets:
            return self._assets[name]
        path = (self.root / name).resolve()
        asset = None
        if path.is_relative_to(self.root) and path.is_file() and not path.name.startswith("."):
            asset = load(path)
        with self._lock:
            self._assets[name] = asset
        return asset

    def names(self, under: str = "") -> list[str]:
        base = self.root / under
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())


def respond(asset: Asset, cache_control: str) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    body = asset.content
    if asset.compressed is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body = asset.compressed
        headers["Content-Encoding"] = "gzip"
    return Response(body, content_type=asset.content_type, headers=headers)


def immutable(version_asked: str, version: str) -> str:
    """A year for the current release's files; revalidated for anything else."""
    return f"public, max-age={YEAR}, immutable" if version_asked == version else "no-cache"
