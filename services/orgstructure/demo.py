"""The demo region and school of the embedded platform (`make run`): a region,
an approved school whose admin is the phone printed at start-up, two classes
and open invites to try every role."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.service import Service

from . import invites, registration, structure
from .access import Access
from .models import Application, Region

DEMO_REGION = "Демонстрационный регион"
DEMO_SCHOOL = "Школа № 1 (демо)"
DEMO_ADMIN_PHONE = "+79000000001"


def seed(service: Service, operator_id: str = "demo-operator") -> dict | None:
    """Creates the demo data once; returns the invite tokens made now, or None."""
    if Region.get_or_none(Region.name == DEMO_REGION) is not None:
        return None
    region = registration.create_region(DEMO_REGION)
    operator = Principal(id=operator_id, session_id=None, operator=True)
    applicant = Principal(id=operator_id, session_id=None)
    application = registration.submit(service, applicant, region.id, {"name": DEMO_SCHOOL, "kind": "school"},
                                      {"full_name": "Администратор Демо", "phone": DEMO_ADMIN_PHONE}, None)
    org = registration.approve(service, operator, application.id)
    Application.update(applicant_id=operator_id).where(Application.id == application.id).execute()
    admin = Access(org, Principal(id="demo-seed", session_id=None))
    admin.roles, admin.verified = {"admin"}, True
    five_a = structure.create_unit(service, admin, "5А", "class", 5, "2026/2027")
    structure.create_unit(service, admin, "5Б", "class", 5, "2026/2027")
    tokens = {}
    for role, unit in (("teacher", None), ("student", five_a.id)):
        _invite, token = invites.create(service, admin, role=role, unit_id=unit, child_user_id=None, expires_at=None,
                                        max_uses=None, requires_approval=False)
        tokens[role] = token
    return {"org_id": org.id, "invites": tokens}


def sign_in_help(base: str, seeded: dict | None) -> str:
    """What the start-up banner of a development platform says about the demo."""
    invites = "".join(f"Invite for a {role} (open it in a browser and sign in with another phone): "
                      f"{base}/join/{token}\n"
                      for role, token in (seeded or {}).get("invites", {}).items())
    return f"""Demo: "{DEMO_SCHOOL}" in "{DEMO_REGION}"; its admin is {DEMO_ADMIN_PHONE}.
Sign in as the admin:
  curl -X POST {base}/api/v1/auth/otp -H 'Content-Type: application/json' -d '{{"phone": "{DEMO_ADMIN_PHONE}"}}'
  curl '{base}/api/v1/dev/outbox?to=%2B{DEMO_ADMIN_PHONE[1:]}'      # the code that was "sent"
  curl -X POST {base}/api/v1/auth/token -H 'Content-Type: application/json' \\
       -d '{{"phone": "{DEMO_ADMIN_PHONE}", "code": "<code>"}}'
{invites}"""
