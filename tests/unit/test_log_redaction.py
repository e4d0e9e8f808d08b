"""Secrets a URL carries are masked wherever a path, a request line, a URL or
a header is written to a log (the platform's lines, error messages of the
libraries it calls, gunicorn's own logs)."""
import logging
import sys

import pytest

from services.common.logs import JsonFormatter, RedactingFilter, redact

SECRET = "Q2xhc3NfNUFfaW52aXRlX3Rva2Vu"


@pytest.mark.parametrize("text,expected", [
    (f"GET /api/v1/invites/{SECRET}/accept?x=1 HTTP/1.1", "GET /api/v1/invites/***/accept?x=1 HTTP/1.1"),
    (f"https://sferum.example.org/join/{SECRET}", "https://sferum.example.org/join/***"),
    (f"https://sferum.example.org/chat/{SECRET}#rules", "https://sferum.example.org/chat/***#rules"),
    (f"Max retries exceeded with url: /api/v1/chat-invites/{SECRET} (Caused by",
     "Max retries exceeded with url: /api/v1/chat-invites/*** (Caused by"),
    (f"/api/v1/stream?token={SECRET}&compress=1", "/api/v1/stream?token=***&compress=1"),
    (f"GET /api/v1/stream?ticket={SECRET} HTTP/1.1", "GET /api/v1/stream?ticket=*** HTTP/1.1"),
    (f"token={SECRET}", "token=***"),
    (f"Authorization: Bearer {SECRET}.abc.def", "Authorization: Bearer ***"),
    # Ids are no secrets: they stay for whoever follows a request.
    ("/api/v1/chats/0c1d/messages?cursor=abc", "/api/v1/chats/0c1d/messages?cursor=abc"),
    ("/api/v1/chat-invitations/0c1d/accept", "/api/v1/chat-invitations/0c1d/accept"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_every_route_holding_a_token_is_masked(embedded_module):
    rules = [rule.rule for app in (*embedded_module.apps.values(), embedded_module.gateway)
             for rule in app.url_map.iter_rules() if "<token>" in rule.rule]
    assert len(rules) >= 4  # invites and chat links, their previews and acceptance
    for rule in rules:
        assert SECRET not in redact(rule.replace("<token>", SECRET)), rule


def test_log_records_lose_their_secrets_in_messages_and_tracebacks():
    def record():
        try:
            raise ValueError(f"while fetching /api/v1/invites/{SECRET}")
        except ValueError:
            return logging.LogRecord("x", logging.ERROR, __file__, 1, "GET %s failed", (f"/join/{SECRET}",),
                                     sys.exc_info())

    assert SECRET not in JsonFormatter().format(record())
    filtered = record()
    RedactingFilter().filter(filtered)
    assert SECRET not in logging.Formatter().format(filtered)
    assert "GET /join/*** failed" in logging.Formatter().format(filtered)
