"""Malformed requests are the client's fault, never a 500: JSON nested past
any request of the API or holding an unpaired surrogate is a 400, a body
larger than its endpoint takes is a 413 before it is parsed, and an id with
percent-encoded bytes that are no UTF-8 is an id that does not exist (404).
Every service and the gateway, in the JSON error format, with nothing changed."""
from __future__ import annotations

import io

import pytest

from services.common.bodies import JSON_MAX_BYTES, MAX_JSON_DEPTH, json_problem
from services.common.config import SERVICES
from devkit.helpers import Response, assert_error, phone

JSON = "application/json"
DEEP = b"[" * 5000 + b"]" * 5000  # past the interpreter's stack when parsed recursively
JUST_TOO_DEEP = b'{"a":' * MAX_JSON_DEPTH + b"[1]" + b"}" * MAX_JSON_DEPTH
# One path for each service: an endpoint taking JSON where the service has one.
JSON_PATHS = {"identity": "/api/v1/auth/otp", "orgstructure": "/api/v1/applications",
              "messaging": "/api/v1/chats", "calls": "/api/v1/calls", "moderation": "/api/v1/reports"}


@pytest.mark.parametrize("body,problem", [
    (DEEP, "nested_too_deeply"),
    (JUST_TOO_DEEP, "nested_too_deeply"),
    (b'{"text": "\\ud800"}', "unpaired_surrogate"),
    (b'{"text": "\\udc00 trailing"}', "unpaired_surrogate"),
    (b'{"\\ud83d": "key"}', "unpaired_surrogate"),
    (b'{"text": "\\ud83d\\ude00"}', None),  # a pair: one emoji, escaped as clients do
    (b'{"text": "\\\\ud800"}', None),  # an escaped backslash, then letters
    (b'{"a":' * (MAX_JSON_DEPTH - 1) + b"[1]" + b"}" * (MAX_JSON_DEPTH - 1), None),
    (b'{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),  # brackets inside a string
    (b"[" * 40, None),  # not JSON at all: the endpoint's parser says so
])
def test_what_json_is_refused_before_parsing(body, problem):
    assert json_problem(body) == problem


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_json_it_could_not_store_with_400(embedded, service):
    client = embedded.apps[service].test_client()
    path = JSON_PATHS[service]
    for body, code in ((DEEP, "nested_too_deeply"), (b'{"phone": "\\udfff"}', "unpaired_surrogate")):
        response = client.post(path, data=body, content_type=JSON)
        assert response.status_code == 400, (service, response.data)
        assert response.get_json()["error"]["code"] == code
        assert set(response.get_json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_a_json_body_over_its_limit_with_413_before_reading_it(embedded, service):
    client = embedded.apps[service].test_client()
    body = b'{"phone": "' + b"1" * JSON_MAX_BYTES + b'"}'
    response = client.post(JSON_PATHS[service], data=body, content_type=JSON)
    assert response.status_code == 413, response.data
    assert response.get_json()["error"] == {
        "code": "payload_too_large", "details": {"max_bytes": JSON_MAX_BYTES},
        "message": f"The request body is larger than this endpoint takes ({JSON_MAX_BYTES} bytes)."}


def _body_of(size: int) -> bytes:
    return b'{"phone": "' + b"1" * (size - len(b'{"phone": ""}')) + b'"}'


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_not_as_gunicorn_serves_it(embedded, chunked):
    # gunicorn says its input ends where the body does; werkzeug then caps reads itself.
    client = embedded.apps["identity"].test_client()
    for size, refused in ((JSON_MAX_BYTES, False), (JSON_MAX_BYTES + 1, True), (JSON_MAX_BYTES + 2, True)):
        body = _body_of(size)
        headers = {"Transfer-Encoding": "chunked"} if chunked else {}
        response = client.post(JSON_PATHS["identity"], input_stream=io.BytesIO(body), content_type=JSON,
                               content_length=None if chunked else size, headers=headers,
                               environ_overrides={"wsgi.input_terminated": True})
        assert (response.status_code == 413) == refused, (size, response.status_code, response.data)
        if refused:
            assert response.get_json()["error"]["code"] == "payload_too_large"


def test_the_gateway_refuses_the_same_on_its_own_paths_and_passes_the_services_answers_on(embedded):
    client = embedded.gateway.test_client()
    for path in ("/healthz", "/api/v1/stream"):
        assert_error(_answer(client.post(path, data=DEEP, content_type=JSON)), 400, "nested_too_deeply")
        assert_error(_answer(client.post(path, data=b'{"a": "\\ud800"}', content_type=JSON)), 400,
                     "unpaired_surrogate")
    assert_error(_answer(client.post("/api/v1/auth/otp", data=DEEP, content_type=JSON)), 400, "nested_too_deeply")


def test_a_refused_body_changes_nothing(embedded):
    api = embedded.api
    token = api.sign_in(phone(1))["access_token"]
    assert api.patch("/me", {"display_name": "Анна"}, token=token).status_code == 200
    for body in (b'{"display_name": "\\ud800"}', b'{"display_name": ' + b"[" * 3000 + b"]" * 3000 + b"}"):
        response = api.request("PATCH", "/me", token=token, data=body, headers={"Content-Type": JSON})
        assert_error(response, 400)
    assert api.get("/me", token=token).json["display_name"] == "Анна"
    # An emoji, escaped as most clients send it, is text like any other.
    emoji = api.request("PATCH", "/me", token=token, data=b'{"display_name": "\\u0410\\u043d\\u043d\\u0430 \\ud83d\\ude00"}',
                        headers={"Content-Type": JSON})
    assert emoji.status_code == 200 and emoji.json["display_name"] == "Анна 😀"


def test_uploads_take_more_than_json_and_json_endpoints_no_more_than_json(embedded):
    api = embedded.api
    token = api.sign_in(phone(2))["access_token"]
    pdf = b"%PDF-1.7\n" + b"0" * (2 * JSON_MAX_BYTES)
    uploaded = api.post("/files", token=token, data={"file": (io.BytesIO(pdf), "plan.pdf")},
                        content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded
    # The same size as JSON to an endpoint that takes JSON: refused before anything is parsed.
    too_large = api.request("POST", "/chats", token=token, data=b"[" + b"0," * JSON_MAX_BYTES + b"0]",
                            headers={"Content-Type": JSON})
    assert_error(too_large, 413, "payload_too_large")


# Every operation with an id in its path, as the schema-driven run found them: bytes that are
# no UTF-8 in an id reached the in-process service as a path werkzeug could not encode;
# a newline in an id went into the header naming the facts a refusal lacked.
ODD_IDS = ["%C3%BD%F2", "a%0Ab", "%0D%0Aa", "a%2C%0A"]


@pytest.mark.parametrize("odd_id", ODD_IDS)
@pytest.mark.parametrize("method,path,body", [
    ("GET", "/chats/{id}", None), ("GET", "/chats/{id}/messages", None),
    ("POST", "/chats/{id}/messages", {"text": "Привет"}), ("PATCH", "/messages/{id}", {"text": "Привет"}),
    ("DELETE", "/messages/{id}", None), ("GET", "/invites/{id}", None), ("POST", "/invites/{id}/accept", None),
    ("GET", "/chat-invites/{id}", None), ("GET", "/orgs/{id}/units", None), ("GET", "/users/{id}", None),
    ("POST", "/verifications/{id}/reject", None), ("GET", "/polls/{id}", None),
    ("POST", "/chat-invitations/{id}/decline", None), ("GET", "/files/{id}", None), ("GET", "/calls/{id}", None),
    ("GET", "/orgs/{id}/verifications", None), ("DELETE", "/users/{id}", None),
])
def test_an_id_with_bytes_that_are_no_utf8_or_a_line_break_is_not_found(embedded_module, method, path, body, odd_id):
    api = embedded_module.api
    if not hasattr(api, "odd_id_token"):
        api.odd_id_token = api.sign_in(phone(3))["access_token"]
    client = embedded_module.gateway.test_client()
    response = client.open("/api/v1" + path.replace("{id}", odd_id), method=method, json=body,
                           headers={"Authorization": f"Bearer {api.odd_id_token}"})
    assert_error(_answer(response), 404)


def _answer(response):
    return Response(response.status_code, response.get_json(silent=True), response.headers)
