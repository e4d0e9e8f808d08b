"""Automatic flags on what members write: words of the operator's stop-word
list, links to outside sites, flooding. Pure rules, shared by messaging (which
holds a student's flagged message at posting time, before anyone else sees
it, when the chat asks for that) and moderation (which opens a report for the
chat's moderators). A flag never punishes anyone: only a moderator decides,
citing a rule (regulation 2.6, 2.8)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlparse

from .config import positive_int

STOP_WORD = "stop_word"
OUTSIDE_LINK = "outside_link"
FLOODING = "flooding"
FLAGS = (STOP_WORD, OUTSIDE_LINK, FLOODING)

# The default list, for an operator who supplies none (STOP_WORDS_FILE): one
# entry a line in the file, `*` at the end matches any ending, `#` starts a
# comment, and an entry of several words matches that phrase.
DEFAULT_STOP_WORDS = (
    "казино", "букмекер*", "наркот*", "спайс", "порн*", "суицид*", "самоубийств*", "убью",
    "идиот*", "дебил*", "урод*", "лох", "тупица", "заработок без вложений",
)

DEFAULT_FLOOD_MESSAGES = 8
DEFAULT_FLOOD_SECONDS = 20

_WORD = re.compile(r"[0-9a-zа-я]+")
_TLDS = ("ru|com|net|org|рф|su|info|biz|io|me|tv|cc|co|ly|gg|xyz|online|site|top|club|shop|app|dev|"
         "link|pro|by|kz|ua|uk|de|us")
# An address with a scheme or `www.`, or a bare host name ending in a known
# top-level domain ("vk.com/id1", "t.me/channel").
_LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"'«»]+"
                   rf"|(?<![\w.@-])(?:[a-zа-я0-9-]+\.)+(?:{_TLDS})(?![\w-])(?:[/?#][^\s<>\"'«»]*)?",
                   re.IGNORECASE)


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е")


def parse_stop_words(lines: Iterable[str]) -> tuple[str, ...]:
    words = []
    for line in lines:
        entry = " ".join(normalise(line.split("#", 1)[0]).split())
        if entry and entry != "*":
            words.append(entry)
    return tuple(dict.fromkeys(words))


class StopWords:
    """A stop-word list made ready for screening every message: whole words
    and word beginnings (by their lengths) are looked up by the text's words,
    each phrase is one expression; the cost grows with the text, not with the
    length of the operator's list."""

    def __init__(self, words: Sequence[str]):
        self.whole: set[str] = set()
        self.beginnings: dict[str, str] = {}
        self.phrases: list[tuple[str, re.Pattern]] = []
        for entry in words:
            if " " in entry:
                self.phrases.append((entry, re.compile(rf"(?<![0-9a-zа-я]){re.escape(entry.rstrip('*'))}"
                                                       + ("" if entry.endswith("*") else r"(?![0-9a-zа-я])"))))
            elif entry.endswith("*"):
                self.beginnings[entry[:-1]] = entry
            else:
                self.whole.add(entry)
        self.lengths = sorted({len(beginning) for beginning in self.beginnings})
        self.order = {entry: index for index, entry in enumerate(words)}

    def found_in(self, text: str) -> list[str]:
        normal = " ".join(normalise(text).split())
        tokens = set(_WORD.findall(normal))
        found = tokens & self.whole
        for token in tokens:
            found.update(self.beginnings[token[:length]] for length in self.lengths
                         if token[:length] in self.beginnings)
        found.update(entry for entry, pattern in self.phrases if pattern.search(normal))
        return sorted(found, key=self.order.__getitem__)


def stop_words_in(text: str, words: Sequence[str]) -> list[str]:
    """The entries of `words` that `text` contains, as whole words (or word
    beginnings, for entries ending in `*`), in any case, `ё` as `е`; in the
    list's order."""
    return StopWords(words).found_in(text)


def link_hosts(text: str) -> list[str]:
    """The host of every link in `text`, lower case, without `www.`."""
    hosts = []
    for match in _LINK.finditer(text):
        link = match.group(0)
        if not re.match(r"(?i)https?://", link):
            link = "http://" + link
        try:
            host = (urlparse(link).hostname or "").rstrip(".")
        except ValueError:
            continue
        host = host.lower().removeprefix("www.")
        if host:
            hosts.append(host)
    return list(dict.fromkeys(hosts))


def outside_hosts(text: str, allowed: Iterable[str]) -> list[str]:
    """Hosts of links to sites that are neither the platform's own nor on the
    operator's list (a listed host allows its subdomains too)."""
    allowed = [host.lower().removeprefix("www.") for host in allowed if host]
    return [host for host in link_hosts(text)
            if not any(host == own or host.endswith("." + own) for own in allowed)]


def flood_window(moment: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The span in which one author's messages in one chat are counted for the
    message at `moment`: the `seconds` ending at it."""
    return moment - timedelta(seconds=seconds), moment


def is_flooding(in_window: int, limit: int) -> bool:
    """Whether the author's messages counted in the flood window, this one
    included, reach the limit."""
    return in_window >= limit


@dataclass(frozen=True)
class Filters:
    """The operator's filter settings, read once at start-up."""
    stop_words: tuple[str, ...] = DEFAULT_STOP_WORDS
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    flood_messages: int = DEFAULT_FLOOD_MESSAGES
    flood_seconds: int = DEFAULT_FLOOD_SECONDS
    matcher: StopWords = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "matcher", StopWords(self.stop_words))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Filters":
        """STOP_WORDS_FILE (one entry a line; the default list without it),
        ALLOWED_LINK_HOSTS (comma-separated, besides PUBLIC_URL's host),
        MODERATION_FLOOD_MESSAGES in MODERATION_FLOOD_SECONDS."""
        path = env.get("STOP_WORDS_FILE")
        words = (parse_stop_words(Path(path).read_text(encoding="utf-8").splitlines())
                 if path else DEFAULT_STOP_WORDS)
        hosts = {part.strip() for part in (env.get("ALLOWED_LINK_HOSTS") or "").split(",") if part.strip()}
        public = urlparse(env.get("PUBLIC_URL") or "http://127.0.0.1:8080").hostname
        if public:
            hosts.add(public)
        return cls(stop_words=words, allowed_hosts=frozenset(hosts),
                   flood_messages=positive_int(env, "MODERATION_FLOOD_MESSAGES", DEFAULT_FLOOD_MESSAGES),
                   flood_seconds=positive_int(env, "MODERATION_FLOOD_SECONDS", DEFAULT_FLOOD_SECONDS))

    def screen(self, text: str, *, with_students: Callable[[], bool]) -> dict[str, list[str]]:
        """What is wrong with a text, by flag: the stop words it holds, and in
        chats with students the outside sites it links to. Empty when nothing.
        `with_students` is asked only of a text with such a link: for most
        messages nobody has to find out who is in the chat."""
        found = {}
        words = self.matcher.found_in(text)
        if words:
            found[STOP_WORD] = words
        hosts = outside_hosts(text, self.allowed_hosts)
        if hosts and with_students():
            found[OUTSIDE_LINK] = hosts
        return found

