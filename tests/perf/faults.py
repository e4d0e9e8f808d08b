"""A soak under faults: the distributed mode on this machine (RabbitMQ,
PostgreSQL, every service and the gateway under gunicorn, every service's
outbox relay and event consumer in a worker process of its own, as in
production) while RabbitMQ and PostgreSQL are restarted and processes of
every kind are killed, with steady posting through the gateway.

Schools are built through the public API, each with classes whose students'
chat holds the class head and its students (some with a parent in the class's
parents' chat); every member of a students' chat keeps a WebSocket open,
opened again whenever it closes. Then, for `--duration` seconds:

- posts at a steady `--rate` into random class chats (by the class heads and
  the students who stay), each with an Idempotency-Key, retried with it until
  answered 201;
- a trickle, one step every `--trickle-seconds`: a new student joins a class
  by invite (and its chat, with a socket of their own), a student is moved to
  another class (and joins its chats, with their parent), a student is
  expelled (with their parent), a class head opens a poll and students vote;
- the fault schedule, spread evenly over the run: RabbitMQ stopped, left
  stopped for `--outage-seconds`, started (`--restarts`); PostgreSQL the same
  (`--database-restarts`); SIGKILL (`--kills`) taken in turn over messaging's
  web workers, its relay/consumer worker process, the gateway's worker, then
  every other service's web workers and worker process. gunicorn replaces a
  killed web worker; a killed worker process is started again after a second
  (as Kubernetes restarts a container).

Once the last post is answered, it waits (with a deadline) until every outbox
and every service queue is empty and the trickle's pending chat invitations
were accepted, then checks and prints, each with its numbers:

- history: every post answered 201 is in its chat's history exactly once,
  with the id it was answered with; replaying the Idempotency-Key of every
  post that needed more than one try (and of a sample of the others) answers
  the first answer again;
- pushes: for every accepted message and every other member who was in its
  chat from before it was sent until it was answered, the message reached the
  member's socket live, or a `stream.resync` or the socket opening again came
  after it was sent, or a later message of the chat showed the gap in `seq`
  (the client's catch-up rules in README "Realtime: what a client does"); any
  other case is a silent gap;
- derived state: each class's students' and parents' chats hold exactly its
  class head and the students (parents) placed in it now, as orgstructure
  says and as the trickle did; expelled students and their parents are in no
  chat of the school and invited to none; orgstructure's message counters,
  for the school and for each class, match the messages in the chats'
  histories; every class and school has its official chats;
- answers: no 5xx other than 503 with Retry-After, to any request of the run;
- the bus: no event in any dead-letter queue (`python -m services dlq`),
  every outbox empty of events some service consumes (an event none binds,
  such as `orgstructure.application.submitted`, waits there by design for its
  first consumer: counted apart); no process exited by itself.

The last line: `faults: N restarts, M kills, X accepted, L lost, D duplicated,
W wrong` (restarts of RabbitMQ and of PostgreSQL; wrong counts every failed
check other than lost and duplicated). The exit status is 1 when any is
not 0.

    make faults                                                  # about 13 minutes
    make faults FAULTS_ARGS="--duration 60 --rate 20 --restarts 3 --kills 3 --database-restarts 1"
"""
from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import requests

from bench_messaging import ROOT, build_schools, platform_arguments, servers_and_cluster, start_platform, workers_of
from bench_outages import Poster, Reader, read_history
from devkit.helpers import phone
from devkit.servers import PostgresServer, RabbitMQServer
from services.common.config import SERVICES

RETRIED = (502, 503, 504, 429)  # a dependency away, or too fast: asked again


# Requests, and every answer noted.

class Client:
    """Requests through the gateway; every answer's status is counted, and an
    answer 5xx other than 503 with Retry-After is kept as wrong. `call`
    asks again while the answer says a dependency is away."""

    def __init__(self, base_url: str):
        self.base_url = base_url + "/api/v1"
        self.statuses: Counter = Counter()
        self.bad: list[dict] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def once(self, method: str, path: str, token: str | None = None, key: str | None = None, **kwargs):
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}),
                   **({"Idempotency-Key": key} if key else {})}
        try:
            response = self._session().request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)
        except requests.RequestException as error:
            with self._lock:
                self.statuses[type(error).__name__] += 1
            return None
        note_answer(self.statuses, self.bad, self._lock, method, path, response.status_code,
                    response.headers.get("Retry-After"), response.text[:300])
        return response

    def call(self, method: str, path: str, token: str | None = None, key: str | None = None,
             deadline: float = 120.0, **kwargs) -> tuple[int | None, dict | None, bool]:
        """Answers (status, body, whether an earlier try went unanswered or was
        refused) once an answer is not one to ask again, or (None, None, True)
        at the deadline."""
        until = time.monotonic() + deadline
        unanswered = False
        while time.monotonic() < until:
            response = self.once(method, path, token, key, **kwargs)
            if response is not None and response.status_code not in RETRIED:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                return response.status_code, body, unanswered
            unanswered = True
            time.sleep(0.5)
        return None, None, True


def note_answer(statuses: Counter, bad: list, lock, method: str, path: str, status: int, retry_after,
                text: str = "") -> None:
    with lock:
        statuses[status] += 1
        if answer_is_wrong(status, retry_after):
            bad.append({"method": method, "path": path, "status": status, "body": text})


def answer_is_wrong(status: int, retry_after: str | None) -> bool:
    """A 5xx is wrong unless it is a 503 telling when to ask again."""
    return status >= 500 and not (status == 503 and retry_after)


# The trickle: joins, transfers, expulsions, polls.

class Trickle(threading.Thread):
    """One step every `interval` seconds until `stop`; notes what it did, and
    when each member's stay in a chat began and ended (`stays`)."""

    STEPS = ("enrol", "transfer", "poll", "expel", "transfer")

    def __init__(self, client: Client, schools: list[dict], stays: dict, interval: float, stop: threading.Event,
                 start_reader, seed: int = 7):
        super().__init__(daemon=True)
        self.client, self.schools, self.stays = client, schools, stays
        self.interval, self.stop, self.start_reader = interval, stop, start_reader
        self.rng = random.Random(seed)
        self.done: Counter = Counter()
        self.failures: list[str] = []
        self.polls: list[dict] = []
        self.pending: list[dict] = []  # chat invitations waited for: person, purpose, unit_id
        self.expelled: list[dict] = []  # the students and parents who left with them
        self.phones = itertools.count()

    def run(self) -> None:
        for step in itertools.cycle(self.STEPS):
            if self.stop.wait(self.interval):
                return
            try:
                getattr(self, step)(self.rng.choice(self.schools))
            except Exception as error:  # noted and counted as wrong; the run goes on
                self.failures.append(f"{step}: {type(error).__name__}: {error}")
            self.accept_pending()

    # Members who do not post, and may move.

    def movers(self, school: dict) -> list[tuple[dict, dict]]:
        return [(klass, member) for klass in school["classes"] for member in klass["movers"]]

    def enrol(self, school: dict) -> None:
        klass = self.rng.choice(school["classes"])
        admin = school["admin"]["token"]
        status, invite, _ = self.client.call("POST", f"/orgs/{school['org_id']}/invites", admin,
                                             json={"role": "student", "unit_id": klass["unit_id"]})
        expect(status == 201, f"invite answered {status}")
        person = self.sign_in(phone(school["next_phone"] + next(self.phones)))
        status, body, retried = self.client.call("POST", f"/invites/{invite['token']}/accept", person["token"])
        expect(status == 200 or (retried and status == 409), f"invite accepted with {status}: {body}")
        klass["movers"].append(person)
        self.done["enrol"] += 1
        self.pending.append({"person": person, "purpose": "class_students", "unit_id": klass["unit_id"],
                             "new_reader": True})

    def sign_in(self, number: str) -> dict:
        status, _, _ = self.client.call("POST", "/auth/otp", json={"phone": number})
        expect(status == 202, f"a code asked for with {status}")
        status, outbox, _ = self.client.call("GET", "/dev/outbox", params={"to": number})
        expect(status == 200, f"dev outbox answered {status}")
        code = next(item["code"] for item in outbox["items"] if item["code"])
        status, tokens, _ = self.client.call("POST", "/auth/token", json={"phone": number, "code": code})
        expect(status == 200, f"token answered {status}: {tokens}")
        return {"user_id": tokens["user"]["id"], "token": tokens["access_token"]}

    def transfer(self, school: dict) -> None:
        settled = [(k, m) for k, m in self.movers(school) if not self.waiting(m)]
        if not settled or len(school["classes"]) < 2:
            return
        klass, member = self.rng.choice(settled)
        target = self.rng.choice([k for k in school["classes"] if k is not klass])
        asked = time.time()
        status, body, retried = self.client.call(
            "POST", f"/orgs/{school['org_id']}/members/{member['user_id']}/transfer", school["admin"]["token"],
            json={"unit_id": target["unit_id"]})
        expect(status == 200 or (retried and status == 409), f"transfer answered {status}: {body}")
        klass["movers"].remove(member)
        target["movers"].append(member)
        leave(self.stays, member["user_id"], klass["chat_id"], asked)
        self.pending.append({"person": member, "purpose": "class_students", "unit_id": target["unit_id"]})
        parent = school["parents"].get(member["user_id"])
        if parent:
            self.pending.append({"person": parent, "purpose": "class_parents", "unit_id": target["unit_id"]})
        self.done["transfer"] += 1

    def expel(self, school: dict) -> None:
        settled = [(k, m) for k, m in self.movers(school) if not self.waiting(m)]
        with_parents = [(k, m) for k, m in settled if m["user_id"] in school["parents"]]
        choices = with_parents if with_parents and self.done["expel"] % 2 == 0 else settled
        if len(choices) < 1 or len(settled) < 3:  # some stay to be moved
            return
        klass, member = self.rng.choice(choices)
        asked = time.time()
        status, body, retried = self.client.call(
            "POST", f"/orgs/{school['org_id']}/members/{member['user_id']}/expel", school["admin"]["token"])
        expect(status == 200 or (retried and status == 404), f"expulsion answered {status}: {body}")
        klass["movers"].remove(member)
        leave(self.stays, member["user_id"], klass["chat_id"], asked)
        parent = school["parents"].pop(member["user_id"], None)
        self.expelled.append({"org_id": school["org_id"], "student": member, "parent": parent})
        self.done["expel"] += 1

    def poll(self, school: dict) -> None:
        klass = self.rng.choice(school["classes"])
        sent_at = time.time()
        status, poll, _ = self.client.call(
            "POST", f"/chats/{klass['chat_id']}/polls", klass["head"]["token"], key=str(uuid.uuid4()),
            json={"question": f"Poll {len(self.polls)} {uuid.uuid4().hex[:6]}?", "options": ["Да", "Нет"],
                  "multiple": False, "anonymous": False, "closes_at": None})
        expect(status == 201, f"poll answered {status}: {poll}")
        record = {"id": poll["id"], "message_id": poll["message_id"], "chat_id": klass["chat_id"],
                  "author": klass["head"]["user_id"], "sent_at": sent_at, "accepted_at": time.time(), "votes": {}}
        self.polls.append(record)
        voters = [m for m in klass["members"][1:] + klass["movers"] if not self.waiting(m)][:3]
        for voter in voters:
            option = self.rng.choice(poll["options"])
            status, body, _ = self.client.call("POST", f"/polls/{poll['id']}/votes", voter["token"],
                                               key=str(uuid.uuid4()), json={"option_ids": [option["id"]]})
            expect(status == 200, f"vote answered {status}: {body}")
            record["votes"][voter["user_id"]] = option["id"]
        self.done["poll"] += 1

    # Chat invitations the trickle's steps bring, accepted as the apps do.

    def waiting(self, member: dict) -> bool:
        return any(item["person"] is member for item in self.pending)

    def accept_pending(self) -> None:
        for item in list(self.pending):
            person = item["person"]
            status, page, _ = self.client.call("GET", "/me/chat-invitations", person["token"], deadline=30)
            if status != 200:
                continue
            found = next((i for i in page["items"] if i["chat"]["purpose"] == item["purpose"]
                          and i["chat"]["unit_id"] == item["unit_id"]), None)
            if found is None:
                continue
            status, body, retried = self.client.call(
                "POST", f"/chat-invitations/{found['id']}/accept", person["token"],
                json={"accepted_rules_version": found["chat"]["rules_version"]}, deadline=30)
            if status == 200 or (retried and status in (404, 409)):
                self.pending.remove(item)
                if item["purpose"] != "class_students":
                    continue
                if item.get("new_reader"):
                    self.start_reader(person, found["chat"]["id"])
                else:
                    self.stays.setdefault(person["user_id"], []).append([found["chat"]["id"], time.time(), None])

    def finish(self, deadline: float) -> None:
        until = time.monotonic() + deadline
        while self.pending and time.monotonic() < until:
            self.accept_pending()
            if self.pending:
                time.sleep(1)


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def leave(stays: dict, user_id: str, chat_id: str, at: float) -> None:
    for stay in stays.get(user_id, []):
        if stay[0] == chat_id and stay[2] is None:
            stay[2] = at


# The faults.

class Faults:
    """Restarts of RabbitMQ and PostgreSQL (one after another, in one thread)
    and SIGKILLs (in another), each kind spread evenly over the run; killed
    worker processes are started again, and any that exit by themselves are
    noted and started again too."""

    def __init__(self, rabbit: RabbitMQServer, postgres: PostgresServer, cluster, targets: list[str], args,
                 started: float):
        self.rabbit, self.postgres, self.cluster, self.args, self.started = rabbit, postgres, cluster, args, started
        restarts = spread(["broker"] * args.restarts, args.duration) + spread(
            ["database"] * args.database_restarts, args.duration, offset=0.37)
        self.restarts = sorted(restarts)
        self.kills = spread([targets[n % len(targets)] for n in range(args.kills)], args.duration, offset=0.5)
        self.log: list[str] = []
        self.done = Counter()
        self.exited: list[str] = []  # processes that exited by themselves
        self._killed: set[int] = set()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(self.restarts, self._restart), daemon=True),
                         threading.Thread(target=self._run, args=(self.kills, self._kill), daemon=True),
                         threading.Thread(target=self._supervise, daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads[:2]:
            thread.join()

    def stop(self) -> None:
        self._stop.set()
        self._threads[2].join()

    def _run(self, plan, act) -> None:
        for at, what in plan:
            delay = self.started + at - time.time()
            if delay > 0:
                time.sleep(delay)
            act(what)

    def _restart(self, what: str) -> None:
        server = self.rabbit if what == "broker" else self.postgres
        stopping = time.time()
        server.stop()
        time.sleep(self.args.outage_seconds)
        starting = time.time()
        server.start()
        self.done[what] += 1
        self.note(f"{'RabbitMQ' if what == 'broker' else 'PostgreSQL'} away for {time.time() - stopping:.1f}s "
                  f"(starting took {time.time() - starting:.1f}s)")

    def _kill(self, label: str) -> None:
        process = dict(self.cluster.processes)[label]
        if label.endswith("-worker"):
            victim = process.pid
        else:
            workers = workers_of(process.pid)
            if not workers:
                self.note(f"{label}: no web worker to kill")
                return
            victim = random.choice(workers)
        self._killed.add(victim)
        os.kill(victim, signal.SIGKILL)
        self.done["kill"] += 1
        self.note(f"{label} {'process' if label.endswith('-worker') else 'web worker'} {victim} killed")
        if label.endswith("-worker"):
            process.wait()
            time.sleep(1.0)
            self.cluster.restart_worker(label)

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            for label, process in list(self.cluster.processes):
                if process.poll() is None or process.pid in self._killed:
                    continue
                self.exited.append(f"{label} (pid {process.pid}) exited with {process.returncode}")
                self.note(self.exited[-1])
                if label.endswith("-worker"):
                    self.cluster.restart_worker(label)
                else:
                    self._killed.add(process.pid)  # a gunicorn master: noted once

    def note(self, what: str) -> None:
        line = f"{time.time() - self.started:6.1f}s  {what}"
        self.log.append(line)
        print(line, flush=True)


def spread(items: list[str], duration: float, offset: float = 0.0) -> list[tuple[float, str]]:
    """Each item at its own moment, evenly over the run; `offset` (a fraction
    of the gap) keeps kinds that share a count from coinciding."""
    gap = duration / (len(items) + 1)
    return [(gap * (n + 1 + offset), item) for n, item in enumerate(items)]


def kill_targets(gateway: str) -> list[str]:
    """Taken in turn: the messaging path first, then every other process kind."""
    others = [name for name in SERVICES if name != "messaging"]
    return ["messaging", "messaging-worker", gateway] + [label for name in others
                                                         for label in (name, f"{name}-worker")]


# Checks: plain functions of what was recorded and what was read.

def check_history(posts: list[dict], histories: dict[str, list[dict]]) -> dict:
    """Every post answered 201 is in its chat's history once, with the id it
    was answered with; posts in it more than once; posts in it never answered."""
    found: dict[str, list[dict]] = {}
    for items in histories.values():
        for message in items:
            found.setdefault(message["text"], []).append(message)
    accepted = [post for post in posts if post["message"]]
    lost = [post["text"] for post in accepted if not found.get(post["text"])]
    duplicated = [post["text"] for post in posts if len(found.get(post["text"], [])) > 1]
    other_id = [post["text"] for post in accepted if len(found.get(post["text"], [])) == 1
                and found[post["text"]][0]["id"] != post["message"]["id"]]
    accepted_texts = {post["text"] for post in accepted}
    return {"accepted": len(accepted), "lost": lost, "duplicated": duplicated, "answered_another_id": other_id,
            "saved_without_201": sum(1 for post in posts if post["text"] not in accepted_texts
                                     and found.get(post["text"]))}


def check_replays(replays: list[dict]) -> list[dict]:
    """Each replay of an accepted post's Idempotency-Key answers what the post
    was answered: 201 with the same message."""
    return [r for r in replays if r["status"] != 201 or r["id"] != r["first"]["id"] or r["seq"] != r["first"]["seq"]]


def expected_pushes(messages: list[dict], stays: dict[str, list]) -> list[tuple[dict, str]]:
    """(message, reader's user id) for every other member who was in the
    message's chat from before it was sent until it was answered."""
    pairs = []
    by_chat: dict[str, list[tuple[str, float, float | None]]] = {}
    for user_id, periods in stays.items():
        for chat_id, joined, left in periods:
            by_chat.setdefault(chat_id, []).append((user_id, joined, left))
    for message in messages:
        for user_id, joined, left in by_chat.get(message["chat_id"], []):
            if user_id != message["author"] and joined <= message["sent_at"] and (
                    left is None or message["accepted_at"] <= left):
                pairs.append((message, user_id))
    return pairs


def check_pushes(messages: list[dict], stays: dict, readers: dict) -> dict:
    """How each expected push reached its reader (Reader.covered); the silent gaps."""
    how, gaps = Counter(), []
    for message, user_id in expected_pushes(messages, stays):
        way = readers[user_id].covered(message, message["sent_at"])
        how[way] += 1
        if way == "gap":
            gaps.append({"message": message["id"], "chat": message["chat_id"], "seq": message["seq"],
                         "reader": user_id, "sent_at": message["sent_at"]})
    return {"expected": sum(how.values()), **{key: how.get(key, 0) for key in ("live", "resync", "reopened", "seq")},
            "gaps": gaps}


def check_memberships(expected: dict[str, set[str]], actual: dict[str, set[str]]) -> list[dict]:
    """Chats whose members differ from who should be in them."""
    return [{"chat": chat_id, "missing": sorted(expected[chat_id] - actual.get(chat_id, set())),
             "extra": sorted(actual.get(chat_id, set()) - expected[chat_id])}
            for chat_id in sorted(expected) if expected[chat_id] != actual.get(chat_id, set())]


def check_counters(expected: dict[str, int], reported: dict[str, int]) -> list[dict]:
    """Counters (keyed by school, or school and class) that differ."""
    return [{"counter": key, "expected": expected.get(key, 0), "reported": reported.get(key, 0)}
            for key in sorted(set(expected) | set(reported)) if expected.get(key, 0) != reported.get(key, 0)]


def message_counts(schools: list[dict], histories: dict[str, list[dict]]) -> dict[str, int]:
    """What orgstructure should count: every message but the platform's
    notices, by school and by school and class."""
    counts: Counter = Counter()
    for school in schools:
        for klass in school["classes"]:
            n = sum(1 for m in histories.get(klass["chat_id"], []) if m["kind"] != "notice")
            counts[school["org_id"]] += n
            counts[f"{school['org_id']}/{klass['unit_id']}"] += n
    return dict(counts)


def summary_line(restarts: int, kills: int, accepted: int, lost: int, duplicated: int, wrong: int) -> str:
    return (f"faults: {restarts} restarts, {kills} kills, {accepted} accepted, {lost} lost, "
            f"{duplicated} duplicated, {wrong} wrong")


# Reading what the platform holds at the end.

def read_all(client: Client, path: str, token: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        status, page, _ = client.call("GET", path, token, params=params)
        expect(status == 200, f"GET {path} answered {status}: {page}")
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def chat_members(client: Client, chat_id: str, token: str) -> set[str]:
    return {member["user_id"] for member in read_all(client, f"/chats/{chat_id}/members", token)}


def derived_state(client: Client, schools: list[dict], trickle: Trickle, histories: dict) -> dict:
    """Chats' members against who is where (as orgstructure says and as the
    trickle did); expelled people in no chat of the school; the counters;
    the official chats."""
    expected, actual, placement_differs, missing_chats, counters = {}, {}, [], [], {}
    today = date.today()
    for school in schools:
        org_id, admin = school["org_id"], school["admin"]["token"]
        placed = {m["user_id"]: m.get("unit_id") for m in read_all(client, f"/orgs/{org_id}/members", admin)}
        for klass in school["classes"]:
            head = klass["head"]
            students = {m["user_id"] for m in klass["members"][1:] + klass["movers"]}
            said = {user for user, unit in placed.items() if unit == klass["unit_id"]}
            if said != students:
                placement_differs.append({"unit": klass["unit_id"], "orgstructure": sorted(said),
                                          "trickle": sorted(students)})
            expected[klass["chat_id"]] = students | {head["user_id"]}
            actual[klass["chat_id"]] = chat_members(client, klass["chat_id"], head["token"])
            if klass["parents_chat_id"]:
                parents = {school["parents"][s]["user_id"] for s in students if s in school["parents"]}
                expected[klass["parents_chat_id"]] = parents | {head["user_id"]}
                actual[klass["parents_chat_id"]] = chat_members(client, klass["parents_chat_id"], head["token"])
            purposes = {c["purpose"] for c in read_all(client, "/chats", head["token"])
                        if c["unit_id"] == klass["unit_id"]}
            purposes |= {i["chat"]["purpose"] for i in read_all(client, "/me/chat-invitations", head["token"])
                         if i["chat"]["unit_id"] == klass["unit_id"]}
            if not {"class_students", "class_parents", "class_teachers"} <= purposes:
                missing_chats.append({"unit": klass["unit_id"], "has": sorted(filter(None, purposes))})
        purposes = {c["purpose"] for c in read_all(client, "/chats", admin) if c["org_id"] == org_id}
        purposes |= {i["chat"]["purpose"] for i in read_all(client, "/me/chat-invitations", admin)
                     if i["chat"]["org_id"] == org_id}
        if not {"school", "staff", "teachers"} <= purposes:
            missing_chats.append({"org": org_id, "has": sorted(filter(None, purposes))})
        status, stats, _ = client.call("GET", f"/orgs/{org_id}/stats", admin, params={
            "from": (today - timedelta(days=7)).isoformat(), "to": (today + timedelta(days=1)).isoformat()})
        expect(status == 200, f"stats answered {status}: {stats}")
        counters[org_id] = sum(week["messages"] for week in stats["weeks"])
        for unit in stats["units"]:
            counters[f"{org_id}/{unit['unit_id']}"] = unit["messages"]
    still_in = []
    for gone in trickle.expelled:
        for person in filter(None, (gone["student"], gone["parent"])):
            chats = [c["id"] for c in read_all(client, "/chats", person["token"]) if c["org_id"] == gone["org_id"]]
            invited = [i["id"] for i in read_all(client, "/me/chat-invitations", person["token"])
                       if i["chat"]["org_id"] == gone["org_id"]]
            if chats or invited:
                still_in.append({"user": person["user_id"], "chats": chats, "invitations": invited})
    return {"memberships": check_memberships(expected, actual), "placements": placement_differs,
            "expelled_still_in": still_in, "counters": check_counters(message_counts(schools, histories), counters),
            "official_chats_missing": missing_chats, "chats_checked": len(expected)}


def replay_posts(client: Client, posts: list[dict], tokens: dict[str, str], sample: int, rng: random.Random) -> list:
    """The Idempotency-Key of every post that took more than one try, and of
    `sample` others, sent again: answered what the post was."""
    accepted = [post for post in posts if post["message"]]
    chosen = [post for post in accepted if len(post["tries"]) > 1]
    others = [post for post in accepted if len(post["tries"]) == 1]
    chosen += rng.sample(others, min(sample, len(others)))
    replays = []
    for post in chosen:
        status, body, _ = client.call("POST", f"/chats/{post['chat_id']}/messages", tokens[post["author"]],
                                      key=post["key"], json={"text": post["text"]})
        replays.append({"text": post["text"], "status": status, "id": (body or {}).get("id"),
                        "seq": (body or {}).get("seq"), "first": post["message"]})
    return replays


def dead_letters(cluster, names: list[str]) -> dict[str, int]:
    """`python -m services dlq <name> list` for each consuming service: how many it lists."""
    found = {}
    for name in names:
        done = subprocess.run([sys.executable, "-m", "services", "dlq", name, "list"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=cluster.env(DATABASE_URL=cluster.database_urls[name]))
        match = re.search(r"(\d+) message\(s\) listed", done.stdout)
        found[name] = int(match.group(1)) if match and done.returncode == 0 else -1
        if found[name]:
            print(f"{name} dlq: {done.stdout.strip()} {done.stderr.strip()}"[:2000], flush=True)
    return found


def bound_events() -> set[str]:
    """The event types some service consumes."""
    return {key for name in SERVICES for key in importlib.import_module(f"services.{name}.handlers").handlers.by_type}


def outbox_rows(cluster, bound: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Each service's outbox rows: of events some service consumes (wrong once
    the run settled), and of events none binds yet, which wait there by design
    for their first consumer (README "How the services talk")."""
    import psycopg2

    waiting, unbound = {}, {}
    for name, url in cluster.database_urls.items():
        connection = psycopg2.connect(url)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT routing_key, count(*) FROM outbox GROUP BY routing_key")
                rows = cursor.fetchall()
        finally:
            connection.close()
        waiting[name] = sum(n for key, n in rows if key in bound)
        unbound[name] = sum(n for key, n in rows if key not in bound)
    return waiting, unbound


def queued(rabbit: RabbitMQServer, names: list[str]) -> int:
    """Events waiting in (or held from) the services' queues and retry queues."""
    try:
        queues = rabbit._api("GET", "/queues").json()
    except requests.RequestException:
        return -1
    return sum(q.get("messages", 0) for q in queues
               if q["name"] in names or q["name"].endswith(".retry") and q["name"][:-6] in names)


def settle(cluster, rabbit: RabbitMQServer, names: list[str], trickle: Trickle, deadline: float) -> float:
    """Waits until every outbox and queue is empty and the trickle's invitations
    were accepted (for six seconds in a row); answers the seconds taken."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < deadline:
        trickle.accept_pending()
        try:
            idle = (not trickle.pending and not any(outbox_rows(cluster, bound_events())[0].values())
                    and queued(rabbit, names) == 0)
        except Exception:  # the database still starting
            idle = False
        calm = calm + 1 if idle else 0
        if calm >= 6:  # the broker's queue figures are some seconds old
            break
        time.sleep(1.0)
    return time.monotonic() - started


# The run.

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schools", type=int, default=10)
    p.add_argument("--classes", type=int, default=2, help="per school")
    p.add_argument("--students", type=int, default=11, help="per class at the start")
    p.add_argument("--movers", type=int, default=4,
                   help="of them, per class, those who do not post and may be moved or expelled")
    p.add_argument("--parents", type=int, default=2, help="per class, the last students' parents")
    p.add_argument("--rate", type=float, default=200, help="posts per second")
    p.add_argument("--duration", type=float, default=600, help="seconds of posting")
    p.add_argument("--trickle-seconds", type=float, default=4, help="between two joins, transfers, expulsions or polls")
    p.add_argument("--restarts", type=int, default=20, help="RabbitMQ restarts")
    p.add_argument("--database-restarts", type=int, default=2, help="PostgreSQL restarts")
    p.add_argument("--outage-seconds", type=float, default=4, help="how long a server stays stopped")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs, in turn over every kind of process")
    p.add_argument("--replays", type=int, default=200, help="accepted posts whose Idempotency-Key is sent again")
    p.add_argument("--settle-seconds", type=float, default=300, help="at most, for the queues and outboxes to empty")
    platform_arguments(p)
    p.set_defaults(worker_processes="all")
    p.add_argument("--out", default=str(ROOT / "var" / "bench"))
    p.add_argument("--keep", action="store_true", help="keep the logs")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    report = run(args)
    return 0 if report["ok"] else 1


def run(args) -> dict:
    """The soak; prints as it goes and at the end, and answers the report
    (`ok`, `lost`, `duplicated`, `wrong`, the figures)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Tokens outlive the run: a socket opened again must not be refused for an expired one.
    with servers_and_cluster(args, "sferum-faults-", ACCESS_TOKEN_TTL=str(int(args.duration) + 3600)) as (
            rabbit, postgres, cluster, _work):
        stop = threading.Event()
        faults = None
        try:
            gateways = start_platform(cluster, args)
            base_url = cluster.url(gateways[0])
            schools = build_schools(cluster, gateways, args.schools, args.students, args.classes, args.parents)
            readers: dict[str, Reader] = {}
            stays: dict[str, list] = {}
            reader_lock = threading.Lock()

            def start_reader(member: dict, chat_id: str) -> None:
                reader = Reader(base_url, member, chat_id, stop)
                reader.start()
                if not reader.connected.wait(120):
                    raise RuntimeError("a socket did not open")
                with reader_lock:
                    readers[member["user_id"]] = reader
                    stays.setdefault(member["user_id"], []).append([chat_id, time.time(), None])

            authors = []
            for school in schools:
                for klass in school["classes"]:
                    staying = len(klass["members"]) - args.movers
                    klass["movers"] = klass["members"][staying:]
                    klass["members"] = klass["members"][:staying]
                    authors.append({"chat_id": klass["chat_id"], "members": klass["members"]})
                    for member in klass["members"] + klass["movers"]:
                        reader = Reader(base_url, member, klass["chat_id"], stop)
                        reader.start()
                        readers[member["user_id"]] = reader
            for user_id, reader in readers.items():
                if not reader.connected.wait(120):
                    raise RuntimeError("a socket did not open")
                stays[user_id] = [[reader.chat_id, time.time(), None]]
            print(f"{len(readers)} sockets open; posting {args.rate:.0f}/s for {args.duration:.0f}s", flush=True)

            client = Client(base_url)
            poster = Poster(base_url, authors)
            stop_trickle = threading.Event()
            trickle = Trickle(client, schools, stays, args.trickle_seconds, stop_trickle, start_reader)
            started = time.time()
            faults = Faults(rabbit, postgres, cluster, kill_targets(gateways[0]), args, started)
            faults.start()
            trickle.start()
            poster.run(args.rate, args.duration)  # returns once every post was answered or given up
            stop_trickle.set()
            trickle.join()
            faults.join()
            consuming = [name for name in SERVICES if importlib.import_module(f"services.{name}.handlers").handlers.by_type]
            settled = settle(cluster, rabbit, consuming, trickle, args.settle_seconds)
            print(f"settled in {settled:.1f}s after the last post", flush=True)
            faults.stop()
            stop.set()

            histories = {klass["chat_id"]: read_history(base_url, klass) for school in schools
                         for klass in school["classes"]}
            by_id = {m["id"]: m for items in histories.values() for m in items}
            history = check_history(poster.posts, histories)
            tokens = {m["user_id"]: m["token"] for school in schools for klass in school["classes"]
                      for m in klass["members"]}
            replays = replay_posts(client, poster.posts, tokens, args.replays, random.Random(3))
            messages = [{"id": post["message"]["id"], "seq": post["message"]["seq"], "chat_id": post["chat_id"],
                         "author": post["author"], "sent_at": post["sent_at"],
                         "accepted_at": post["tries"][-1]["at"] + post["tries"][-1]["seconds"]}
                        for post in poster.posts if post["message"]]
            polls_missing = []
            for poll in trickle.polls:
                if poll["message_id"] in by_id:
                    messages.append({"id": poll["message_id"], "seq": by_id[poll["message_id"]]["seq"], **{
                        key: poll[key] for key in ("chat_id", "author", "sent_at", "accepted_at")}})
                else:
                    polls_missing.append(poll["id"])
            pushes = check_pushes(messages, stays, readers)
            derived = derived_state(client, schools, trickle, histories)
            votes_wrong = []
            for poll in trickle.polls:
                head = next(k["head"] for s in schools for k in s["classes"] if k["chat_id"] == poll["chat_id"])
                status, seen, _ = client.call("GET", f"/polls/{poll['id']}", head["token"])
                counted = {option["id"]: option["votes"] for option in (seen or {}).get("options", [])}
                wanted = Counter(poll["votes"].values())
                if status != 200 or any(counted.get(option, 0) != n for option, n in wanted.items()) or \
                        sum(counted.values()) != len(poll["votes"]):
                    votes_wrong.append({"poll": poll["id"], "status": status, "counted": counted, "voted": dict(wanted)})
            dlq = dead_letters(cluster, consuming)
            outboxes, unbound = outbox_rows(cluster, bound_events())
            statuses = Counter({str(k): v for k, v in client.statuses.items()})
            bad_posts = []
            for post in poster.posts:
                for attempt in post["tries"]:
                    statuses[str(attempt["outcome"])] += 1
                    if isinstance(attempt["outcome"], int) and answer_is_wrong(attempt["outcome"],
                                                                               attempt.get("retry_after")):
                        bad_posts.append({"text": post["text"], **attempt})
            wrong = {
                "answers_5xx": len(client.bad) + len(bad_posts),
                "answered_another_id": len(history["answered_another_id"]),
                "replays_not_the_first_answer": len(check_replays(replays)),
                "silent_gaps": len(pushes["gaps"]),
                "memberships": len(derived["memberships"]),
                "placements": len(derived["placements"]),
                "expelled_still_in": len(derived["expelled_still_in"]),
                "counters": len(derived["counters"]),
                "official_chats_missing": len(derived["official_chats_missing"]),
                "polls_missing": len(polls_missing),
                "votes": len(votes_wrong),
                "dead_letters": sum(abs(n) for n in dlq.values()),
                "outbox_rows": sum(outboxes.values()),
                "trickle_failures": len(trickle.failures),
                "invitations_never_came": len(trickle.pending),
                "processes_exited": len(faults.exited),
            }
            restarts = faults.done["broker"] + faults.done["database"]
            accepted, lost, duplicated = history["accepted"], len(history["lost"]), len(history["duplicated"])
            report = {
                "arguments": vars(args), "faults": faults.log, "settle_seconds": round(settled, 1),
                "posts": {"offered": len(poster.posts), "accepted": accepted,
                          "accepted_first_try": sum(1 for p in poster.posts if p["message"] and len(p["tries"]) == 1),
                          "never_accepted": len(poster.posts) - accepted,
                          "saved_without_201": history["saved_without_201"], "tries": dict(statuses)},
                "history": {k: history[k] for k in ("lost", "duplicated", "answered_another_id")},
                "replays": {"sent": len(replays), "wrong": check_replays(replays)},
                "pushes": pushes,
                "sockets": {"open": len(readers), "resync_frames": sum(len(r.resyncs) for r in readers.values()),
                            "reopened": sum(len(r.opened) - 1 for r in readers.values())},
                "trickle": {"done": dict(trickle.done), "polls": len(trickle.polls),
                            "votes": sum(len(p["votes"]) for p in trickle.polls), "failures": trickle.failures,
                            "pending": [{"user": i["person"]["user_id"], "purpose": i["purpose"]}
                                        for i in trickle.pending]},
                "derived": derived, "polls_missing": polls_missing, "votes_wrong": votes_wrong,
                "answers_wrong": client.bad + bad_posts, "dead_letters": dlq, "outboxes": outboxes,
                "outboxes_unbound": unbound,
                "exited": faults.exited, "wrong": wrong,
                "figures": {"restarts": restarts, "broker_restarts": faults.done["broker"],
                            "database_restarts": faults.done["database"], "kills": faults.done["kill"],
                            "accepted": accepted, "lost": lost, "duplicated": duplicated, "wrong": sum(wrong.values())},
            }
            report["ok"] = lost == 0 and duplicated == 0 and sum(wrong.values()) == 0
            print_report(report)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            (out / f"faults-{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
            print(f"full results: {out / f'faults-{stamp}.json'}")
            f = report["figures"]
            print(summary_line(f["restarts"], f["kills"], f["accepted"], f["lost"], f["duplicated"], f["wrong"]),
                  flush=True)
            return report
        finally:
            stop.set()
            if faults is not None:
                faults.stop()


def print_report(report: dict) -> None:
    posts, pushes, derived, wrong = report["posts"], report["pushes"], report["derived"], report["wrong"]
    f = report["figures"]
    print(f"\nfaults: RabbitMQ restarted {f['broker_restarts']} times, PostgreSQL {f['database_restarts']} times, "
          f"{f['kills']} processes killed; settled {report['settle_seconds']}s after the last post")
    print(f"posts: {posts['offered']} offered, {posts['accepted']} accepted ({posts['accepted_first_try']} on the "
          f"first try), {posts['never_accepted']} never accepted ({posts['saved_without_201']} of them saved); "
          f"every try: {posts['tries']}")
    print(f"history: lost {f['lost']}, duplicated {f['duplicated']}, answered with another message's id "
          f"{wrong['answered_another_id']}; Idempotency-Key sent again for {report['replays']['sent']} accepted "
          f"posts: {wrong['replays_not_the_first_answer']} not answered the first answer")
    print(f"pushes: {pushes['expected']} expected; live {pushes['live']}, covered by resync {pushes['resync']}, "
          f"by the socket opening again {pushes['reopened']}, by a later message's seq {pushes['seq']}, "
          f"silent gaps {len(pushes['gaps'])}; sockets: {report['sockets']['open']}, "
          f"{report['sockets']['resync_frames']} resync frames, reopened {report['sockets']['reopened']} times")
    trickle = report["trickle"]
    print(f"trickle: {trickle['done']}, {trickle['votes']} votes; failed steps {wrong['trickle_failures']}, "
          f"chat invitations that never came {wrong['invitations_never_came']}")
    print(f"derived state: {derived['chats_checked']} class chats' members, {wrong['memberships']} wrong; placements "
          f"differing from orgstructure {wrong['placements']}; expelled people still in a chat of the school "
          f"{wrong['expelled_still_in']}; message counters wrong {wrong['counters']}; official chats missing "
          f"{wrong['official_chats_missing']}; polls missing {wrong['polls_missing']}, wrong vote counts "
          f"{wrong['votes']}")
    print(f"answers 5xx other than 503 with Retry-After: {wrong['answers_5xx']}; events in dead-letter queues: "
          f"{report['dead_letters']}; outbox rows left: {report['outboxes']} (and of events no service consumes, "
          f"waiting for one by design: {report['outboxes_unbound']}); processes that exited by themselves: "
          f"{wrong['processes_exited']}")
    for name, value in wrong.items():
        if value:
            print(f"  WRONG {name}: {value}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
