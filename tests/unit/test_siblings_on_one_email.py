"""Siblings on one parent e-mail (seed 003 §4): a parent's address signs in any
of their primary-school children, each into their own account; with several
accounts on it, the sign-in answers whose account to open (names only)
instead of opening one, and the code stays good for the choice."""
import pytest

from devkit.helpers import assert_error

ADDRESS = "mama@example.org"


@pytest.fixture
def api(embedded_with):
    return embedded_with(OTP_RESEND_COOLDOWN=0, OTP_PER_DESTINATION_PER_HOUR=100).api


def code(api, address=ADDRESS):
    assert api.post("/auth/email-otp", {"email": address}).status_code == 202
    return next(item["code"] for item in api.get("/dev/outbox", params={"to": address}).json["items"]
                if item["code"])


def sign_in(api, **body):
    return api.post("/auth/token", {"email": ADDRESS, **body})


def named(api, answer, name):
    assert answer.status_code == 200 and "access_token" in answer.json, answer
    assert api.patch("/me", {"display_name": name}, token=answer.json["access_token"]).status_code == 200
    return answer.json["user"]["id"]


def test_the_second_child_gets_an_account_of_their_own_and_each_is_chosen(api):
    first = named(api, sign_in(api, code=code(api)), "Маша")
    # One account: signing in opens it, as before.
    assert sign_in(api, code=code(api)).json["user"]["id"] == first
    second = named(api, sign_in(api, code=code(api), account_id="new"), "Петя")
    assert second != first

    sent = code(api)
    choice = sign_in(api, code=sent)
    assert choice.status_code == 200 and choice.json["choose_account"] is True
    assert "access_token" not in choice.json
    assert choice.json["accounts"] == [{"id": first, "display_name": "Маша"}, {"id": second, "display_name": "Петя"}]
    # The same code opens the chosen account, once.
    chosen = sign_in(api, code=sent, account_id=second)
    assert chosen.json["user"]["id"] == second
    me = api.get("/me", token=chosen.json["access_token"]).json
    assert (me["display_name"], me["email"]) == ("Петя", ADDRESS)
    assert_error(sign_in(api, code=sent, account_id=first), 400, "invalid_code")
    assert sign_in(api, code=code(api), account_id=first).json["user"]["id"] == first


def test_a_wrong_code_shows_no_accounts_and_counts_as_a_failure(api):
    named(api, sign_in(api, code=code(api)), "Маша")
    named(api, sign_in(api, code=code(api), account_id="new"), "Петя")
    good = code(api)
    wrong = "000000" if good != "000000" else "111111"
    refused = assert_error(sign_in(api, code=wrong), 400, "invalid_code")
    assert "accounts" not in refused["details"] and refused["details"]["attempts_left"] == 4


@pytest.mark.parametrize("account_id,status", [
    ("0" * 32, 422), ("someone", 422), ("NEW", 422), ("", 422),
])
def test_an_account_that_is_not_the_addresss_opens_nothing(api, account_id, status):
    first = named(api, sign_in(api, code=code(api)), "Маша")
    other = named(api, api.post("/auth/token", {"email": "papa@example.org", "code": code(api, "papa@example.org")}),
                  "Чужой")
    sent = code(api)
    assert_error(sign_in(api, code=sent, account_id=account_id), status)
    assert_error(sign_in(api, code=sent, account_id=other), 422)
    # The code was not used up by the refusals.
    assert sign_in(api, code=sent).json["user"]["id"] == first


def test_accounts_are_chosen_only_by_email(api):
    phone = "+79005550303"
    assert api.post("/auth/otp", {"phone": phone}).status_code == 202
    sent = next(item["code"] for item in api.get("/dev/outbox", params={"to": phone}).json["items"] if item["code"])
    assert_error(api.post("/auth/token", {"phone": phone, "code": sent, "account_id": "new"}), 422)
    assert api.post("/auth/token", {"phone": phone, "code": sent}).status_code == 200


def test_an_address_holds_at_most_ten_accounts(api):
    for n in range(10):
        named(api, sign_in(api, code=code(api), account_id="new"), f"Ребёнок {n}")
    assert_error(sign_in(api, code=code(api), account_id="new"), 409, "too_many_accounts")
    assert len(sign_in(api, code=code(api)).json["accounts"]) == 10
