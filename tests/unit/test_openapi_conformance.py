"""Answers and refusals as the OpenAPI document states them, where the
schema-driven run (tests/contract/test_api_schema.py) once found otherwise."""
from __future__ import annotations

import pytest

from devkit.helpers import assert_error
from support.populated import PopulatedSchool


@pytest.fixture(scope="module")
def school(embedded_module):
    return PopulatedSchool(embedded_module, embedded_module.api, "Школа схемы")


def boolean_fields(document):
    """(method, path, property) of every boolean in a JSON request body."""
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            schema = body["schema"]
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
            for name, field in schema.get("properties", {}).items():
                if field.get("type") == "boolean" or "boolean" in (field.get("type") or []):
                    yield method.upper(), path, name


def test_a_body_boolean_is_true_or_false_never_a_number_or_a_word(embedded_module, school):
    api = embedded_module.api
    found = list(boolean_fields(api.get("/api/openapi.json").json))
    assert ("POST", "/api/v1/calls/{call_id}/lock", "locked") in found and len(found) >= 8, found
    ids = {"{call_id}": school.ids["call"][0], "{chat_id}": school.chat_id, "{org_id}": school.org_id,
           "{participant_id}": school.ids["participant"][0]}
    for method, path, name in found:
        for path_id, value in ids.items():
            path = path.replace(path_id, value)
        for value in (1, 0, "yes", "true"):
            # The school's own settings are its admin's; a chat's and a call's their moderator's and host's.
            by = school.admin if "/orgs/" in path else school.head
            response = api.request(method, path.removeprefix("/api/v1"), token=by.token, json={name: value})
            error = assert_error(response, 422)
            assert error["details"]["fields"].get(name) == ["Not a valid boolean."], (method, path, value, error)


def test_attendance_as_csv_is_a_documented_answer(embedded_module, school):
    api = embedded_module.api
    documented = api.get("/api/openapi.json").json["paths"]["/api/v1/calls/{call_id}/attendance"]["get"]
    answer = api.get(f"/calls/{school.ids['call'][0]}/attendance", params={"format": "csv"}, token=school.head.token)
    assert answer.status_code == 200, answer
    assert answer.headers["Content-Type"].split(";")[0] in documented["responses"]["200"]["content"]
    assert answer.text.startswith("user_id,")


def test_asking_again_for_a_direct_chat_is_a_documented_answer(embedded_module, school):
    api = embedded_module.api
    documented = api.get("/api/openapi.json").json["paths"]["/api/v1/chats"]["post"]["responses"]
    body = {"org_id": school.org_id, "kind": "direct", "user_id": school.student.id}
    first = api.post("/chats", body, token=school.parent.token)
    again = api.post("/chats", body, token=school.parent.token)
    assert first.status_code in (200, 201), first
    assert again.status_code == 200 and again.json["id"] == first.json["id"], again
    assert documented["200"]["content"]["application/json"]["schema"] == \
        documented["201"]["content"]["application/json"]["schema"]
