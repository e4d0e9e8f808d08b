"""Sessions and signing keys identity takes back reach every process that
verifies tokens within seconds, on the embedded platform's in-memory bus: a
logout, a reused refresh token and an emergency key rotation are refused by
the gateway and by the services behind it, cached verifications included,
and close the streams they opened. A process that starts afterwards refuses
them too."""
import json
import threading
import time
from datetime import timedelta

import jwt
import pytest
import websocket
from werkzeug.serving import make_server

from devkit.helpers import Api, assert_error, phone, wait_for
from gateway.app import GatewayConfig, create_app as create_gateway, stop as stop_gateway
from gateway.backends import WsgiBackend
from services.common.clock import isoformat, utcnow
from services.common.errors import ServiceUnavailable
from services.common.revocation import (KEY_RETIRED, REVOCATIONS_PATH, SESSION_ENDED, SESSION_REVOKED,
                                        Revocations)


@pytest.fixture
def platform(embedded_with):
    """The embedded platform, its gateway also on a real socket for streams.
    One person signs in on two devices, so codes may be asked for at once."""
    embedded = embedded_with(OTP_RESEND_COOLDOWN=0)
    server = make_server("127.0.0.1", 0, embedded.gateway, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    embedded.stream_url = f"ws://127.0.0.1:{server.server_port}/api/v1/stream"
    embedded.direct = {name: Api(app.test_client()) for name, app in embedded.apps.items()}
    yield embedded
    server.shutdown()


def snapshot(platform) -> dict:
    """identity's own answer, as a process that verifies tokens reads it."""
    answer = platform.apps["identity"].test_client().get(REVOCATIONS_PATH)
    assert answer.status_code == 200
    return answer.get_json()


def open_stream(platform, token, ticket: bool = False):
    """An app's stream (the token in its header) or a browser's (a ticket in its URL)."""
    if ticket:
        issued = platform.api.post("/stream/ticket", token=token).json["ticket"]
        stream = websocket.create_connection(f"{platform.stream_url}?ticket={issued}", timeout=10)
    else:
        stream = websocket.create_connection(platform.stream_url, header=[f"Authorization: Bearer {token}"],
                                             timeout=10)
    assert json.loads(stream.recv())["type"] == "stream.ready"
    return stream


def closed_with(stream) -> tuple[int, str]:
    """The close frame's code and reason, after whatever came before it."""
    while True:
        opcode, data = stream.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def works_everywhere(platform, token) -> None:
    """Accepted by the gateway and by a service asked directly: from then on the
    verification is cached in both."""
    assert platform.api.get("/chats", token=token).status_code == 200
    assert platform.direct["messaging"].get("/chats", token=token).status_code == 200
    assert platform.api.get("/me", token=token).status_code == 200


def refused_everywhere(platform, token, code) -> bool:
    answers = [platform.api.get("/chats", token=token), platform.direct["messaging"].get("/chats", token=token),
               platform.direct["orgstructure"].get("/me/orgs", token=token), platform.api.get("/me", token=token)]
    return all(answer.status_code == 401 and answer.json["error"]["code"] == code for answer in answers)


def test_a_logout_is_refused_everywhere_and_closes_the_sessions_streams(platform):
    api = platform.api
    leaving = api.sign_in(phone(1))
    staying = api.sign_in(phone(1))  # the same user's other session (another device)
    works_everywhere(platform, leaving["access_token"])
    works_everywhere(platform, staying["access_token"])
    streams = [open_stream(platform, leaving["access_token"]),
               open_stream(platform, leaving["access_token"], ticket=True)]
    other_stream = open_stream(platform, staying["access_token"])

    assert api.post("/auth/logout", token=leaving["access_token"]).status_code == 204
    wait_for(lambda: refused_everywhere(platform, leaving["access_token"], "session_revoked"), timeout=5,
             message="the logged-out session refused by every process")
    for stream in streams:
        assert closed_with(stream) == (4001, SESSION_ENDED)
    works_everywhere(platform, staying["access_token"])
    platform.gateway.extensions["sferum.gateway"]["hub"].deliver(
        {"type": "message.created", "recipients": [staying["user"]["id"]], "data": {"n": 1}})
    assert json.loads(other_stream.recv()) == {"type": "message.created", "data": {"n": 1}}
    other_stream.close()


def test_a_reused_refresh_token_revokes_the_session_everywhere(platform):
    api = platform.api
    tokens = api.sign_in(phone(2))
    rotated = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).json
    works_everywhere(platform, rotated["access_token"])
    stream = open_stream(platform, rotated["access_token"])
    # The first refresh token comes back: someone holds a stolen copy.
    assert_error(api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 401, "refresh_token_reused")
    wait_for(lambda: refused_everywhere(platform, rotated["access_token"], "session_revoked"), timeout=5,
             message="the session of a reused refresh token refused by every process")
    assert closed_with(stream) == (4001, SESSION_ENDED)


def test_a_process_started_after_a_logout_refuses_the_sessions_tokens(platform):
    api = platform.api
    tokens = api.sign_in(phone(3))
    assert api.post("/auth/logout", token=tokens["access_token"]).status_code == 204
    # A gateway worker that starts now heard no event: identity's snapshot tells it.
    late = create_gateway(GatewayConfig(backends={name: WsgiBackend(app) for name, app in platform.apps.items()},
                                        amqp_url="memory://"))
    try:
        assert_error(Api(late.test_client()).get("/chats", token=tokens["access_token"]), 401, "session_revoked")
        fresh = api.sign_in(phone(4))
        assert Api(late.test_client()).get("/chats", token=fresh["access_token"]).status_code == 200
    finally:
        stop_gateway(late)


def test_an_emergency_rotation_retires_the_old_key_everywhere_at_once(platform):
    from services.identity import signing_keys

    api = platform.api
    old = api.sign_in(phone(5))
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    works_everywhere(platform, old["access_token"])
    streams = [open_stream(platform, old["access_token"]), open_stream(platform, old["access_token"], ticket=True)]
    identity = platform.apps["identity"].extensions["sferum"]
    with identity.connection():
        new_key, retired = signing_keys.retire_at_once(identity.service, identity.settings.secret_key)
    assert retired == [old_kid]
    wait_for(lambda: refused_everywhere(platform, old["access_token"], "invalid_token"), timeout=5,
             message="tokens of the retired key refused by every process")
    for stream in streams:
        assert closed_with(stream) == (4001, KEY_RETIRED)
    assert [key["kid"] for key in api.get("/.well-known/jwks.json").json["keys"]] == [new_key.kid]
    # identity signs with the new key at once, not after its signer's next reload.
    fresh = api.sign_in(phone(6))
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_key.kid
    works_everywhere(platform, fresh["access_token"])
    # A process that starts now learns of it from the snapshot.
    assert old_kid in snapshot(platform)["retired_keys"]


def test_the_snapshot_is_identitys_own_and_never_reaches_clients(platform):
    api = platform.api
    tokens = api.sign_in(phone(7))
    api.post("/auth/logout", token=tokens["access_token"])
    session_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    revoked = snapshot(platform)
    assert set(revoked) == {"sessions", "retired_keys"}
    assert session_id in {item["session_id"] for item in revoked["sessions"]}
    # The gateway has no such path, under /api/v1 or beside it.
    assert_error(api.get("/internal/revocations"), 404)
    gateway = platform.gateway.test_client()
    assert gateway.get(REVOCATIONS_PATH).status_code == 404


def until(seconds: float) -> str:
    return isoformat(utcnow() + timedelta(seconds=seconds))


def test_revocations_refuse_tell_listeners_once_and_forget_what_has_expired():
    revocations = Revocations(lambda: {"sessions": [], "retired_keys": []})
    heard = []
    revocations.listen(session=lambda user, session: heard.append(("session", user, session)),
                       key=lambda kid: heard.append(("key", kid)))
    revocations.listen(session=lambda user, session: 1 / 0)  # a failing listener stops nothing
    assert revocations.refusal("s1", "k1") is None
    revocations.apply(SESSION_REVOKED, {"user_id": "u1", "session_id": "s1", "reason": "logout",
                                        "until": until(900)})
    revocations.apply(SESSION_REVOKED, {"user_id": "u1", "session_id": "s1", "reason": "logout",
                                        "until": until(900)})
    revocations.apply("identity.signing_key.retired", {"kid": "k1", "emergency": True})
    assert revocations.refusal("s1", "k0") == SESSION_ENDED
    assert revocations.refusal("s2", "k1") == KEY_RETIRED
    assert revocations.refusal(None, None) is None
    assert heard == [("session", "u1", "s1"), ("key", "k1")]
    # A session whose tokens have all expired is forgotten at the next pruning.
    revocations.revoke_session("s-old", time.time() - Revocations.MARGIN - 1)
    revocations._pruned_at -= Revocations.PRUNE_EVERY
    revocations.revoke_session("s3", time.time() + 900)
    assert set(revocations.sessions) == {"s1", "s3"}


def test_tokens_are_refused_with_503_until_the_snapshot_could_be_read():
    answers = [RuntimeError("identity is restarting"), {"sessions": [{"session_id": "s1", "until": until(900)}],
                                                        "retired_keys": ["k1"]}]

    def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    revocations = Revocations(fetch, retry_every=0.2)
    with pytest.raises(ServiceUnavailable):
        revocations.ensure_loaded()
    with pytest.raises(ServiceUnavailable):
        revocations.ensure_loaded()  # not asked again at once
    assert len(answers) == 1
    wait_for(lambda: _loads(revocations), timeout=5, message="the snapshot read on a later try")
    assert revocations.refusal("s1", None) == SESSION_ENDED and revocations.refusal(None, "k1") == KEY_RETIRED


def _loads(revocations) -> bool:
    try:
        revocations.ensure_loaded()
        return True
    except ServiceUnavailable:
        return False
