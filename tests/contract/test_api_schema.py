"""The public API against its own OpenAPI document: schemathesis runs every
operation of the gateway's merged document (/api/openapi.json) against the
embedded platform on a local port, with every check, signed in as a student,
a parent, a teacher, an admin and the operator in turn, on a platform of two
schools holding something of every kind (schemathesis.toml says which
refusals answer rules no schema can state). Path and body ids are drawn from
both schools' real objects as often as not, so that requests reach past "not
found". It passes only with no server error and every answer documented and
matching its schema, and when nobody was shown another person's phone or
e-mail address in any answer or realtime frame.

SCHEMATHESIS_EXAMPLES=<n> sets the examples per operation and role, and
SCHEMATHESIS_PHASES the phases: by default one example each from the
document's own examples and from generated ones, about a minute in all; the
README's full run takes 200 and every phase (`all`: also each schema's edges
and invalid values, and stateful sequences along the document's links).
SCHEMATHESIS_ROLES=parent,admin runs those roles only (a full run may be
split over processes). SCHEMATHESIS_SEED=<n> runs other examples (the seed
is fixed so that a failure here is the code's, not the draw's)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from support.populated import id_parameters
from support.school import Person

HERE = Path(__file__).parent
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261130")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "1")
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing")
ROLES = os.environ.get("SCHEMATHESIS_ROLES", "student,parent,teacher,admin,operator").split(",")
# Ids a request body names, drawn like the path's.
BODY_IDS = {"org_id": "org", "chat_id": "chat", "user_id": "user", "child_user_id": "user", "unit_id": "unit",
            "message_id": "message"}


def person(schools, role: str) -> Person:
    return {"student": schools.a.student, "parent": schools.a.parent, "teacher": schools.a.head,
            "admin": schools.a.admin, "operator": schools.operator}[role]


def real_ids(schools) -> str:
    """schemathesis's dictionaries of both schools' ids, one per path parameter,
    and the parameters (path and body) drawn from them half the time."""
    document = schools.platform.api.get("/api/openapi.json").json
    by_kind: dict[str, list[str]] = {}
    for school in (schools.a, schools.b):
        for kind, values in school.ids.items():
            by_kind.setdefault(kind, []).extend(values)
    by_parameter: dict[str, set[str]] = {}
    for path in document["paths"]:
        for name, kind in id_parameters(path).items():
            by_parameter.setdefault(name, set()).update(by_kind[kind])
    text = ""
    for name, values in sorted(by_parameter.items()):
        text += f"\n[dictionaries.{name}]\nvalues = {json.dumps(sorted(values))}\n"
    for name, kind in BODY_IDS.items():
        text += f"\n[dictionaries.body_{name}]\nvalues = {json.dumps(sorted(by_kind[kind]))}\n"
    text += "\n[parameters]\n"
    for name in sorted(by_parameter):
        text += f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}\n'
    for name in BODY_IDS:
        text += f'"body.{name}" = {{ dictionary = "body_{name}", probability = 0.5 }}\n'
    return text


def run(schools, role: str, workdir: Path) -> tuple[str | None, str | None]:
    """One role's run: its counts, or what it found."""
    workdir.mkdir()
    # Signing out ends the session it is asked with: a spare one, so that the role's stays.
    spare = Person(schools.platform.api, f"spare {role}")
    config = workdir / "schemathesis.toml"
    config.write_text((HERE / "schemathesis.toml").read_text() + f"""
[[operations]]
include-name = "POST /api/v1/auth/logout"
headers = {{ Authorization = "Bearer {spare.token}" }}
""" + real_ids(schools))
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config),
               "--no-color", "run", f"{schools.url}/api/openapi.json", "--checks", "all",
               "--header", f"Authorization: Bearer {person(schools, role).token}",
               "--max-examples", EXAMPLES, "--seed", SEED,
               *([] if PHASES == "all" else ["--phases", PHASES]), "--generation-database", "none",
               "--report", "junit", "--report-dir", str(workdir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=workdir,
                          env=dict(os.environ, SCHEMATHESIS_HOOKS=str(HERE / "schemathesis_hooks.py")))
    (workdir / "schemathesis.out").write_text(done.stdout)
    summary = done.stdout[done.stdout.rfind("SUMMARY"):]
    if schools.platform.api.get("/me", token=person(schools, role).token).status_code != 200:
        return None, f"as the {role}: the session ended during the run, whose answers then say nothing"
    if done.returncode != 0 or "Tested: " not in summary or "Server error" in summary:
        return None, f"as the {role}:\n" + done.stdout[-20000:] + done.stderr[-5000:]
    operations = re.search(r"Tested: (\d+)", summary).group(1)
    cases = re.search(r"(\d+) generated", summary).group(1)
    return f"{role}: {operations} operations, {cases} cases", None


def test_every_operation_keeps_its_documented_contract_for_every_role(two_schools, tmp_path):
    # A post the members of school A's chat are told of: the scan reads frames whatever the draw pushes.
    school = two_schools.a
    assert two_schools.recorded.post(f"/chats/{school.chat_id}/messages", {"text": "Начинаем"},
                                     token=school.head.token).status_code == 201
    outcomes = [run(two_schools, role, tmp_path / role) for role in ROLES]
    counts = [counted for counted, _ in outcomes if counted]
    found = [failure for _, failure in outcomes if failure]
    leaks, bodies, frames = two_schools.privacy_leaks()
    print(f"schemathesis, {EXAMPLES} examples, phases {PHASES}: " + "; ".join(counts))
    print(f"privacy scan: {bodies} answers and {frames} realtime frames read, {len(leaks)} leaks")
    assert not found, "\n\n".join(found)
    assert bodies > 1000 and frames > 0
    assert not leaks, "\n".join(leaks[:50])
