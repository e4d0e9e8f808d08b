"""Values for the formats the platform's OpenAPI names beyond JSON Schema's
own, loaded by the schema-driven run (test_api_schema.py): the schema says
what such a value looks like (pattern, length); these make values the server
also accepts, so that generated requests reach past validation."""
import schemathesis
from hypothesis import strategies as st

# Mobile numbers of the range the platform's tests use (devkit.helpers.phone).
schemathesis.openapi.format("phone", st.integers(0, 9_999_999).map(lambda n: f"+7900{n:07d}"))

# Names and texts people read (services/common/text.py): letters, marks,
# digits, punctuation, symbols and spaces, never the invisible or control
# characters the platform refuses; a name holds more than spaces.
_READABLE = st.characters(categories=("L", "M", "N", "P", "S", "Zs"),
                          exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
schemathesis.openapi.format("name", st.text(_READABLE, min_size=1, max_size=20).filter(str.strip))
schemathesis.openapi.format("text", st.lists(st.text(_READABLE, max_size=20), min_size=1, max_size=3).map("\n".join))
