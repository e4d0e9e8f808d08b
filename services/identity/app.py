"""identity: users, sign-in codes, sessions and tokens, signing keys."""
from __future__ import annotations

from dataclasses import dataclass

from werkzeug.middleware.proxy_fix import ProxyFix

from services.common.auth import KeySet, Trust
from services.common.config import Settings, require_secret_key
from services.common.revocation import REVOCATIONS_PATH, Revocations
from services.common.web import create_service

from . import api, erasure, notices, signing_keys
from .config import IdentityConfig
from .providers import make_providers
from .sessions import Tokens


@dataclass
class IdentityContext:
    config: IdentityConfig
    tokens: Tokens
    providers: dict


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env("identity")
    require_secret_key(settings)
    config = IdentityConfig.from_settings(settings)

    def local_jwks() -> dict:
        with app.extensions["sferum"].connection():
            return signing_keys.jwks(settings.secret_key)

    def local_revocations() -> dict:
        with app.extensions["sferum"].connection():
            return tokens.revocations()

    # identity verifies its own tokens from its own tables, not over HTTP.
    trust = Trust(KeySet(local_jwks, min_refetch_interval=1.0), Revocations(local_revocations))
    app = create_service(settings, title="Sferum identity", trust=trust)
    signer = signing_keys.Signer(settings.secret_key)
    # Another replica, or the command, retired the key this one signs with.
    trust.revocations.listen(key=signer.forget)
    tokens = Tokens(config, signer, settings.jwt_issuer, settings.jwt_audience,
                    settings.operator_regions)
    providers = make_providers(config)
    app.extensions["identity"] = IdentityContext(config, tokens, providers)
    runtime = app.extensions["sferum"]

    def send_notices(stop):
        notices.run(runtime, providers, stop)

    def due_erasures(stop):
        erasure.run(runtime.service, tokens, stop, after_commit=runtime.relay_what_was_written)

    runtime.background += [send_notices, due_erasures]
    app.add_url_rule(REVOCATIONS_PATH, "revocations", api.revocations)
    # The gateway appends the client's address to X-Forwarded-For.
    hops = int(settings.env.get("TRUSTED_PROXY_HOPS", "1"))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)
    return app
