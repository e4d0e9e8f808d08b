"""Roster import: an admin uploads a CSV of classes, students and parents; a
background job checks every line first and reports bad ones by line number,
creating nothing from a file that has errors; then it creates the missing
classes and a personal invite for every student and parent.

Columns (a header line is required): class, grade (optional), student,
parent (optional; a parent invite is made for every non-empty parent),
parent_phone and parent_email (optional: the platform sends the parent's
invite there, by SMS, or by e-mail when there is no phone)."""
from __future__ import annotations

import csv
import io
import re
import json
import logging
import threading

from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import utcnow
from services.common.errors import ApiError, NotFound, Unprocessable
from services.common.phones import normalise_phone
from services.common.text import BadText, clean_name

from . import invites, structure
from .access import Access
from .models import RosterImport, Unit, db

log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
MAX_ROWS = 3000
REQUIRED = ("class", "student")
OPTIONAL = ("grade", "parent", "parent_phone", "parent_email")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse(content: bytes) -> list[dict]:
    if len(content) > MAX_BYTES:
        raise Unprocessable("The file is larger than 1 MB.", code="file_too_large")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable("The file is not UTF-8 text.", code="malformed_csv") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise Unprocessable(f"The header lacks the columns {', '.join(missing)}.", code="malformed_csv",
                            details={"columns": {"required": list(REQUIRED), "optional": list(OPTIONAL)}})
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            rows.append({"line": reader.line_num, **{k: (v or "").strip() for k, v in row.items() if k}})
    except csv.Error as error:
        raise Unprocessable(f"The file is not valid CSV: {error}", code="malformed_csv") from None
    if not rows:
        raise Unprocessable("The file has no rows.", code="malformed_csv")
    if len(rows) > MAX_ROWS:
        raise Unprocessable(f"At most {MAX_ROWS} rows per file.", code="too_many_rows")
    return rows


def submit(access: Access, content: bytes) -> RosterImport:
    access.require_admin()
    access.require_verified("invite")
    rows = parse(content)
    return RosterImport.create(organisation=access.org, created_by=access.user.id,
                               content=content.decode("utf-8-sig"), total_rows=len(rows))


def status(access: Access, import_id: str) -> RosterImport:
    access.require_admin()
    job = RosterImport.get_or_none(RosterImport.id == import_id, RosterImport.organisation == access.org)
    if job is None:
        raise NotFound("No such import.")
    return job


NAMES = (("class", 100, True), ("student", 200, True), ("parent", 200, False))


def _problems(row: dict, units: dict) -> list[str]:
    """What is wrong with one line; its names are cleaned in place by the
    platform's rule for names as they are checked."""
    problems = []
    for column, longest, required in NAMES:
        try:
            row[column] = clean_name(row.get(column, ""))
        except BadText as error:
            problems.append(f"{column}: {error}")
            continue
        if required and not row[column]:
            problems.append(f"{column} is empty")
        elif len(row[column]) > longest:
            problems.append(f"{column} is longer than {longest} characters")
    grade = row.get("grade", "")
    if grade and (not grade.isdigit() or not 1 <= int(grade) <= 12):
        problems.append("grade is not a number from 1 to 12")
    existing = units.get(row.get("class"))
    if existing is not None and existing.kind not in ("class", "group"):
        problems.append("class names a unit that is not a class")
    if row.get("parent_phone"):
        try:
            row["parent_phone"] = normalise_phone(row["parent_phone"])
        except ValueError:
            problems.append("parent_phone is not a mobile phone number")
    email = row.get("parent_email", "")
    if email and (len(email) > 254 or not EMAIL.match(email)):
        problems.append("parent_email is not an e-mail address")
    if (row.get("parent_phone") or email) and not row.get("parent"):
        problems.append("parent_phone or parent_email without a parent")
    return problems


def _send_to(row: dict) -> tuple[str, str] | None:
    if row.get("parent_phone"):
        return "sms", row["parent_phone"]
    if row.get("parent_email"):
        return "email", row["parent_email"].lower()
    return None


def run(service: Service, job: RosterImport) -> None:
    """Check every line (progress is committed as it goes), then create everything
    in one transaction, or nothing."""
    rows = parse(job.content.encode())
    org = job.organisation
    units = {unit.name: unit for unit in Unit.select().where(Unit.organisation == org, Unit.archived_at.is_null())}
    errors = []
    for index, row in enumerate(rows, start=1):
        errors += [{"line": row["line"], "error": problem} for problem in _problems(row, units)]
        if index % 100 == 0 or index == len(rows):
            RosterImport.update(processed_rows=index).where(RosterImport.id == job.id).execute()
    if errors:
        (RosterImport.update(status="failed", errors=json.dumps(errors, ensure_ascii=False), finished_at=utcnow())
         .where(RosterImport.id == job.id).execute())
        return
    admin = Principal(id=job.created_by, session_id=None)
    access = Access(org, admin)
    created = []
    with db.atomic():
        for row in rows:
            unit = units.get(row["class"])
            if unit is None:
                grade = int(row["grade"]) if row.get("grade") else None
                unit = structure.create_unit(service, access, row["class"], "class", grade, None)
                units[unit.name] = unit
            student, student_token = invites.create(
                service, access, role="student", unit_id=unit.id, child_user_id=None, expires_at=None,
                max_uses=1, requires_approval=False, full_name=row["student"])
            line = {"line": row["line"], "class": unit.name, "unit_id": unit.id, "student": row["student"],
                    "student_invite_token": student_token}
            if row.get("parent"):
                parent, parent_token = invites.create(
                    service, access, role="parent", unit_id=None, child_user_id=None, expires_at=None,
                    max_uses=1, requires_approval=False, full_name=row["parent"], child_invite=student,
                    send_to=_send_to(row))
                line.update(parent=row["parent"], parent_invite_token=parent_token,
                            parent_sent_to=(invites.sent_to(parent) or {}).get("to"))
            created.append(line)
        (RosterImport.update(status="done", result=json.dumps({"rows": created}, ensure_ascii=False),
                             finished_at=utcnow())
         .where(RosterImport.id == job.id).execute())


def run_pending(service: Service, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """The job runner: claims queued imports one at a time (safe with replicas)."""
    while not stop.is_set():
        try:
            with db.connection_context():
                job = RosterImport.select().where(RosterImport.status == "queued").order_by(
                    RosterImport.created_at).first()
                if job is not None:
                    claimed = (RosterImport.update(status="running")
                               .where(RosterImport.id == job.id, RosterImport.status == "queued").execute())
                    if claimed:
                        try:
                            run(service, job)
                        except ApiError as error:
                            # The admin lost the right to invite since the upload.
                            (RosterImport.update(status="failed", finished_at=utcnow(), errors=json.dumps(
                                [{"line": None, "error": error.message}], ensure_ascii=False))
                             .where(RosterImport.id == job.id).execute())
                        except Exception as error:
                            log.exception("roster import %s failed", job.id)
                            (RosterImport.update(status="failed", finished_at=utcnow(), errors=json.dumps(
                                [{"line": None, "error": f"internal error: {type(error).__name__}"}]))
                             .where(RosterImport.id == job.id).execute())
                        continue
        except Exception:
            log.exception("roster import runner")
        stop.wait(poll_seconds)
