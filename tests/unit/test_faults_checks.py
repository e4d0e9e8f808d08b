"""The checks of the soak under faults (tests/perf/faults.py), as plain
functions of what it recorded and what it read back: no servers."""
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

import faults  # noqa: E402
from bench_outages import Reader  # noqa: E402


def post(text, chat="c1", message_id=None, seq=1, tries=1):
    message = {"id": message_id, "seq": seq, "chat_id": chat} if message_id else None
    return {"text": text, "chat_id": chat, "author": "u1", "message": message,
            "tries": [{"at": 0, "seconds": 0, "outcome": 201}] * tries}


def test_history_finds_the_lost_the_doubled_and_a_retry_answered_with_another_message():
    posts = [post("a", message_id="m1"), post("b", message_id="m2"), post("c", message_id="m3"),
             post("d", message_id="m9", tries=2), post("e")]
    histories = {"c1": [{"id": "m1", "text": "a"}, {"id": "m3", "text": "c"}, {"id": "m4", "text": "c"},
                        {"id": "m5", "text": "d"}, {"id": "m6", "text": "e"}]}
    found = faults.check_history(posts, histories)
    assert found["accepted"] == 4
    assert found["lost"] == ["b"]
    assert found["duplicated"] == ["c"]
    assert found["answered_another_id"] == ["d"]
    assert found["saved_without_201"] == 1


def test_a_replay_must_answer_the_first_answer():
    first = {"id": "m1", "seq": 4}
    replays = [{"status": 201, "id": "m1", "seq": 4, "first": first},
               {"status": 201, "id": "m2", "seq": 5, "first": first},
               {"status": 409, "id": None, "seq": None, "first": first}]
    assert faults.check_replays(replays) == replays[1:]


def test_pushes_are_expected_only_from_members_in_the_chat_from_sending_to_answer():
    stays = {"author": [["c1", 0.0, None]], "stays": [["c1", 0.0, None]], "late": [["c1", 50.0, None]],
             "moved": [["c1", 0.0, 20.0], ["c2", 25.0, None]]}
    messages = [{"id": "m1", "seq": 1, "chat_id": "c1", "author": "author", "sent_at": 10.0, "accepted_at": 11.0},
                {"id": "m2", "seq": 2, "chat_id": "c1", "author": "author", "sent_at": 30.0, "accepted_at": 31.0},
                {"id": "m3", "seq": 1, "chat_id": "c2", "author": "stays", "sent_at": 30.0, "accepted_at": 31.0}]
    pairs = {(m["id"], user) for m, user in faults.expected_pushes(messages, stays)}
    assert pairs == {("m1", "stays"), ("m1", "moved"), ("m2", "stays"), ("m3", "moved")}


def reader(arrived=(), resyncs=(), opened=(0.0,), seqs=None):
    one = Reader("http://x", {"user_id": "u", "token": "t"}, "c1", threading.Event())
    one.arrived = {message_id: 1.0 for message_id in arrived}
    one.resyncs, one.opened, one.highest_seq = list(resyncs), list(opened), dict(seqs or {})
    return one


def test_a_push_is_covered_live_by_a_resync_a_reopening_or_a_later_seq_and_otherwise_is_a_gap():
    message = {"id": "m1", "seq": 3, "chat_id": "c1", "author": "a", "sent_at": 10.0, "accepted_at": 11.0}
    stays = {"u": [["c1", 0.0, None]]}
    for one, way in [(reader(arrived=["m1"]), "live"), (reader(resyncs=[12.0]), "resync"),
                     (reader(opened=[0.0, 12.0]), "reopened"), (reader(seqs={"c1": 4}), "seq"),
                     (reader(resyncs=[5.0], opened=[0.0, 6.0], seqs={"c1": 3, "c2": 9}), "gap")]:
        found = faults.check_pushes([message], stays, {"u": one})
        assert found["expected"] == 1
        assert (found[way] if way != "gap" else len(found["gaps"])) == 1, way


def test_memberships_and_counters_that_differ_are_named():
    assert faults.check_memberships({"c1": {"a", "b"}, "c2": {"c"}}, {"c1": {"a", "x"}, "c2": {"c"}}) == [
        {"chat": "c1", "missing": ["b"], "extra": ["x"]}]
    assert faults.check_counters({"o": 5, "o/u1": 3, "o/u2": 2}, {"o": 5, "o/u1": 3}) == [
        {"counter": "o/u2", "expected": 2, "reported": 0}]


def test_orgstructure_should_count_every_message_but_notices_by_school_and_class():
    schools = [{"org_id": "o", "classes": [{"chat_id": "c1", "unit_id": "u1"}, {"chat_id": "c2", "unit_id": "u2"}]}]
    histories = {"c1": [{"kind": "text"}, {"kind": "poll"}, {"kind": "notice"}], "c2": [{"kind": "text"}]}
    assert faults.message_counts(schools, histories) == {"o": 3, "o/u1": 2, "o/u2": 1}


def test_only_a_503_that_says_when_to_ask_again_is_an_acceptable_5xx():
    assert not faults.answer_is_wrong(503, "2")
    assert faults.answer_is_wrong(503, None)
    assert faults.answer_is_wrong(500, "2")
    assert faults.answer_is_wrong(502, None)
    assert not faults.answer_is_wrong(404, None)


def test_faults_are_spread_over_the_run_and_kills_go_round_every_kind_of_process():
    assert faults.spread(["broker"] * 3, 60) == [(15.0, "broker"), (30.0, "broker"), (45.0, "broker")]
    targets = faults.kill_targets("gateway-1")
    assert targets[:3] == ["messaging", "messaging-worker", "gateway-1"]
    assert {"identity", "identity-worker", "orgstructure-worker", "calls", "moderation-worker"} <= set(targets)


def test_the_last_line():
    assert faults.summary_line(22, 20, 119000, 0, 0, 0) == \
        "faults: 22 restarts, 20 kills, 119000 accepted, 0 lost, 0 duplicated, 0 wrong"
