"""identity: users, sign-in codes, sessions and tokens, signing keys."""
from __future__ import annotations

from dataclasses import dataclass

from werkzeug.middleware.proxy_fix import ProxyFix

from services.common.auth import KeySet
from services.common.config import Settings, require_secret_key
from services.common.web import create_service

from . import models, signing_keys
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
        with models.db.connection_context():
            return signing_keys.jwks(settings.secret_key)

    # identity verifies its own tokens from its own table, not over HTTP.
    app = create_service(settings, title="Sferum identity",
                         keys=KeySet(local_jwks, min_refetch_interval=1.0))
    signer = signing_keys.Signer(settings.secret_key)
    tokens = Tokens(config, signer, settings.jwt_issuer, settings.jwt_audience,
                    settings.operator_regions)
    app.extensions["identity"] = IdentityContext(config, tokens, make_providers(config))
    # The gateway appends the client's address to X-Forwarded-For.
    hops = int(settings.env.get("TRUSTED_PROXY_HOPS", "1"))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)
    return app
