"""`?limit=&cursor=` lists answering `{"items": [...], "next_cursor": ...}`."""
from __future__ import annotations

import base64

import marshmallow as ma
from marshmallow import validate

from .errors import Unprocessable


class PageQuery(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "next_cursor": ma.fields.String(allow_none=True),
    })


MAX_OFFSET = 10_000_000


def _offset(cursor: str | None) -> int:
    """Cursors are ours: anything else (negative, huge, not a number) is refused."""
    if not cursor:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode("ascii"))
    except ValueError:
        offset = -1
    if not 0 <= offset <= MAX_OFFSET:
        raise Unprocessable("The cursor is not valid.", details={"fields": {"cursor": ["Not valid."]}})
    return offset


def paginate(items, limit: int, cursor: str | None) -> dict:
    """Pages over a peewee query or a list (offset cursors: these lists are short)."""
    start = _offset(cursor)
    if isinstance(items, list):
        chunk = items[start:start + limit + 1]
    else:
        chunk = list(items.offset(start).limit(limit + 1))
    more = len(chunk) > limit
    return {"items": chunk[:limit],
            "next_cursor": base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None}
