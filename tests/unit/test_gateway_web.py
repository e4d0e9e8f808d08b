"""The gateway's side of the web client: its pages and files, the browser
session behind httpOnly cookies with CSRF checks, stream tickets instead of
tokens in URLs, the API docs without the internet, the security headers."""
import gzip
import json
import re
import threading

import pytest
import websocket
from werkzeug.serving import make_server

from gateway.web.tickets import StreamTickets
from services.common.auth import Principal
from services.common.errors import Unauthorized
from devkit.helpers import assert_error, phone, wait_for

CSRF = "test-csrf-token-1234567890"


def _csp(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@pytest.mark.parametrize("path", ["/", "/signin", "/join/some-invite-token", "/chat/some-chat-token",
                                  "/chats", "/chats/c1", "/admin/o1/invites", "/operator", "/api/docs",
                                  "/moderation", "/moderation/chats/c1/blocks", "/moderation/schools/o1/log"])
def test_pages_are_html_with_a_policy_that_allows_no_inline_code(embedded_module, path):
    client = embedded_module.gateway.test_client()
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = _csp(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"  # invite tokens stay in their links
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-cache"
    html = response.get_data(as_text=True)
    assert all(' src="' in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script"
    assert "<style" not in html and " style=" not in html
    assert "http://" not in html and "https://" not in html, "nothing from outside the platform"
    cookie = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("sferum_csrf=")]
    assert cookie and "SameSite=Strict" in cookie[0] and "HttpOnly" not in cookie[0]


def test_every_answer_of_the_gateway_app_carries_the_policy(embedded_module):
    client = embedded_module.gateway.test_client()
    for path in ("/healthz", "/api/openapi.json", "/static/x/nothing.js"):
        assert "Content-Security-Policy" in client.get(path).headers, path


def test_client_files_are_compressed_cached_for_a_release_and_revalidated(embedded_module):
    client = embedded_module.gateway.test_client()
    page = client.get("/").get_data(as_text=True)
    main = re.search(r'src="(/static/([0-9a-f]+)/js/main\.js)"', page)
    url, version = main.group(1), main.group(2)
    plain = client.get(url)
    assert plain.status_code == 200 and plain.mimetype == "text/javascript"
    assert "Content-Encoding" not in plain.headers
    packed = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data())
    assert packed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(url, headers={"If-None-Match": packed.headers["ETag"]}).status_code == 304
    # Another release's path still answers, but is not kept for a year.
    assert client.get(url.replace(version, "0" * 12)).headers["Cache-Control"] == "no-cache"
    for missing in ("/static/x/js/none.js", "/static/x/../__init__.py", "/static/x/%2e%2e/session.py"):
        assert client.get(missing).status_code == 404, missing


def test_api_docs_come_from_the_platform_not_a_cdn(embedded_module):
    client = embedded_module.gateway.test_client()
    page = client.get("/api/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        answer = client.get(source, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, source
    bundle = next(source for source in sources if source.endswith("swagger-ui-bundle.js"))
    assert client.get(bundle, headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"


def _code(api, number: str) -> str:
    assert api.post("/auth/otp", {"phone": number}).status_code == 202
    return api.get("/dev/outbox", params={"to": number}).json["items"][0]["code"]


def _browser(platform):
    client = platform.gateway.test_client()
    client.set_cookie("sferum_csrf", CSRF)
    return client


def _post(client, path, body=None, csrf=CSRF, **kwargs):
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return client.post(path, json=body, headers=headers, **kwargs)


def test_browser_session_keeps_the_refresh_token_in_an_httponly_cookie(embedded):
    client = _browser(embedded)
    number = phone(11)
    code = _code(embedded.api, number)
    # Without the CSRF header, or with another value, nothing happens.
    assert_error(_post(client, "/web/session", {"phone": number, "code": code}, csrf=None), 403, "csrf_failed")
    assert_error(_post(client, "/web/session", {"phone": number, "code": code}, csrf="other"), 403, "csrf_failed")
    assert_error(_post(client, "/web/session", {"phone": number, "code": "000000"}), 400)
    signed_in = _post(client, "/web/session", {"phone": number, "code": code})
    assert signed_in.status_code == 200
    body = signed_in.get_json()
    assert set(body) == {"access_token", "expires_in", "token_type", "user"}, "no refresh token for scripts"
    cookie = next(v for v in signed_in.headers.getlist("Set-Cookie") if v.startswith("sferum_refresh="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/web/session" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert signed_in.headers["Cache-Control"] == "no-store"
    me = embedded.api.get("/me", token=body["access_token"])
    assert me.status_code == 200 and me.json["phone"] == number

    # Refresh: a new access token, the refresh token rotated in the cookie.
    old_refresh = client.get_cookie("sferum_refresh", path="/web/session").value
    assert_error(_post(client, "/web/session/refresh", csrf=None), 403, "csrf_failed")
    refreshed = _post(client, "/web/session/refresh")
    assert refreshed.status_code == 200 and refreshed.get_json()["user"]["id"] == body["user"]["id"]
    new_refresh = client.get_cookie("sferum_refresh", path="/web/session").value
    assert new_refresh != old_refresh
    # An answer the browser never took in: the same old cookie again, at once,
    # gets the same pair instead of ending the session as a reused token.
    client.set_cookie("sferum_refresh", old_refresh, path="/web/session")
    again = _post(client, "/web/session/refresh")
    assert again.status_code == 200 and again.get_json() == refreshed.get_json()
    assert client.get_cookie("sferum_refresh", path="/web/session").value == new_refresh

    # Logout ends the session at identity and forgets the cookie.
    assert _post(client, "/web/session/logout").status_code == 204
    assert client.get_cookie("sferum_refresh", path="/web/session") is None
    assert_error(_post(client, "/web/session/refresh"), 401, "no_session")
    client.set_cookie("sferum_refresh", new_refresh, path="/web/session")
    assert_error(_post(client, "/web/session/refresh"), 401)
    assert client.get_cookie("sferum_refresh", path="/web/session") is None


def test_cross_site_requests_are_refused_and_cookies_are_secure_over_https(embedded):
    client = _browser(embedded)
    number = phone(12)
    code = _code(embedded.api, number)
    cross = client.post("/web/session", json={"phone": number, "code": code},
                        headers={"X-CSRF-Token": CSRF, "Sec-Fetch-Site": "cross-site"})
    assert_error(cross, 403, "csrf_failed")
    secure = client.post("/web/session", json={"phone": number, "code": code}, base_url="https://localhost",
                         headers={"X-CSRF-Token": CSRF})
    assert secure.status_code == 200
    cookie = next(v for v in secure.headers.getlist("Set-Cookie") if v.startswith("sferum_refresh="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    page = client.get("/", base_url="https://localhost")
    csrf_cookie = [v for v in page.headers.getlist("Set-Cookie") if v.startswith("sferum_csrf=")]
    assert not csrf_cookie or "Secure" in csrf_cookie[0]


def test_stream_tickets_are_single_use_short_lived_and_signed():
    now = [1000.0]
    tickets = StreamTickets("key", clock=lambda: now[0])
    user = Principal(id="u1", session_id="s1", claims={"exp": 1900})
    issued = tickets.issue(user)
    assert issued["expires_in"] == 30
    principal = tickets.redeem(issued["ticket"])
    assert (principal.id, principal.session_id, principal.claims["exp"]) == ("u1", "s1", 1900)
    with pytest.raises(Unauthorized) as used:
        tickets.redeem(issued["ticket"])
    assert used.value.code == "ticket_used"
    late = tickets.issue(user)
    now[0] += 32
    with pytest.raises(Unauthorized) as expired:
        tickets.redeem(late["ticket"])
    assert expired.value.code == "ticket_expired"
    body, _, mac = tickets.issue(user)["ticket"].partition(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    for forged in (f"{forged_body}.{mac}", f"{body}.{mac[:-1]}x", "nonsense", ""):
        with pytest.raises(Unauthorized) as refused:
            tickets.redeem(forged)
        assert refused.value.code in ("invalid_ticket", "unauthorized")
    # Another replica with the same key accepts it; one with another key does not.
    shared = tickets.issue(user)["ticket"]
    assert StreamTickets("key", clock=lambda: now[0]).redeem(shared).id == "u1"
    with pytest.raises(Unauthorized):
        StreamTickets("other", clock=lambda: now[0]).redeem(tickets.issue(user)["ticket"])


def test_the_stream_opens_with_a_ticket_or_a_header_but_not_a_token_in_the_url(embedded):
    api = embedded.api
    server = make_server("127.0.0.1", 0, embedded.gateway, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{server.server_port}/api/v1/stream"
    try:
        tokens = api.sign_in(phone(13))
        assert_error(api.post("/stream/ticket"), 401)
        answer = api.post("/stream/ticket", token=tokens["access_token"])
        assert answer.status_code == 200 and answer.json["expires_in"] == 30
        assert answer.headers["Cache-Control"] == "no-store"
        ticket = answer.json["ticket"]
        stream = websocket.create_connection(f"{url}?ticket={ticket}", timeout=5)
        assert json.loads(stream.recv()) == {"type": "stream.ready", "data": {"user_id": tokens["user"]["id"]}}
        stream.close()
        for refused in (f"{url}?ticket={ticket}", f"{url}?token={tokens['access_token']}", url):
            with pytest.raises(websocket.WebSocketBadStatusException) as error:
                websocket.create_connection(refused, timeout=5)
            assert error.value.status_code == 401, refused
        header = websocket.create_connection(url, header=[f"Authorization: Bearer {tokens['access_token']}"],
                                             timeout=5)
        assert json.loads(header.recv())["type"] == "stream.ready"
        header.close()
        hub = embedded.gateway.extensions["sferum.gateway"]["hub"]
        wait_for(lambda: hub.connected_users == 0, message="the streams closed")
    finally:
        server.shutdown()


def test_the_ticket_endpoint_is_documented(embedded_module):
    spec = embedded_module.api.get("/api/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/stream/ticket"]
    assert [p["name"] for p in spec["paths"]["/api/v1/stream"]["get"]["parameters"]] == ["ticket"]


def test_every_text_the_client_shows_is_in_the_russian_dictionary():
    """Texts live in one module per language; a key used but missing would show as the key."""
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "gateway" / "web" / "static" / "js"
    dictionary = (static / "texts" / "ru.js").read_text()
    known = set(re.findall(r'^\s*"([a-zA-Z0-9_.]+)":', dictionary, re.M))
    used = set()
    for module in static.rglob("*.js"):
        if module.parent.name != "texts":
            used |= set(re.findall(r'\bt\("([a-zA-Z0-9_.]+)"', module.read_text()))
    assert used - {"key"} <= known, sorted(used - known - {"key"})
    # No markup is ever built from strings: text nodes and attributes only.
    for module in static.rglob("*.js"):
        source = module.read_text()
        assert "innerHTML =" not in source and "insertAdjacentHTML" not in source, module
        assert "outerHTML =" not in source and "document.write" not in source, module


def test_every_moderation_term_and_refusal_has_its_russian_text():
    """The moderation screens name log actions, outcomes, block endings, appeal
    states and filter flags by the service's own words, and explain every
    refusal the service answers: each needs its text, or the person would
    read a code."""
    from pathlib import Path

    from services.common.filters import FLAGS
    from services.moderation import log, schemas

    root = Path(__file__).resolve().parents[2]
    dictionary = (root / "gateway" / "web" / "static" / "js" / "texts" / "ru.js").read_text()
    known = set(re.findall(r'^\s*"([a-zA-Z0-9_.]+)":', dictionary, re.M))

    def listed(schema, name):
        return schema().fields[name].metadata["description"].split(" | ")

    wanted = {f"mod.action.{action}" for action in log.ACTIONS}
    wanted |= {f"mod.{family}.{outcome}" for outcome in listed(schemas.Report, "outcome")
               for family in ("outcome", "myOutcome")}
    wanted |= {f"mod.blockEnded.{reason}" for reason in listed(schemas.Block, "end_reason")}
    wanted |= {f"mod.appealStatus.{status}" for status in listed(schemas.Appeal, "status")}
    wanted |= {f"mod.flag.{flag}" for flag in FLAGS}
    sources = "".join(path.read_text() for path in (root / "services" / "moderation").glob("*.py"))
    refusals = set(re.findall(r'code="([a-z_]+)"|Refusal\("([a-z_]+)"', sources))
    wanted |= {f"error.{code}" for pair in refusals for code in pair if code}
    wanted |= {"error.blocked", "error.removal_requires_rule", "error.not_ready"}
    assert wanted - known == set()



def test_every_call_kind_state_and_refusal_has_its_russian_text():
    """The call screens name kinds and ends by the calls service's own words and
    explain every refusal it answers, so nobody in a call reads a code."""
    from pathlib import Path

    from services.calls.rules import KINDS

    root = Path(__file__).resolve().parents[2]
    dictionary = (root / "gateway" / "web" / "static" / "js" / "texts" / "ru.js").read_text()
    known = set(re.findall(r'^\s*"([a-zA-Z0-9_.]+)":', dictionary, re.M))
    sources = "".join(path.read_text() for path in (root / "services" / "calls").glob("*.py"))
    refusals = set(re.findall(r'code="([a-z_]+)"|code, message = "([a-z_]+)"|status, code, message = \d+, "([a-z_]+)"',
                              sources))
    wanted = {f"error.{code}" for group in refusals for code in group if code}
    assert {"error.call_ended", "error.media_unavailable", "error.removed"} <= wanted
    wanted |= {f"call.kind.{kind}" for kind in KINDS}
    wanted |= {f"call.over.{status}" for status in ("ended", "cancelled")}
    wanted |= {f"call.host{verb}.{kind}" for verb in ("Muted", "Allowed") for kind in ("audio", "video")}
    assert wanted - known == set()
