"""`?limit=&cursor=` lists answering `{"items": [...], "next_cursor": ...}`."""
from __future__ import annotations

import base64

import marshmallow as ma
from marshmallow import validate

from .errors import Unprocessable


# A cursor is the urlsafe base64 of a position of 1 to 7 decimal digits, and
# nothing else: the pattern says exactly that, so that what fits it is a
# cursor the lists take. A group of three digits is four characters, each of
# which can only be one of these; one or two digits more end with padding.
_DIGITS_HEAD = "(?:M[DTjz]|N[DTjz]|O[DT])"
_THREE_DIGITS = _DIGITS_HEAD + "[AEIMQUYcgk][w-z0-5]"
_ONE_DIGIT = "(?:M[AQgw]|N[AQgw]|O[AQ])=="
_TWO_DIGITS = _DIGITS_HEAD + "[AEIMQUYcgk]="
CURSOR_PATTERN = (f"^(?:(?:{_THREE_DIGITS}){{0,2}}(?:{_ONE_DIGIT})?"
                  f"|(?:{_THREE_DIGITS})?{_TWO_DIGITS})$")
MAX_OFFSET = 9_999_999


class PageQuery(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, allow_none=True, validate=[
        validate.Length(max=12), validate.Regexp(CURSOR_PATTERN, error="Not valid.")], metadata={
        "description": "the `next_cursor` of the page before, as it came"})


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "next_cursor": ma.fields.String(allow_none=True),
    })


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
    more = len(chunk) > limit and start + limit <= MAX_OFFSET
    return {"items": chunk[:limit],
            "next_cursor": base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None}
