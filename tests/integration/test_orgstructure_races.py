"""Facts that arrive at the same moment on PostgreSQL: an operator approves a
school while its admin's phone signs in for the first time. Whichever commits
first, the admin ends up with the rights (READ COMMITTED alone would let both
transactions miss each other)."""
import uuid

import pytest
from support.races import while_first_is_uncommitted

from services.common.auth import Principal
from devkit.helpers import phone

pytestmark = pytest.mark.integration


@pytest.fixture
def orgstructure(service_on_postgres):
    return service_on_postgres("orgstructure")


def test_an_approval_and_the_admins_first_sign_in_at_once_grant_the_rights(orgstructure):
    """The approval's transaction is held open after its work is done while the
    sign-in arrives; whatever the timing, the admin gets the rights."""
    from services.orgstructure import registration
    from services.orgstructure.access import active_member, roles_of

    db, service = orgstructure.db, orgstructure.service
    operator = Principal(id="operator", session_id=None, operator=True)
    number, user_id = phone(900_001), uuid.uuid4().hex
    with orgstructure.connection():
        region = registration.create_region("Регион гонок")
        application = registration.submit(service, Principal(id="applicant", session_id=None), region.id,
                                          {"name": "Школа гонок", "kind": "school"},
                                          {"full_name": "Админ", "phone": number}, None)
    result = {}

    def approve():
        result["org"] = registration.approve(service, operator, application.id)

    def sign_in():
        with orgstructure.connection(), db.atomic():
            registration.user_registered(service, user_id, "Админ", number)

    while_first_is_uncommitted(orgstructure, approve, sign_in)
    with orgstructure.connection():
        assert "admin" in roles_of(active_member(result["org"].id, user_id))


def _school(orgstructure, label: str):
    """An approved school whose first admin signed in, and another teacher
    made an admin too: two admins."""
    from services.orgstructure import registration, roles
    from services.orgstructure.access import Access
    from services.orgstructure.membership import join

    db, service = orgstructure.db, orgstructure.service
    operator = Principal(id="operator", session_id=None, operator=True)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    number = phone(900_100 + len(label))
    with orgstructure.connection():
        region = registration.create_region(f"Регион {label}")
        application = registration.submit(service, Principal(id="applicant", session_id=None), region.id,
                                          {"name": f"Школа {label}", "kind": "school"},
                                          {"full_name": "Админ", "phone": number}, None)
        org = registration.approve(service, operator, application.id)
        with db.atomic():
            registration.user_registered(service, first, "Первый", number)
        join(service, org, second, {"teacher"}, display_name="Второй")
        roles.grant(service, Access(org, Principal(id=first, session_id=None)), second, "admin")
    return org, first, second


def test_two_admins_taking_each_others_rights_at_once_leave_one_admin(orgstructure):
    """Each checks that another admin remains; taken together, unserialised,
    both would pass and leave the school with none. The first holds its
    transaction open while the second tries: the second is refused (no longer
    an admin, or the last one), whatever the timing."""
    from services.common.errors import ApiError
    from services.orgstructure import roles
    from services.orgstructure.access import Access, active_member, roles_of

    org, first, second = _school(orgstructure, "двух админов")
    service = orgstructure.service
    outcomes = []

    def revoke(by, whom):
        try:
            roles.revoke(service, Access(org, Principal(id=by, session_id=None)), whom, "admin")
            outcomes.append("revoked")
        except ApiError as refusal:
            outcomes.append(refusal.code)

    def the_other():
        with orgstructure.connection():
            revoke(second, first)

    while_first_is_uncommitted(orgstructure, lambda: revoke(first, second), the_other)
    assert outcomes[0] == "revoked" and outcomes[1] in ("last_admin", "forbidden"), outcomes
    with orgstructure.connection():
        admins = [user for user in (first, second) if "admin" in roles_of(active_member(org.id, user))]
    assert admins == [first]


def test_a_school_year_confirmed_twice_at_once_rolls_over_once(orgstructure):
    """The first confirmation holds its transaction open while the second
    comes: the second waits, then finds the year rolled over."""
    from services.common.errors import Conflict
    from services.orgstructure import school_year, structure
    from services.orgstructure.access import Access
    from services.orgstructure.models import Unit, YearRollover

    org, first, _second = _school(orgstructure, "года")
    service = orgstructure.service
    admin = Principal(id=first, session_id=None)
    with orgstructure.connection():
        structure.create_unit(service, Access(org, admin), "5А", "class", 5, "2026/2027")
    outcomes = []

    def confirm():
        try:
            school_year.rollover(service, Access(org, admin), dry_run=False, final_grade=None,
                                 academic_year="2027/2028", plan_id=None)
            outcomes.append("done")
        except Conflict as refusal:
            outcomes.append(refusal.code)

    def again():
        with orgstructure.connection():
            confirm()

    while_first_is_uncommitted(orgstructure, confirm, again)
    assert outcomes == ["done", "already_rolled_over"]
    with orgstructure.connection():
        assert [(u.name, u.grade) for u in Unit.select().where(Unit.organisation == org, Unit.kind == "class")] == [
            ("6А", 6)]
        assert YearRollover.select().count() == 1
