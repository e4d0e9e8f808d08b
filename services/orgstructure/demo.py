"""The demo region and school of the embedded platform (`make run`): a region,
an approved school whose admin is the phone printed at start-up, two classes
and open invites to try every role."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.bus import Outbox

from . import invites, registration, structure
from .access import Access
from .models import Application, Region

DEMO_REGION = "Демонстрационный регион"
DEMO_SCHOOL = "Школа № 1 (демо)"
DEMO_ADMIN_PHONE = "+79000000001"


def seed(outbox: Outbox, operator_id: str = "demo-operator") -> dict | None:
    """Creates the demo data once; returns the invite tokens made now, or None."""
    if Region.get_or_none(Region.name == DEMO_REGION) is not None:
        return None
    region = registration.create_region(DEMO_REGION)
    operator = Principal(id=operator_id, session_id=None, operator=True)
    applicant = Principal(id=operator_id, session_id=None)
    application = registration.submit(outbox, applicant, region.id, {"name": DEMO_SCHOOL, "kind": "school"},
                                      {"full_name": "Администратор Демо", "phone": DEMO_ADMIN_PHONE}, None)
    org = registration.approve(outbox, operator, application.id)
    Application.update(applicant_id=operator_id).where(Application.id == application.id).execute()
    admin = Access(org, Principal(id="demo-seed", session_id=None))
    admin.roles = {"admin"}
    five_a = structure.create_unit(outbox, admin, "5А", "class", 5, "2026/2027")
    structure.create_unit(outbox, admin, "5Б", "class", 5, "2026/2027")
    tokens = {}
    for role, unit in (("teacher", None), ("student", five_a.id)):
        _invite, token = invites.create(admin, role=role, unit_id=unit, child_user_id=None, expires_at=None,
                                        max_uses=None, requires_approval=False)
        tokens[role] = token
    return {"org_id": org.id, "invites": tokens}
