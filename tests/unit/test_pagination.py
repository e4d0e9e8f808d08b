"""A list's cursor is documented by a pattern that admits exactly the cursors
the lists hand out: what fits it is taken, what does not is refused."""
import base64
import re

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.pagination import CURSOR_PATTERN, MAX_OFFSET, PageQuery, paginate

CURSOR = re.compile(CURSOR_PATTERN)


class Rows:
    """A long list as a database query pages it: always more rows after the page."""

    def offset(self, start):
        return self

    def limit(self, count):
        return list(range(count))


def cursor_at(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


@given(st.integers(0, MAX_OFFSET - 1))
def test_every_cursor_handed_out_fits_the_pattern(position):
    handed = paginate(Rows(), 1, cursor_at(position))["next_cursor"]
    assert handed == cursor_at(position + 1) and CURSOR.fullmatch(handed)
    assert PageQuery().load({"cursor": handed})["cursor"] == handed


@settings(max_examples=500)
@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_what_fits_the_pattern_is_a_position(cursor):
    position = base64.urlsafe_b64decode(cursor).decode("ascii") if cursor else "0"
    assert position.isdigit() and int(position) <= MAX_OFFSET
    assert paginate([], 10, cursor) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("cursor", ["MA", "MA=", "0000", "OTk5OTk5OTk=", "LTE=", "YWJj", "MTA wMA==", "x" * 13])
def test_anything_else_is_refused(cursor):
    with pytest.raises(ma.ValidationError):
        PageQuery().load({"cursor": cursor})


def test_no_cursor_past_the_last_position():
    assert paginate(Rows(), 1, cursor_at(MAX_OFFSET - 1))["next_cursor"] == cursor_at(MAX_OFFSET)
    assert paginate(Rows(), 1, cursor_at(MAX_OFFSET))["next_cursor"] is None
