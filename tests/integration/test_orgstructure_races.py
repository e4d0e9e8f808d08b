"""Facts that arrive at the same moment on PostgreSQL: an operator approves a
school while its admin's phone signs in for the first time. Whichever commits
first, the admin ends up with the rights (READ COMMITTED alone would let both
transactions miss each other)."""
import uuid

import pytest
from support.races import while_first_is_uncommitted

from services.common.auth import Principal
from services.common.testing.helpers import phone

pytestmark = pytest.mark.integration


@pytest.fixture
def orgstructure(service_on_postgres):
    return service_on_postgres("orgstructure")


def test_an_approval_and_the_admins_first_sign_in_at_once_grant_the_rights(orgstructure):
    """The approval's transaction is held open after its work is done while the
    sign-in arrives; whatever the timing, the admin gets the rights."""
    from services.orgstructure import registration
    from services.orgstructure.access import active_member, roles_of

    db, outbox = orgstructure.db, orgstructure.outbox
    operator = Principal(id="operator", session_id=None, operator=True)
    number, user_id = phone(900_001), uuid.uuid4().hex
    with db.connection_context():
        region = registration.create_region("Регион гонок")
        application = registration.submit(outbox, Principal(id="applicant", session_id=None), region.id,
                                          {"name": "Школа гонок", "kind": "school"},
                                          {"full_name": "Админ", "phone": number}, None)
    result = {}

    def approve():
        result["org"] = registration.approve(outbox, operator, application.id)

    def sign_in():
        with db.connection_context(), db.atomic():
            registration.user_registered(outbox, user_id, "Админ", number)

    while_first_is_uncommitted(db, approve, sign_in)
    with db.connection_context():
        assert "admin" in roles_of(active_member(result["org"].id, user_id))
