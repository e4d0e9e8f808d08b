"""identity's HTTP endpoints: thin adapters around the domain modules."""
from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.errors import ErrorSchema, NotFound
from services.common.pagination import paginate
from services.common.phones import normalise_phone
from services.common.requests import field_error, runtime

from . import login_codes, organisations, schemas, signing_keys, users
from .models import DevMessage, User

blp = Blueprint("identity", __name__, description="Sign-in, sessions, profiles, signing keys")
BEARER = [{"bearerAuth": []}]


def ctx():
    return current_app.extensions["identity"]


def signed_in_user() -> User:
    """The caller, whose session must still be active (logout is immediate here)."""
    principal = current_user()
    ctx().tokens.active_session(principal.session_id)
    return users.get_user(principal.id)


def _phone(raw: str) -> str:
    try:
        return normalise_phone(raw, ctx().config.default_region)
    except ValueError:
        raise field_error("phone", "Not a valid mobile phone number.") from None


def _send_code(channel: str, destination: str):
    identity = ctx()
    row, code = login_codes.issue(identity.config, runtime().settings.secret_key, channel,
                                  destination, request.remote_addr)
    try:
        identity.providers[channel].send(destination, code)
    except Exception:
        login_codes.withdraw(row)
        raise
    return {"status": "sent", "expires_in": identity.config.code_lifetime,
            "resend_after": identity.config.resend_cooldown}


@blp.route("/auth/otp", methods=["POST"])
@blp.arguments(schemas.PhoneCodeRequest())
@blp.response(202, schemas.CodeSent)
@blp.alt_response(429, schema=ErrorSchema, description="Too many codes; see Retry-After")
def send_phone_code(body):
    """Send a sign-in code by SMS."""
    return _send_code("sms", _phone(body["phone"]))


@blp.route("/auth/email-otp", methods=["POST"])
@blp.arguments(schemas.EmailCodeRequest())
@blp.response(202, schemas.CodeSent)
@blp.alt_response(429, schema=ErrorSchema, description="Too many codes; see Retry-After")
def send_email_code(body):
    """Send a sign-in code by e-mail (primary-school students use a parent's address)."""
    return _send_code("email", body["email"].strip().lower())


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(schemas.TokenRequest())
@blp.response(200, schemas.TokenPair)
@blp.alt_response(400, schema=ErrorSchema, description="Wrong or expired code")
def sign_in(body):
    """Exchange a code for tokens; the user is created on the first sign-in."""
    identity = ctx()
    phone = _phone(body["phone"]) if body.get("phone") else None
    email = body["email"].strip().lower() if body.get("email") else None
    login_codes.redeem(identity.config, runtime().settings.secret_key, phone or email, body["code"])
    user = users.sign_in_user(runtime().outbox, phone=phone, email=email)
    return identity.tokens.start_session(user, request.headers.get("User-Agent", ""))


@blp.route("/auth/refresh", methods=["POST"])
@blp.arguments(schemas.RefreshRequest())
@blp.response(200, schemas.TokenPair)
@blp.alt_response(401, schema=ErrorSchema)
def refresh(body):
    """A new token pair; the refresh token given stops working."""
    return ctx().tokens.refresh(body["refresh_token"])


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@blp.doc(security=BEARER)
def logout():
    """End the current session."""
    principal = current_user()
    ctx().tokens.logout(principal.session_id)


@blp.route("/me", methods=["GET"])
@blp.response(200, schemas.OwnProfile)
@blp.doc(security=BEARER)
def me():
    return users.own_profile(signed_in_user())


@blp.route("/me", methods=["PATCH"])
@blp.arguments(schemas.ProfileUpdate())
@blp.response(200, schemas.OwnProfile)
@blp.doc(security=BEARER)
def update_me(body):
    name = body["display_name"].strip()
    if not name:
        raise field_error("display_name", "The name cannot be blank.")
    return users.own_profile(users.rename(runtime().outbox, signed_in_user(), name))


@blp.route("/users/<user_id>", methods=["GET"])
@blp.response(200, schemas.PublicProfile)
@blp.doc(security=BEARER)
def profile(user_id):
    """A public profile: never a phone or an e-mail."""
    return users.visible_profile(signed_in_user().id, user_id)


@blp.route("/.well-known/jwks.json", methods=["GET"])
@blp.response(200, schemas.Jwks)
def jwks():
    """The public keys that verify access tokens."""
    return signing_keys.jwks(runtime().settings.secret_key)


@blp.route("/dev/outbox", methods=["GET"])
@blp.arguments(schemas.OutboxQuery(), location="query")
@blp.response(200, schemas.DevOutbox)
def dev_outbox(query):
    """What the console providers sent (only with SFERUM_DEV=1)."""
    if not runtime().settings.dev:
        raise NotFound()
    rows = DevMessage.select().order_by(DevMessage.id.desc()).limit(100)
    if query.get("to"):
        to = query["to"]
        try:
            to = normalise_phone(to, ctx().config.default_region)
        except ValueError:
            to = to.strip().lower()
        rows = rows.where(DevMessage.to == to)
    return {"items": [{"to": r.to, "channel": r.channel, "code": r.code,
                       "sent_at": r.sent_at.isoformat(timespec="seconds") + "Z"} for r in rows]}


@blp.route("/verifications", methods=["POST"])
@blp.arguments(schemas.VerificationRequest())
@blp.response(201, schemas.Verification)
@blp.doc(security=BEARER)
def request_verification(body):
    """A teacher asks an admin of the organisation to confirm the teacher status."""
    return organisations.request_verification(signed_in_user(), body["org_id"])


@blp.route("/orgs/<org_id>/verifications", methods=["GET"])
@blp.arguments(schemas.VerificationQuery(), location="query")
@blp.response(200, schemas.VerificationPage)
@blp.doc(security=BEARER)
def list_verifications(query, org_id):
    found = organisations.verifications(signed_in_user().id, org_id, query.get("status"))
    return paginate(found, query["limit"], query["cursor"])


@blp.route("/verifications/<verification_id>/approve", methods=["POST"])
@blp.response(200, schemas.Verification)
@blp.doc(security=BEARER)
def approve_verification(verification_id):
    """Confirm the teacher status: the badge shows in profiles and member lists."""
    return organisations.decide(runtime().outbox, signed_in_user().id, verification_id, approve=True)


@blp.route("/verifications/<verification_id>/reject", methods=["POST"])
@blp.response(200, schemas.Verification)
@blp.doc(security=BEARER)
def reject_verification(verification_id):
    return organisations.decide(runtime().outbox, signed_in_user().id, verification_id, approve=False)
