"""The real delivery providers, against a real SMTP server and an HTTP gateway."""
import json
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller

from services.common.config import Settings
from devkit.helpers import Api, assert_error, dev_env, phone, reset_memory_bus
from services.common.wsgi import build
from devkit.distributed import free_port
from services.identity import models


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


class SmsGateway(BaseHTTPRequestHandler):
    received = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SmsGateway.received.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(SmsGateway.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_gateway():
    SmsGateway.received, SmsGateway.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), SmsGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send", SmsGateway
    server.shutdown()


def production_identity(tmp_path, **env):
    reset_memory_bus()
    environment = dev_env(tmp_path, **env)
    environment.pop("SFERUM_DEV")
    app = build("identity", Settings.from_env("identity", environment))
    app.extensions["sferum"].migrate()
    return app, Api(app.test_client())


def test_email_codes_go_out_over_smtp(tmp_path, smtp_server, sms_gateway):
    controller, inbox = smtp_server
    app, api = production_identity(tmp_path, MAIL_PROVIDER="smtp", SMTP_HOST="127.0.0.1",
                              SMTP_PORT=controller.port, SMTP_FROM="codes@school.example",
                              SMS_PROVIDER="http", SMS_GATEWAY_URL=sms_gateway[0])
    assert api.post("/auth/email-otp", {"email": "mama@example.org"}).status_code == 202
    [(recipients, message)] = inbox.messages
    assert recipients == ["mama@example.org"] and message["From"] == "codes@school.example"
    text = message.get_payload(decode=True).decode()
    code = text.split("Сферум: ")[1][:6]
    tokens = api.post("/auth/token", {"email": "mama@example.org", "code": code})
    assert tokens.status_code == 200
    with app.extensions["sferum"].connection():
        assert models.DevMessage.select().count() == 0


def test_sms_codes_go_to_the_http_gateway(tmp_path, sms_gateway):
    url, gateway = sms_gateway
    app, api = production_identity(tmp_path, SMS_PROVIDER="http", SMS_GATEWAY_URL=url,
                              SMS_GATEWAY_TOKEN="s3cret", MAIL_PROVIDER="smtp")
    assert api.post("/auth/otp", {"phone": phone(1)}).status_code == 202
    [(authorization, body)] = gateway.received
    assert authorization == "Bearer s3cret" and body["to"] == phone(1)
    code = body["text"].split("Сферум: ")[1][:6]
    assert api.post("/auth/token", {"phone": phone(1), "code": code}).status_code == 200


def test_a_failed_delivery_is_503_and_does_not_count(tmp_path, sms_gateway):
    url, gateway = sms_gateway
    gateway.status = 500
    app, api = production_identity(tmp_path, SMS_PROVIDER="http", SMS_GATEWAY_URL=url, MAIL_PROVIDER="smtp")
    assert_error(api.post("/auth/otp", {"phone": phone(2)}), 503, "delivery_failed")
    gateway.status = 200
    # No cooldown: the failed attempt left no code behind.
    assert api.post("/auth/otp", {"phone": phone(2)}).status_code == 202


def test_unreachable_smtp_server_is_503(tmp_path, sms_gateway):
    app, api = production_identity(tmp_path, MAIL_PROVIDER="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(),
                              SMS_PROVIDER="http", SMS_GATEWAY_URL=sms_gateway[0])
    assert_error(api.post("/auth/email-otp", {"email": "a@example.org"}), 503, "delivery_failed")

