"""Another school's objects are invisible: every operation of the OpenAPI
document that takes an id in its path is called by everyone of school A
with the ids of school B's objects, of the kind the path names and of
another kind, and for paths of several ids also with A's own ids but one of
B's, a body built from the operation's schema naming B's objects too. Every
answer is 403, 404 or 422, and no row of any service's database changed.
(moderation answers an id it has not heard of with 409 `not_ready`, since a
new chat or message may be on its way to it: that answer, the same for an id
nothing ever had, tells nothing of school B and is let pass.) What they were
shown is scanned for people's phones and addresses."""
from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import timedelta
from itertools import count

from services.common.clock import isoformat, utcnow
from support.populated import id_parameters

ALLOWED = {403, 404, 422}
# A token is the invitation itself, not an object found by id: whoever holds
# a school's or a chat's link may use it, from any school.
CAPABILITIES = {"token"}
# The services' bookkeeping of events, which follows the state rather than being it,
# and when calls's reconciler last looked at a call.
BOOKKEEPING = {"outbox", "processed_events"}
UNWATCHED = {"calls.call": {"checked_at"}}
_phones = count(9_000_000)


def snapshot(platform) -> dict[str, list[tuple]]:
    """Every row of every table of every service."""
    rows = {}
    for name, app in platform.apps.items():
        url = app.extensions["sferum"].settings.database_url
        with sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True) as db:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in set(tables) - BOOKKEEPING:
                columns = [column for _, column, *_ in db.execute(f'PRAGMA table_info("{table}")')
                           if column not in UNWATCHED.get(f"{name}.{table}", ())]
                selected = ", ".join(f'"{column}"' for column in columns)
                rows[f"{name}.{table}"] = sorted(map(repr, db.execute(f'SELECT {selected} FROM "{table}"')))
    return rows


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def value_for(document: dict, name: str, schema: dict, ids: dict[str, list[str]]):
    """A value the schema takes; ids (and lists of them) are the other school's."""
    schema = resolve(document, schema)
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            return value_for(document, name, schema[combined][0], ids)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return {key: value_for(document, key, field, ids) for key, field in schema.get("properties", {}).items()
                if not field.get("readOnly")}
    if kind == "array":
        return [value_for(document, name.removesuffix("s"), schema.get("items", {}), ids)]
    if kind == "integer" or kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    if name.endswith("_id") or name == "id":
        return ids.get(name.removesuffix("_id").removeprefix("child_"), ids["user"])[0]
    fmt = schema.get("format")
    if fmt == "date-time":
        return isoformat(utcnow() + timedelta(days=1))
    if fmt == "phone":
        return f"+7900{next(_phones):07d}"
    if fmt == "email":
        return "someone@example.org"
    return "Проверка"


def requests(document: dict, a, b):
    """(method, path, body) of every call to make, from the document."""
    others = sorted(b.ids)
    for template, operations in document["paths"].items():
        kinds = id_parameters(template)
        if not kinds or CAPABILITIES & set(kinds.values()):
            continue
        variants = [{name: b.ids[kind][0] for name, kind in kinds.items()},
                    # The wrong kind: the next kind of B's objects in turn.
                    {name: b.ids[others[(others.index(kind) + 1) % len(others)]][0] for name, kind in kinds.items()}]
        if len(kinds) > 1:
            variants += [{other: (b if other == name else a).ids[kind][0] for other, kind in kinds.items()}
                         for name in kinds]
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for values in variants:
                path = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), template)
                yield method.upper(), path.removeprefix("/api/v1"), body_of(document, operation, b.ids)


def body_of(document: dict, operation: dict, ids: dict) -> dict:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": value_for(document, "", content["application/json"]["schema"], ids)}
    if content:
        return {"data": b"homework", "headers": {"Content-Type": next(iter(content))}}
    return {}


def code(answer) -> str | None:
    return (answer.json or {}).get("error", {}).get("code")


def test_nobody_reaches_another_schools_objects(two_schools):
    schools = two_schools
    a, b, api = schools.a, schools.b, schools.recorded
    document = api.get("/api/openapi.json").json
    calls = list(requests(document, a, b))
    named = {kind for path in document["paths"] for kind in id_parameters(path).values()} - CAPABILITIES
    assert named <= set(b.ids), f"no object of school B of the kinds {named - set(b.ids)}"
    b_ids = {value for values in b.ids.values() for value in values}
    before = snapshot(schools.platform)
    wrong, like_nothing = [], 0
    for role, person in a.everyone.items():
        for method, path, body in calls:
            headers = {"Authorization": f"Bearer {person.token}", **body.get("headers", {})}

            def ask(path):
                return api.request(method, path, json=body.get("json"), data=body.get("data"), headers=headers)
            answer = ask(path)
            if answer.status_code in ALLOWED:
                continue
            unknown = ask("/".join(uuid.uuid4().hex if part in b_ids else part for part in path.split("/")))
            if (unknown.status_code, code(unknown)) == (answer.status_code, code(answer)) == (409, "not_ready"):
                like_nothing += 1
                continue
            wrong.append(f"{role}: {method} {path} {body.get('json', '')} -> {answer.status_code} {answer.json}")
    after = snapshot(schools.platform)
    changed = {table: (sorted(set(before.get(table, [])) - set(rows)), sorted(set(rows) - set(before.get(table, []))))
               for table, rows in after.items() if rows != before.get(table)}
    leaks, bodies, frames = schools.privacy_leaks()
    print(f"other school: {len(calls)} calls by each of {len(a.everyone)} people of school A "
          f"({len(named)} kinds of id), {like_nothing} answered not_ready as for an id that never was; privacy scan: {bodies} answers and {frames} realtime frames read, "
          f"{len(leaks)} leaks")
    assert not wrong, f"{len(wrong)} answers besides 403/404/422:\n" + "\n".join(wrong[:40])
    assert not changed, "\n".join(f"{table}: gone {gone[:3]}, new {new[:3]}" for table, (gone, new) in changed.items())
    assert not leaks, "\n".join(leaks[:50])
