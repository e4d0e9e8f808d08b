"""`GET /me/export`: the person's own data from every service that holds
some, in one download (152-FZ). Services do not read each other's databases,
nor call each other: each answers its own part at /me/export/<service> for
the same access token, and the gateway, which routes every call anyway, puts
the parts together. If any part cannot be had, the answer is that part's
error: an export with a part missing would look complete and not be."""
from __future__ import annotations

import json

from services.common.clock import isoformat, utcnow
from services.common.web import API_PREFIX

from .routes import EXPORT_PARTS
from .settling import INTERNAL

PATH = "me/export"
FORMAT = "sferum-export/1"


def assemble(backends: dict, headers: dict, user_id: str):
    """(status, headers, body) of the whole export, or of the first part that
    failed; BackendUnavailable when a service cannot be reached."""
    parts = {}
    for service in EXPORT_PARTS:
        status, part_headers, content = backends[service].forward("GET", f"{API_PREFIX}/{PATH}/{service}", b"",
                                                                  headers, None)
        body = content if isinstance(content, bytes) else b"".join(content)
        if status != 200:
            return status, [(name, value) for name, value in part_headers if name.lower() not in INTERNAL], [body]
        parts[service] = json.loads(body)
    now = utcnow()
    document = {"format": FORMAT, "user_id": user_id, "exported_at": isoformat(now), "parts": parts}
    body = json.dumps(document, ensure_ascii=False, indent=1).encode()
    return 200, [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"),
                 ("Content-Disposition", f'attachment; filename="sferum-data-{now:%Y-%m-%d}.json"')], [body]
