"""Sign-in codes on PostgreSQL under requests that arrive together: parallel
guesses at one code are checked one at a time and never more than
OTP_MAX_ATTEMPTS of them; parallel requests for codes get exactly what the
same requests one after another would get, and one code at most is live."""
import pytest
from support.races import at_once, while_first_is_uncommitted

from devkit.helpers import Api, phone

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 5


def identity(service_on_postgres, **env):
    runtime = service_on_postgres("identity", OTP_MAX_ATTEMPTS=MAX_ATTEMPTS, **env)
    return runtime, Api(runtime.app.test_client())


def own_client(runtime):
    """A test client per thread: a Flask test client keeps state of its own."""
    return Api(runtime.app.test_client())


def code_for(api, number) -> str:
    assert api.post("/auth/otp", {"phone": number}).status_code == 202
    return api.get("/dev/outbox", params={"to": number}).json["items"][0]["code"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def guess(runtime, number, code):
    return lambda: own_client(runtime).post("/auth/token", {"phone": number, "code": code})


def attempts_left(response):
    """What a checked wrong guess answers; a guess that was not checked has no count."""
    return response.json["error"]["details"].get("attempts_left")


def codes_of(runtime, number):
    from services.identity.models import LoginCode

    with runtime.connection():
        return list(LoginCode.select().where(LoginCode.destination == number))


def test_parallel_wrong_guesses_are_counted_one_by_one_and_the_right_code_then_fails(service_on_postgres):
    runtime, api = identity(service_on_postgres)
    number = phone(700_001)
    code = code_for(api, number)
    answers = at_once([guess(runtime, number, wrong(code)) for _ in range(12)])
    assert {answer.status_code for answer in answers} == {400}
    # Each checked guess saw every failure before it: five distinct counts, then
    # guesses that were never checked because the code was dead.
    counts = [attempts_left(answer) for answer in answers if attempts_left(answer) is not None]
    assert sorted(counts) == [0, 1, 2, 3, 4]
    [row] = codes_of(runtime, number)
    assert row.failed_attempts == MAX_ATTEMPTS and row.dead and row.used_at is None
    refused = api.post("/auth/token", {"phone": number, "code": code})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_code"


def test_the_right_code_among_parallel_guesses_works_only_within_the_limit(service_on_postgres):
    runtime, api = identity(service_on_postgres)
    number = phone(700_002)
    code = code_for(api, number)
    calls = [guess(runtime, number, wrong(code)) for _ in range(12)]
    calls.insert(6, guess(runtime, number, code))
    answers = at_once(calls)
    right = answers[6]
    failures = sorted(attempts_left(a) for a in answers if a.status_code == 400 and attempts_left(a) is not None)
    # Never more than the limit of guesses checked, the right one included, and
    # each wrong one counted after those before it.
    assert len(failures) + (right.status_code == 200) <= MAX_ATTEMPTS
    assert failures == list(range(MAX_ATTEMPTS - len(failures), MAX_ATTEMPTS))
    [row] = codes_of(runtime, number)
    if right.status_code == 200:
        assert row.used_at is not None and row.failed_attempts == len(failures) < MAX_ATTEMPTS
    else:
        assert attempts_left(right) is None, "the right code was checked after the limit"
        assert row.used_at is None and row.dead and row.failed_attempts == MAX_ATTEMPTS


def redeeming(runtime, number, code, outcome: dict, key: str):
    """A guess through the domain code, its answer kept in `outcome[key]`:
    "signed in", or the attempts it left (None when the code was not checked)."""
    from services.identity import login_codes

    def run():
        config = runtime.app.extensions["identity"].config
        try:
            login_codes.redeem(config, runtime.settings.secret_key, number, code)
            outcome[key] = "signed in"
        except login_codes.InvalidCode as error:
            outcome[key] = error.details.get("attempts_left")
    return run


def test_a_guess_made_while_another_is_being_decided_counts_after_it(service_on_postgres):
    runtime, api = identity(service_on_postgres)
    number = phone(700_005)
    code = code_for(api, number)
    outcome = {}

    def second():
        with runtime.connection():
            redeeming(runtime, number, wrong(code), outcome, "second")()

    while_first_is_uncommitted(runtime, redeeming(runtime, number, wrong(code), outcome, "first"), second)
    assert outcome == {"first": 4, "second": 3}


def test_the_right_code_is_refused_while_the_last_allowed_failure_is_being_decided(service_on_postgres):
    from services.identity.models import LoginCode

    runtime, api = identity(service_on_postgres)
    number = phone(700_006)
    code = code_for(api, number)
    with runtime.connection():
        LoginCode.update(failed_attempts=MAX_ATTEMPTS - 1).where(LoginCode.destination == number).execute()
    outcome = {}

    def second():
        with runtime.connection():
            redeeming(runtime, number, code, outcome, "right")()

    while_first_is_uncommitted(runtime, redeeming(runtime, number, wrong(code), outcome, "last"), second)
    assert outcome == {"last": 0, "right": None}


def test_a_request_for_a_code_while_another_is_being_issued_waits_and_is_refused(service_on_postgres):
    from services.identity import login_codes

    runtime, _api = identity(service_on_postgres)
    number = phone(700_007)
    answers = {}

    def first():
        config = runtime.app.extensions["identity"].config
        login_codes.issue(config, runtime.settings.secret_key, "sms", number, "198.51.100.22")

    def second():
        answers["second"] = ask(runtime, number)()

    while_first_is_uncommitted(runtime, first, second)
    assert answers["second"].status_code == 429
    assert answers["second"].json["error"]["code"] == "resend_cooldown"
    assert len(codes_of(runtime, number)) == 1


def ask(runtime, number, address="198.51.100.20"):
    return lambda: own_client(runtime).post("/auth/otp", {"phone": number},
                                            headers={"X-Forwarded-For": address})


def sent_to(runtime, number) -> int:
    from services.identity.models import DevMessage

    with runtime.connection():
        return DevMessage.select().where(DevMessage.to == number).count()


def live(rows) -> list:
    return [row for row in rows if not row.dead and row.used_at is None]


def test_parallel_requests_for_a_code_pass_the_cooldown_once(service_on_postgres):
    runtime, _api = identity(service_on_postgres)
    number = phone(700_003)
    answers = at_once([ask(runtime, number) for _ in range(12)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [429] * 11
    assert {a.json["error"]["code"] for a in answers if a.status_code == 429} == {"resend_cooldown"}
    assert sent_to(runtime, number) == 1, "a code was sent for a refused request"
    assert len(live(codes_of(runtime, number))) == 1


def test_parallel_requests_for_a_code_keep_the_hourly_cap_and_one_live_code(service_on_postgres):
    runtime, api = identity(service_on_postgres, OTP_RESEND_COOLDOWN=0, OTP_PER_DESTINATION_PER_HOUR=5)
    number = phone(700_004)
    answers = at_once([ask(runtime, number) for _ in range(12)])
    assert sorted(answer.status_code for answer in answers) == [202] * 5 + [429] * 7
    assert sent_to(runtime, number) == 5
    rows = codes_of(runtime, number)
    assert len(rows) == 5 and len(live(rows)) == 1
    # The live one is the newest, the code last sent.
    newest = api.get("/dev/outbox", params={"to": number}).json["items"][0]["code"]
    assert api.post("/auth/token", {"phone": number, "code": newest}).status_code == 200


def test_parallel_requests_from_one_address_keep_its_hourly_cap(service_on_postgres):
    runtime, _api = identity(service_on_postgres, OTP_PER_IP_PER_HOUR=3)
    numbers = [phone(700_010 + n) for n in range(8)]
    answers = at_once([ask(runtime, number, "198.51.100.21") for number in numbers])
    assert sorted(answer.status_code for answer in answers) == [202] * 3 + [429] * 5
    assert sum(sent_to(runtime, number) for number in numbers) == 3
