"""identity: sign-in codes, sessions, tokens, profiles — the security cases."""
import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.clock import utcnow
from services.common.config import Settings
from devkit.helpers import Api, assert_error, dev_env, phone, reset_memory_bus
from services.common.wsgi import build
from services.identity import models


def make_identity(tmp_path, **env):
    reset_memory_bus()
    app = build("identity", Settings.from_env("identity", dev_env(tmp_path, **env)))
    app.extensions["sferum"].migrate()
    return app, Api(app.test_client())


@pytest.fixture
def api(identity_app):
    return Api(identity_app.test_client())


def latest_code(api, number):
    return api.get("/dev/outbox", params={"to": number}).json["items"][0]["code"]


def wrong(code):
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_phone_sign_in_creates_the_user_once(tmp_path):
    app, api = make_identity(tmp_path, OTP_RESEND_COOLDOWN=0)
    first = api.sign_in(phone(1))
    assert first["token_type"] == "Bearer" and first["expires_in"] == 900
    assert set(first["user"]) == {"id", "display_name"}
    assert api.post("/auth/otp", {"phone": phone(1)}).status_code == 202
    code = latest_code(api, phone(1))
    again = api.post("/auth/token", {"phone": "8 900 000-00-01", "code": code})
    assert again.status_code == 200
    assert again.json["user"]["id"] == first["user"]["id"]
    with app.extensions["sferum"].connection():
        assert models.User.select().count() == 1


def test_codes_are_stored_hashed(api, identity_app):
    api.post("/auth/otp", {"phone": phone(2)})
    code = latest_code(api, phone(2))
    with identity_app.extensions["sferum"].connection():
        row = models.LoginCode.get(models.LoginCode.destination == phone(2))
    assert code not in row.code_hash and len(row.code_hash) == 64


def test_six_wrong_codes_kill_the_code(api):
    api.post("/auth/otp", {"phone": phone(3)})
    code = latest_code(api, phone(3))
    for attempt in range(5):
        error = assert_error(api.post("/auth/token", {"phone": phone(3), "code": wrong(code)}), 400,
                             "invalid_code")
        assert error["details"]["attempts_left"] == 4 - attempt
    # The sixth try, even with the right code, finds the code dead.
    assert_error(api.post("/auth/token", {"phone": phone(3), "code": code}), 400, "invalid_code")


def test_expired_code_is_refused(api, identity_app):
    api.post("/auth/otp", {"phone": phone(4)})
    code = latest_code(api, phone(4))
    with identity_app.extensions["sferum"].connection():
        models.LoginCode.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert_error(api.post("/auth/token", {"phone": phone(4), "code": code}), 400, "invalid_code")


def test_a_code_works_once(api):
    api.post("/auth/otp", {"phone": phone(5)})
    code = latest_code(api, phone(5))
    assert api.post("/auth/token", {"phone": phone(5), "code": code}).status_code == 200
    assert_error(api.post("/auth/token", {"phone": phone(5), "code": code}), 400, "invalid_code")


def test_a_new_code_replaces_the_previous_one(tmp_path):
    _, api = make_identity(tmp_path, OTP_RESEND_COOLDOWN=0)
    api.post("/auth/otp", {"phone": phone(6)})
    first = latest_code(api, phone(6))
    api.post("/auth/otp", {"phone": phone(6)})
    second = latest_code(api, phone(6))
    if first != second:
        assert_error(api.post("/auth/token", {"phone": phone(6), "code": first}), 400, "invalid_code")
    assert api.post("/auth/token", {"phone": phone(6), "code": second}).status_code == 200


def test_resend_cooldown_answers_429_with_retry_after(api):
    assert api.post("/auth/otp", {"phone": phone(7)}).status_code == 202
    response = api.post("/auth/otp", {"phone": phone(7)})
    error = assert_error(response, 429, "resend_cooldown")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(response.headers["Retry-After"])


def test_per_phone_hourly_limit(tmp_path):
    _, api = make_identity(tmp_path, OTP_RESEND_COOLDOWN=0, OTP_PER_DESTINATION_PER_HOUR=3)
    for _ in range(3):
        assert api.post("/auth/otp", {"phone": phone(8)}).status_code == 202
    response = api.post("/auth/otp", {"phone": phone(8)})
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 3000


def test_per_address_hourly_limit(tmp_path):
    _, api = make_identity(tmp_path, OTP_PER_IP_PER_HOUR=2)
    client = {"X-Forwarded-For": "198.51.100.7"}
    assert api.post("/auth/otp", {"phone": phone(9)}, headers=client).status_code == 202
    assert api.post("/auth/otp", {"phone": phone(10)}, headers=client).status_code == 202
    assert_error(api.post("/auth/otp", {"phone": phone(11)}, headers=client), 429, "rate_limited")
    # Another address is not affected.
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert api.post("/auth/otp", {"phone": phone(11)}, headers=other).status_code == 202


def test_email_codes_for_primary_school_students(api):
    assert api.post("/auth/email-otp", {"email": "Parent@Example.org"}).status_code == 202
    item = api.get("/dev/outbox", params={"to": "parent@example.org"}).json["items"][0]
    assert item["channel"] == "email"
    tokens = api.post("/auth/token", {"email": "parent@example.org", "code": item["code"]})
    assert tokens.status_code == 200
    me = api.get("/me", token=tokens.json["access_token"]).json
    assert me["email"] == "parent@example.org" and me["phone"] is None


def test_refresh_rotates_and_reuse_revokes_the_session(api):
    tokens = api.sign_in(phone(12))
    rotated = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert rotated.json["refresh_token"] != tokens["refresh_token"]
    assert api.get("/me", token=rotated.json["access_token"]).status_code == 200
    # The old refresh token comes back: someone holds a stolen copy.
    assert_error(api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 401,
                 "refresh_token_reused")
    assert_error(api.post("/auth/refresh", {"refresh_token": rotated.json["refresh_token"]}), 401,
                 "session_revoked")
    assert_error(api.get("/me", token=rotated.json["access_token"]), 401, "session_revoked")


def test_unknown_refresh_token(api):
    assert_error(api.post("/auth/refresh", {"refresh_token": "x" * 43}), 401, "invalid_token")


def test_logout_ends_the_session(api):
    tokens = api.sign_in(phone(13))
    assert api.post("/auth/logout", token=tokens["access_token"]).status_code == 204
    assert_error(api.get("/me", token=tokens["access_token"]), 401)
    assert_error(api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 401)


def forged(claims_update=None, header_update=None, key=None, alg="RS256", drop=()):
    now = int(time.time())
    claims = {"iss": "sferum-identity", "aud": "sferum", "sub": "u1", "sid": "s1",
              "typ": "access", "iat": now, "exp": now + 600}
    claims.update(claims_update or {})
    for name in drop:
        claims.pop(name)
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm=alg, headers=header_update)


def resign(identity_app, token, **claims_update):
    """The same token's claims, changed and signed again with identity's real key."""
    from services.identity.models import SigningKey
    from cryptography.hazmat.primitives import serialization

    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(claims_update)
    with identity_app.extensions["sferum"].connection():
        stored = SigningKey.select().first()
    key = serialization.load_pem_private_key(stored.private_pem.encode(),
                                             password=b"test-secret-key-for-tests-only")
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": stored.kid})


def public_key_as_hmac_secret(api, token, kid):
    """The algorithm-confusion forgery: the token's claims signed with HS256,
    identity's published public key (PEM) as the secret. PyJWT refuses to
    sign that way, so it is put together by hand."""
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    published = next(k for k in api.get("/.well-known/jwks.json").json["keys"] if k["kid"] == kid)
    pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(published)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signed = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()) + "." + token.split(".")[1]
    return signed + "." + part(hmac.new(pem, signed.encode(), hashlib.sha256).digest())


def test_bad_access_tokens_are_refused(api, identity_app):
    tokens = api.sign_in(phone(14))
    good = tokens["access_token"]
    assert api.get("/me", token=good).status_code == 200
    header, payload, _ = good.split(".")
    import base64
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    kid = jwt.get_unverified_header(good)["kid"]
    cases = {
        "alg none": f"{none_header}.{payload}.",
        "another key, same kid": forged({"sub": tokens["user"]["id"]}, {"kid": kid}),
        "HS256 with the public key": public_key_as_hmac_secret(api, good, kid),
        "wrong audience": resign(identity_app, good, aud="another-platform"),
        "wrong issuer": resign(identity_app, good, iss="someone-else"),
        "expired": resign(identity_app, good, exp=int(time.time()) - 120, iat=int(time.time()) - 1200),
        "not an access token": resign(identity_app, good, typ="refresh"),
        "refresh token as access token": tokens["refresh_token"],
        "garbage": "not-a-token",
        "tampered payload": f"{header}.{payload[:-4]}AAAA.{good.split('.')[2]}",
    }
    for name, token in cases.items():
        response = api.get("/me", token=token)
        assert response.status_code == 401, name
        assert_error(response, 401)


def test_profiles_never_show_phones_and_only_to_allowed_viewers(api):
    alice = api.sign_in(phone(15))
    bob = api.sign_in(phone(16))
    own = api.get(f"/users/{alice['user']['id']}", token=alice["access_token"])
    assert own.status_code == 200 and set(own.json) == {"id", "display_name", "teacher_verified"}
    # Sharing no organisation: another user's profile does not exist for Bob.
    assert_error(api.get(f"/users/{alice['user']['id']}", token=bob["access_token"]), 404)
    assert_error(api.get("/users/nonexistent", token=bob["access_token"]), 404)


def test_rename_publishes_user_updated(api, identity_app):
    tokens = api.sign_in(phone(17))
    response = api.patch("/me", {"display_name": "  Анна Петровна  "}, token=tokens["access_token"])
    assert response.status_code == 200 and response.json["display_name"] == "Анна Петровна"
    runtime = identity_app.extensions["sferum"]
    with runtime.connection():
        bodies = [json.loads(row.body) for row in runtime.kit.Outbox.select()]
    types = [body["type"] for body in bodies]
    assert types == ["identity.user.registered", "identity.user.updated"]
    assert bodies[1]["data"] == {"user_id": tokens["user"]["id"], "display_name": "Анна Петровна"}
    assert bodies[0]["data"]["phone"] == phone(17)


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/auth/otp", None),
    ("POST", "/auth/otp", []),
    ("POST", "/auth/otp", {}),
    ("POST", "/auth/otp", {"phone": 79001234567}),
    ("POST", "/auth/otp", {"phone": "+7 999"}),
    ("POST", "/auth/otp", {"phone": "x" * 10_000}),
    ("POST", "/auth/otp", {"phone": "+79001234567", "admin": True}),
    ("POST", "/auth/email-otp", {"email": "not-an-address"}),
    ("POST", "/auth/token", {"phone": "+79001234567"}),
    ("POST", "/auth/token", {"phone": "+79001234567", "code": "12345a"}),
    ("POST", "/auth/token", {"phone": "+79001234567", "email": "a@b.org", "code": "123456"}),
    ("POST", "/auth/token", {"code": "123456"}),
    ("POST", "/auth/token", {"phone": None, "code": None}),
    ("POST", "/auth/refresh", {"refresh_token": ""}),
    ("POST", "/auth/refresh", {"refresh_token": ["a"]}),
])
def test_bad_input_gets_a_json_4xx(api, method, path, body):
    response = api.request(method, path, json=body)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


def test_bad_profile_updates(api):
    token = api.sign_in(phone(18))["access_token"]
    for body in ({"display_name": ""}, {"display_name": "   "}, {"display_name": "x" * 101},
                 {"display_name": 5}, {"phone": "+79990000000"}, {}):
        assert_error(api.patch("/me", body, token=token), 422)
    assert api.get("/me", token=token).json["display_name"] == ""


def test_malformed_json_body(api):
    response = api.request("POST", "/auth/otp", data="{not json", content_type="application/json")
    assert_error(response, 400)


def test_operator_phones_get_operator_tokens(tmp_path):
    _, api = make_identity(tmp_path, OPERATOR_PHONES="+79000000099", OPERATOR_REGIONS="r1,r2")
    operator = jwt.decode(api.sign_in("+79000000099")["access_token"], options={"verify_signature": False})
    someone = jwt.decode(api.sign_in(phone(19))["access_token"], options={"verify_signature": False})
    assert operator["op"] is True and operator["op_regions"] == ["r1", "r2"]
    assert "op" not in someone


def test_key_rotation_keeps_old_tokens_valid_until_retired(tmp_path):
    app, api = make_identity(tmp_path)
    from services.identity import signing_keys

    old = api.sign_in(phone(20))["access_token"]
    with app.extensions["sferum"].connection():
        signing_keys.rotate("test-secret-key-for-tests-only", grace_seconds=3600)
    app.extensions["identity"].tokens.signer.reload_every = 0
    new = api.sign_in(phone(21))["access_token"]
    kids = [key["kid"] for key in api.get("/.well-known/jwks.json").json["keys"]]
    assert jwt.get_unverified_header(new)["kid"] == kids[0] != jwt.get_unverified_header(old)["kid"]
    assert len(kids) == 2
    assert api.get("/me", token=old).status_code == 200
    assert api.get("/me", token=new).status_code == 200
    with app.extensions["sferum"].connection():
        models.SigningKey.update(retire_after=utcnow() - timedelta(seconds=1)).where(
            models.SigningKey.kid != kids[0]).execute()
    assert [key["kid"] for key in api.get("/.well-known/jwks.json").json["keys"]] == kids[:1]


def test_dev_outbox_is_absent_outside_dev_mode(tmp_path):
    env = dev_env(tmp_path, SMS_PROVIDER="http", SMS_GATEWAY_URL="http://127.0.0.1:9/sms",
                  MAIL_PROVIDER="smtp")
    env.pop("SFERUM_DEV")
    app = build("identity", Settings.from_env("identity", env))
    app.extensions["sferum"].migrate()
    assert_error(Api(app.test_client()).get("/dev/outbox"), 404)


def test_production_refuses_console_providers_and_missing_secret(tmp_path):
    env = dev_env(tmp_path)
    env.pop("SFERUM_DEV")
    with pytest.raises(RuntimeError, match="console"):
        build("identity", Settings.from_env("identity", env))
    env.pop("SECRET_KEY")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        build("identity", Settings.from_env("identity", env))
    # The services that never sign or hash with it start without it.
    assert Settings.from_env("messaging", env).secret_key == ""
    assert build("calls", Settings.from_env("calls", env)).name == "sferum.calls"


def test_a_code_at_the_failure_limit_is_refused_even_when_right(tmp_path):
    """A code whose failures reached the limit (here: the limit was lowered
    after it was sent) is never checked again."""
    app, api = make_identity(tmp_path, OTP_MAX_ATTEMPTS=5)
    api.post("/auth/otp", {"phone": phone(22)})
    code = latest_code(api, phone(22))
    with app.extensions["sferum"].connection():
        models.LoginCode.update(failed_attempts=5).execute()
    assert_error(api.post("/auth/token", {"phone": phone(22), "code": code}), 400, "invalid_code")
