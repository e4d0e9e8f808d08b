"""The automatic flags' rules (services/common/filters.py), as plain functions:
what counts as a stop word, an outside link and flooding."""
from datetime import datetime

import pytest

from services.common.filters import (DEFAULT_STOP_WORDS, Filters, flood_window, is_flooding, link_hosts, outside_hosts,
                                     parse_stop_words, stop_words_in)


@pytest.mark.parametrize("text,found", [
    ("Ты ИДИОТ", ["идиот*"]),
    ("идиотский вопрос", ["идиот*"]),
    ("лох", ["лох"]),
    ("лохматый пёс", []),  # an entry without `*` is a whole word
    ("Заработок   без\nвложений!", ["заработок без вложений"]),
    ("без вложений заработок", []),
    ("Ёлка и урожай", []),
    ("", []),
])
def test_stop_words_are_whole_words_or_beginnings_in_any_case(text, found):
    assert stop_words_in(text, DEFAULT_STOP_WORDS) == found


def test_the_operators_file_is_read_with_comments_and_yo():
    words = parse_stop_words(["# the operator's list", "", "Ёж*  # hedgehogs", "Плохое  слово", "*", "ёж*"])
    assert words == ("еж*", "плохое слово")
    assert stop_words_in("Ежевика и плохое слово", words) == ["еж*", "плохое слово"]


def test_every_matching_entry_of_a_long_list_is_found_in_the_lists_order():
    """Entries that overlap all match; the operator's list may be long (every
    message is screened against it), and answers the same as the rule read
    entry by entry."""
    words = tuple(f"слово{n}" for n in range(2000)) + ("казин*", "казино", "ка*", "заработок без*", "слово7*")

    def entry_by_entry(text):
        tokens = " ".join(text.lower().replace("ё", "е").split()).split()
        return [entry for entry in words
                if (" " in entry and entry.rstrip("*") in " ".join(tokens))
                or (entry.endswith("*") and " " not in entry and any(t.startswith(entry[:-1]) for t in tokens))
                or entry in tokens]

    for text in ("Казино", "заработок без вложений слово1999", "СЛОВО77 и слово7", "ничего", "к"):
        assert stop_words_in(text, words) == entry_by_entry(text)
    assert stop_words_in("Казино, слово5", words) == ["слово5", "казин*", "казино", "ка*"]


@pytest.mark.parametrize("text,hosts", [
    ("смотри https://www.Example.org/page?x=1", ["example.org"]),
    ("vk.com/id1 и t.me/channel", ["vk.com", "t.me"]),
    ("школа.рф", ["школа.рф"]),
    ("www.site.ru/a", ["site.ru"]),
    ("т.е. 5.5 и т.д.", []),
    ("пишите ivan@mail.ru", []),
    ("file.pdf, отчёт.docx", []),
])
def test_links_are_found_with_or_without_a_scheme(text, hosts):
    assert link_hosts(text) == hosts


def test_the_platforms_own_and_the_operators_hosts_are_not_outside():
    text = "https://sferum.example.org/chat/x https://sub.journal.example.ru/5 https://evil.example.ru vk.com"
    assert outside_hosts(text, ["sferum.example.org", "journal.example.ru"]) == ["evil.example.ru", "vk.com"]


def test_links_are_flagged_only_in_chats_with_students():
    filters = Filters.from_env({"PUBLIC_URL": "https://sferum.example.org", "ALLOWED_LINK_HOSTS": "edu.ru, "})
    assert filters.allowed_hosts == {"sferum.example.org", "edu.ru"}
    text = "казино на vk.com и https://sferum.example.org/x и https://lib.edu.ru"
    assert filters.screen(text, with_students=lambda: True) == {"stop_word": ["казино"], "outside_link": ["vk.com"]}
    assert filters.screen(text, with_students=lambda: False) == {"stop_word": ["казино"]}
    assert filters.screen("Добрый день", with_students=lambda: True) == {}


def test_who_is_in_the_chat_is_asked_only_of_a_text_with_an_outside_link():
    filters = Filters.from_env({"PUBLIC_URL": "https://sferum.example.org"})
    asked = []

    def with_students():
        asked.append(True)
        return True
    for text in ("Добрый день", "казино", "https://sferum.example.org/chat/x"):
        filters.screen(text, with_students=with_students)
    assert asked == []
    assert filters.screen("см. vk.com", with_students=with_students) == {"outside_link": ["vk.com"]}
    assert asked == [True]


def test_settings_come_from_the_environment(tmp_path):
    words = tmp_path / "stop-words.txt"
    words.write_text("редиска\n", encoding="utf-8")
    filters = Filters.from_env({"STOP_WORDS_FILE": str(words), "MODERATION_FLOOD_MESSAGES": "3",
                                "MODERATION_FLOOD_SECONDS": "5"})
    assert (filters.stop_words, filters.flood_messages, filters.flood_seconds) == (("редиска",), 3, 5)
    assert Filters.from_env({}).stop_words == DEFAULT_STOP_WORDS
    for bad in ("0", "-1", "много"):
        with pytest.raises(ValueError, match="MODERATION_FLOOD_MESSAGES"):
            Filters.from_env({"MODERATION_FLOOD_MESSAGES": bad})
    with pytest.raises(FileNotFoundError):
        Filters.from_env({"STOP_WORDS_FILE": str(tmp_path / "missing.txt")})


def test_flooding_is_so_many_messages_within_so_many_seconds():
    moment = datetime(2026, 9, 1, 8, 0, 20)
    assert flood_window(moment, 20) == (datetime(2026, 9, 1, 8, 0), moment)
    assert is_flooding(5, limit=5)
    assert is_flooding(6, limit=5)
    assert not is_flooding(4, limit=5)
