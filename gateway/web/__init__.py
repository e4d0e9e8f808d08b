"""The web client, served by the gateway: its pages and files, the browser's
session (gateway.web.session), stream tickets (gateway.web.tickets), the API
documentation from files shipped with the platform, and the security headers
of everything the gateway's Flask app answers."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, request

from services.common.auth import bearer_token
from services.common.errors import NotFound, TooManyRequests, Unauthorized
from services.common.web import API_PREFIX

from . import assets
from .session import CSRF_COOKIE, SessionEndpoints, set_csrf_cookie
from .tickets import StreamTickets, stream_principal

__all__ = ["install", "StreamTickets", "stream_principal"]

STATIC = Path(__file__).parent / "static"
# Paths of the client's own screens: each answers the same page, which shows
# the screen the path names. Calls screens add theirs here.
PAGES = ("/", "/signin", "/join/<token>", "/chat/<token>", "/chats", "/chats/<chat_id>", "/profile",
         "/admin", "/admin/<path:rest>", "/operator", "/operator/<path:rest>", "/moderation",
         "/moderation/<path:rest>")


def content_security_policy() -> str:
    host = request.host
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"font-src 'self'; connect-src 'self' ws://{host} wss://{host}; media-src 'self' blob:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Invite links carry their token in the path: it must not leave in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
}


def _swagger() -> assets.Directory | None:
    try:
        import swagger_ui_bundle
    except ImportError:  # pragma: no cover - a dependency of the platform
        return None
    return assets.Directory(Path(swagger_ui_bundle.swagger_ui_path))


def install(app: Flask, *, identity, verifier, limiter, tickets: StreamTickets) -> None:
    client = assets.Directory(STATIC)
    swagger = _swagger()
    swagger_version = swagger.root.name if swagger else ""
    blp = Blueprint("web", __name__)

    def page(template: str, **values) -> Response:
        html = client.get(template).content.decode()
        for name, value in dict(values, static=f"/static/{client.version}").items():
            html = html.replace("{{" + name + "}}", value)
        response = Response(html, mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        if not request.cookies.get(CSRF_COOKIE):
            set_csrf_cookie(response)
        return response

    def client_page(**_path_values):
        return page("index.html")

    for number, path in enumerate(PAGES):
        blp.add_url_rule(path, f"page{number}", client_page, methods=["GET"])

    @blp.get("/static/<version>/<path:name>")
    def static_file(version, name):
        asset = client.get(name)
        if asset is None:
            raise NotFound("No such file.")
        return assets.respond(asset, assets.immutable(version, client.version))

    @blp.get("/api/docs")
    def docs():
        return page("docs.html", swagger=f"/api/docs/{swagger_version}")

    @blp.get("/api/docs/<version>/<path:name>")
    def docs_file(version, name):
        asset = swagger.get(name) if swagger else None
        if asset is None or name.endswith((".html", ".j2")):
            raise NotFound("No such file.")
        return assets.respond(asset, assets.immutable(version, swagger_version))

    @blp.post(f"{API_PREFIX}/stream/ticket")
    def stream_ticket():
        """A ticket that opens the realtime stream once, within 30 seconds."""
        token = bearer_token(request.headers)
        if not token:
            raise Unauthorized()
        principal = verifier.verify(token)
        wait = limiter.check(principal.id)
        if wait:
            raise TooManyRequests(wait)
        response = jsonify(tickets.issue(principal))
        response.headers["Cache-Control"] = "no-store"
        return response

    app.register_blueprint(blp)
    app.register_blueprint(SessionEndpoints(identity, limiter).blueprint())

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
