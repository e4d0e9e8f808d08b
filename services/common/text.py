"""What people type for others to read: names and titles (one line) and texts
(messages, chat rules: several lines). One rule for every service, so that no
name anywhere can hide characters that look like nothing or turn the text
around it: a name shown as "Иван" must be "Иван" and nothing else.

Both are normalised to NFC (the same letters are the same code points).
Names refuse control and format characters (Unicode Cc, Cf: NUL, newline,
bidi overrides, zero-width spaces), line and paragraph separators (Zl, Zp),
private-use, surrogate and unassigned code points; runs of spaces of any kind
become one space, and the ends are trimmed. Texts keep their line breaks
(CR LF and CR become LF), and keep format characters that scripts and emoji
need (zero-width joiners), but refuse every other control character and the
bidi embeddings, overrides and isolates, which reorder what others see."""
from __future__ import annotations

import re
import unicodedata

import marshmallow as ma

REFUSED_IN_NAMES = frozenset(("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"))
REFUSED_IN_TEXTS = frozenset(("Cc", "Zl", "Zp", "Co", "Cs", "Cn"))
# Embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"[^\S\n]+")  # whitespace other than newlines; names hold no newline by then
_LINE_BREAKS = re.compile(r"\r\n?")


class BadText(ValueError):
    """The text holds a character it may not; the message says which, for people."""


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def clean_name(value: str) -> str:
    """One line for others to read, normalised; BadText when it hides anything."""
    value = unicodedata.normalize("NFC", value)
    if not value.isprintable():  # the common case, printable throughout, costs one C loop
        for char in value:
            if unicodedata.category(char) in REFUSED_IN_NAMES:
                raise BadText(f"Contains an invisible or control character ({_describe(char)}).")
    return _SPACES.sub(" ", value).strip()


def clean_text(value: str) -> str:
    """Lines for others to read, normalised; BadText when it hides anything.
    Spaces inside are the author's; only the whole is trimmed."""
    value = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", value))
    if not value.replace("\n", "").isprintable():
        for char in value:
            if char != "\n" and (char in BIDI_CONTROLS or unicodedata.category(char) in REFUSED_IN_TEXTS):
                raise BadText(f"Contains an invisible or control character ({_describe(char)}).")
    return value.strip()


class _Cleaned(ma.fields.String):
    clean = staticmethod(clean_name)
    # The OpenAPI format: which characters are refused no portable pattern can list.
    format = "name"
    rule = ("One line, normalised to NFC; control and invisible characters are refused; "
            "runs of spaces become one and the ends are trimmed.")

    def __init__(self, *, max_length: int, min_length: int = 0, **kwargs):
        self.min_length, self.max_length = min_length, max_length
        metadata = dict(kwargs.pop("metadata", {}))
        metadata.setdefault("minLength", min_length)
        metadata.setdefault("maxLength", max_length)
        metadata.setdefault("format", self.format)
        metadata["description"] = " ".join(filter(None, (metadata.get("description"), self.rule)))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            cleaned = self.clean(raw)
        except BadText as error:
            raise ma.ValidationError(str(error)) from None
        if len(cleaned) < self.min_length:
            raise ma.ValidationError("Must not be empty." if self.min_length == 1
                                     else f"At least {self.min_length} characters.")
        if len(cleaned) > self.max_length:
            raise ma.ValidationError(f"At most {self.max_length} characters.")
        return cleaned


class Name(_Cleaned):
    """A name or a title: one line, normalised, trimmed, with no hidden characters."""


class Text(_Cleaned):
    """A message or a rule: lines, normalised, trimmed, with no hidden characters."""
    clean = staticmethod(clean_text)
    format = "text"
    rule = ("Normalised to NFC; line breaks are kept; other control characters and bidi "
            "embeddings, overrides and isolates are refused; the ends are trimmed.")
