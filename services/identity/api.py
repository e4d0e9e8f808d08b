"""identity's HTTP endpoints: thin adapters around the domain modules."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.errors import ErrorSchema, NotFound
from services.common.pagination import paginate
from services.common.phones import normalise_phone
from services.common.requests import field_error, runtime, service

from . import erasure, login_codes, organisations, schemas, signing_keys, users
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


def signed_in_principal():
    """The caller as `signed_in_user` checks them, with what their token says
    (operator rights)."""
    signed_in_user()
    return current_user()


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
    """Exchange a code for tokens; the user is created on the first sign-in.

    A parent's e-mail address may sign in each of their primary-school
    children, each into their own account. With several accounts on the
    address and no `account_id`, the answer is the list to choose from
    (`choose_account: true`, `accounts`: ids and names only), and the code
    stays good for the choice; `account_id: "new"` makes another account on
    the address (another child)."""
    identity = ctx()
    secret_key = runtime().settings.secret_key
    if body.get("phone"):
        if body.get("account_id"):
            raise field_error("account_id", "Accounts are chosen when signing in by e-mail.")
        phone = _phone(body["phone"])
        login_codes.redeem(identity.config, secret_key, phone, body["code"])
        user = users.sign_in_user(service(), phone=phone)
    else:
        email = body["email"].strip().lower()
        login_codes.redeem(identity.config, secret_key, email, body["code"], use=False)
        user = users.email_account(service(), email, body.get("account_id"), use_code=lambda: login_codes.redeem(
            identity.config, secret_key, email, body["code"]))
        if isinstance(user, dict):
            return user
    return identity.tokens.start_session(user, request.headers.get("User-Agent", ""))


@blp.route("/auth/refresh", methods=["POST"])
@blp.arguments(schemas.RefreshRequest())
@blp.response(200, schemas.TokenPair)
@blp.alt_response(401, schema=ErrorSchema)
def refresh(body):
    """A new token pair; the refresh token given stops working."""
    return ctx().tokens.refresh(service(), body["refresh_token"])


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@blp.doc(security=BEARER)
def logout():
    """End the current session."""
    principal = current_user()
    ctx().tokens.logout(service(), principal.session_id)


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
    return users.own_profile(users.rename(service(), signed_in_user(), name))


# Personal data (152-FZ).

@blp.route("/me/export/identity", methods=["GET"])
@blp.response(200, schemas.IdentityExport)
@blp.doc(security=BEARER)
def export_mine():
    """identity's part of `GET /me/export`: the profile, sign-ins, teacher
    status, children and a waiting erasure."""
    return users.export(signed_in_user())


ERASURE_ERRORS = (
    (403, "`not_a_parent`: someone of the person's school who is neither the person nor their parent"),
    (404, "no such user, or one the caller shares no school with; `no_erasure_pending` when there is none "
          "to show or cancel"),
    (409, "`sole_admin`: the only administrator of a school (details: `org_ids`) appoints another one first; "
          "`erasure_under_way` once `erase_at` has passed"),
)


def _erasure_errors(view):
    for status, description in ERASURE_ERRORS:
        view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
    return blp.doc(security=BEARER)(view)


def _ask_erasure(person_id: str):
    made = erasure.request(service(), ctx().config.erasure_grace_seconds, signed_in_principal(), person_id)
    return erasure.view(made), 202


@blp.route("/me", methods=["DELETE"])
@blp.response(202, schemas.ErasureState)
@_erasure_errors
def erase_me():
    """Ask for one's data to be erased (152-FZ). It is carried out at
    `erase_at`, after a grace period (ERASURE_GRACE_SECONDS, a week by
    default) during which `DELETE /me/erasure` cancels it; asking again
    answers the same request. Then every service removes or anonymises the
    person's data; messages stay in their chats, by «Удалённый пользователь»."""
    return _ask_erasure(current_user().id)


@blp.route("/users/<user_id>", methods=["DELETE"])
@blp.response(202, schemas.ErasureState)
@_erasure_errors
def erase_child(user_id):
    """A parent asks for their child's data to be erased, as `DELETE /me`."""
    return _ask_erasure(user_id)


@blp.route("/me/erasure", methods=["GET"])
@blp.response(200, schemas.ErasureState)
@_erasure_errors
def my_erasure():
    """The erasure of one's data that is waiting, if any."""
    return erasure.view(erasure.waiting_for(signed_in_principal(), current_user().id))


@blp.route("/me/erasure", methods=["DELETE"])
@blp.response(204)
@_erasure_errors
def cancel_my_erasure():
    """Changed one's mind: the waiting erasure is cancelled."""
    erasure.cancel(service(), signed_in_principal(), current_user().id)


@blp.route("/users/<user_id>/erasure", methods=["GET"])
@blp.response(200, schemas.ErasureState)
@_erasure_errors
def child_erasure(user_id):
    """The erasure of one's child's data that is waiting, if any."""
    return erasure.view(erasure.waiting_for(signed_in_principal(), user_id))


@blp.route("/users/<user_id>/erasure", methods=["DELETE"])
@blp.response(204)
@_erasure_errors
def cancel_child_erasure(user_id):
    """The person or either parent cancels a waiting erasure."""
    erasure.cancel(service(), signed_in_principal(), user_id)


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


def revocations():
    """For the processes that verify tokens, not for clients (outside /api/v1,
    so the gateway never forwards it): the sessions and keys taken back whose
    tokens may not have expired yet."""
    return jsonify(ctx().tokens.revocations())


@blp.route("/dev/outbox", methods=["GET"])
@blp.arguments(schemas.OutboxQuery(), location="query")
@blp.response(200, schemas.DevOutbox)
def dev_outbox(query):
    """What the console providers sent (only with SFERUM_DEV=1): sign-in codes
    (`code`) and notices (`text`: invites, applications' decisions)."""
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
    return {"items": [{"to": r.to, "channel": r.channel, "code": r.code or None, "text": r.text or None,
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
@blp.alt_response(403, schema=ErrorSchema, description="A member who is not an administrator")
@blp.alt_response(404, schema=ErrorSchema, description="Not a member of this organisation, nor the "
                                                       "operator of its region")
@blp.doc(security=BEARER)
def list_verifications(query, org_id):
    """Teachers' requests for the teacher status.

    All of them for an administrator of the organisation; for the operator of
    its region, those it decides (the own request of a school's single
    administrator)."""
    found = organisations.verifications(signed_in_principal(), org_id, query.get("status"))
    return paginate(found, query["limit"], query["cursor"])


def decision(view):
    """What approving and rejecting a request answer, and who may."""
    for status, description in (
            (403, "Not allowed to decide this request; the message says why "
                  "(`own_request`, `decided_by_admins`, `forbidden`)"),
            (404, "No such request in an organisation of the caller's (or of a region they operate)"),
            (409, "Decided already")):
        view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
    return blp.doc(security=BEARER, description=(
        "An administrator of the organisation decides, never on their own request; the operator of the "
        "organisation's region decides only the own request of a school's single administrator."))(view)


@blp.route("/verifications/<verification_id>/approve", methods=["POST"])
@blp.response(200, schemas.Verification)
@decision
def approve_verification(verification_id):
    """Confirm the teacher status: the badge shows in profiles and member lists."""
    return organisations.decide(service(), signed_in_principal(), verification_id, approve=True)


@blp.route("/verifications/<verification_id>/reject", methods=["POST"])
@blp.response(200, schemas.Verification)
@decision
def reject_verification(verification_id):
    """Refuse the teacher status."""
    return organisations.decide(service(), signed_in_principal(), verification_id, approve=False)
