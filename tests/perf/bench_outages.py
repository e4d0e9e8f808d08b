"""Outages under load: the distributed mode (as `bench_messaging.py` starts it)
while RabbitMQ is restarted a few times and messaging's and the gateway's
workers are killed, with steady posting through the gateway.

Schools are built through the public API, each with a class chat whose
members all keep a WebSocket open (a socket the gateway closes is opened
again, as apps do). Phones post at a steady rate into random class chats,
each post with an Idempotency-Key and retried with it until it is answered
201. Meanwhile the broker is stopped for a few seconds and started again,
and a messaging worker or the gateway's worker is sent SIGKILL (gunicorn
starts another), spread over the run. Printed at the end:

- posts: offered, accepted, answered 201 on the first try, never accepted;
  every try answered 503 (or another status, or not at all);
- history: accepted posts missing from it (lost), posts in it more than
  once (duplicated), posts in it whose phone never got a 201;
- pushes, for every accepted post and every other member of its chat:
  delivered live, covered by a `stream.resync` that came after the post was
  sent, by the socket being opened again after it (the app reads history
  then), by a later message of the chat whose `seq` shows the gap, or by
  none of these (a silent gap);
- the first try's answer time with the broker up, stopping or starting
  (RabbitMQ's own work then takes much of the machine), and stopped.

    make bench-outages                                        # about 8 minutes
    make bench-outages OUTAGE_ARGS="--duration 120 --restarts 1 --messaging-kills 1 --gateway-kills 0"
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

from bench_messaging import ROOT, build_schools, percentile, platform_arguments, servers_and_cluster, \
    start_platform, workers_of
from devkit.servers import RabbitMQServer
from services.common.realtime import RESYNC


class Reader(threading.Thread):
    """One member's socket, opened again whenever it closes; notes when each
    message arrived (of `chat_id`, the chat it was opened for, or of any
    other), each resync, and each (re)opening."""

    def __init__(self, base_url: str, member: dict, chat_id: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.url = base_url.replace("http://", "ws://") + "/api/v1/stream"
        self.member = member
        self.chat_id = chat_id
        self.stop = stop
        self.arrived: dict[str, float] = {}  # message id -> time
        self.highest_seq: dict[str, int] = {}  # chat id -> of its messages that arrived
        self.resyncs: list[float] = []
        self.opened: list[float] = []
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                ws = websocket.create_connection(self.url, timeout=10, header=[
                    f"Authorization: Bearer {self.member['token']}"])
                ws.recv()  # stream.ready: from here on, pushes reach this socket
            except (OSError, websocket.WebSocketException):
                self.stop.wait(0.2)
                continue
            self.opened.append(time.time())
            self.connected.set()
            ws.settimeout(1.0)
            try:
                self._read(ws)
            finally:
                ws.close()

    def _read(self, ws) -> None:
        while not self.stop.is_set():
            try:
                text = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                return
            if not text:
                return  # closed
            now = time.time()
            frame = json.loads(text)
            if frame["type"] == "message.created":
                data = frame["data"]
                self.arrived.setdefault(data["id"], now)
                self.highest_seq[data["chat_id"]] = max(self.highest_seq.get(data["chat_id"], 0), data["seq"])
            elif frame["type"] == RESYNC:
                self.resyncs.append(now)

    def covered(self, message: dict, sent_at: float) -> str:
        """How this member's app learns of `message` (its id, seq and chat_id),
        posted at `sent_at`: its push, a resync or the socket opening again
        after that, or a later message of the chat (its `seq` shows the gap);
        else a silent gap."""
        if message["id"] in self.arrived:
            return "live"
        if self.resyncs and self.resyncs[-1] >= sent_at:  # noted in the order they came
            return "resync"
        if len(self.opened) > 1 and self.opened[-1] >= sent_at:
            return "reopened"
        if self.highest_seq.get(message["chat_id"], 0) > message["seq"]:
            return "seq"
        return "gap"


class Poster:
    """Posts at a steady rate (open loop) from a pool of threads; each post is
    retried with its Idempotency-Key until it is answered 201 or `give_up`
    seconds passed."""

    def __init__(self, base_url: str, chats: list[dict], give_up: float = 60.0):
        self.base_url = base_url
        self.authors = [(member, chat["chat_id"]) for chat in chats for member in chat["members"]]
        self.give_up = give_up
        self.posts: list[dict] = []
        self._local = threading.local()
        self._rng = random.Random(1)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def run(self, rate: float, duration: float) -> None:
        with ThreadPoolExecutor(64) as pool:
            started = time.time()
            for n in range(int(rate * duration)):
                delay = started + n / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                member, chat_id = self._rng.choice(self.authors)
                post = {"text": f"outage {n} {uuid.uuid4().hex[:8]}", "chat_id": chat_id, "author": member["user_id"],
                        "key": str(uuid.uuid4()), "tries": [], "message": None, "sent_at": time.time()}
                self.posts.append(post)
                pool.submit(self._post, post, member["token"])

    def _post(self, post: dict, token: str) -> None:
        deadline = time.monotonic() + self.give_up
        while time.monotonic() < deadline:
            started = time.time()
            try:
                response = self._session().post(
                    f"{self.base_url}/api/v1/chats/{post['chat_id']}/messages", json={"text": post["text"]},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": post["key"]}, timeout=30)
                outcome = response.status_code
            except requests.RequestException as error:
                response, outcome = None, type(error).__name__
            post["tries"].append({"at": started, "seconds": time.time() - started, "outcome": outcome,
                                  **({"retry_after": response.headers.get("Retry-After")}
                                     if outcome == 503 else {})})
            if outcome == 201:
                post["message"] = {"chat_id": post["chat_id"], **{key: response.json()[key] for key in ("id", "seq")}}
                return
            time.sleep(0.2)


class Chaos(threading.Thread):
    """Broker restarts and worker kills, spread evenly over the run and taken
    in turn; notes when the broker was away."""

    def __init__(self, rabbit: RabbitMQServer, cluster, gateway: str, args, started: float):
        super().__init__(daemon=True)
        self.rabbit, self.cluster, self.gateway, self.args, self.started = rabbit, cluster, gateway, args, started
        kinds = [["broker"] * args.restarts, ["messaging"] * args.messaging_kills, ["gateway"] * args.gateway_kills]
        order = [kind for round_ in zip_longest_all(kinds) for kind in round_]
        self.plan = [(args.duration * (n + 1) / (len(order) + 1), kind) for n, kind in enumerate(order)]
        self.outages: list[tuple[float, float, float, float]] = []  # stopping, stopped, starting, started
        self.log: list[str] = []

    def run(self) -> None:
        for at, kind in self.plan:
            delay = self.started + at - time.time()
            if delay > 0:
                time.sleep(delay)
            if kind == "broker":
                stopping = time.time()
                self.rabbit.stop()
                stopped = time.time()
                time.sleep(self.args.outage_seconds)
                starting = time.time()
                self.rabbit.start()
                self.outages.append((stopping, stopped, starting, time.time()))
                self.note(f"broker away for {time.time() - stopping:.1f}s (stopping {stopped - stopping:.1f}s, "
                          f"starting {time.time() - starting:.1f}s)")
            else:
                label = "messaging" if kind == "messaging" else self.gateway
                master = dict(self.cluster.processes)[label].pid
                victim = random.choice(workers_of(master))
                os.kill(victim, signal.SIGKILL)
                self.note(f"{label} worker {victim} killed")

    def note(self, what: str) -> None:
        line = f"{time.time() - self.started:6.1f}s  {what}"
        self.log.append(line)
        print(line, flush=True)


def zip_longest_all(lists: list[list[str]]) -> list[list[str]]:
    """Round by round, one of each list while it lasts."""
    return [[items[n] for items in lists if n < len(items)] for n in range(max(map(len, lists), default=0))]


def _history_page(url: str, params: dict, token: str, deadline_s: float = 60) -> dict:
    """A page of history; a process killed or restarted last may still be on
    its way back (502/503): asked again until the deadline, any other refusal
    said with its body."""
    deadline = time.monotonic() + deadline_s
    while True:
        answer = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if answer.status_code == 200:
            return answer.json()
        if answer.status_code < 500 or time.monotonic() > deadline:
            raise AssertionError(f"history: {answer.status_code} {answer.text[:500]}")
        time.sleep(0.5)


def read_history(base_url: str, chat: dict) -> list[dict]:
    token = chat["members"][0]["token"]
    items, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = _history_page(f"{base_url}/api/v1/chats/{chat['chat_id']}/messages", params, token)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def summarise(posts: list[dict], histories: dict[str, list[dict]], readers: list[Reader], chaos: Chaos) -> dict:
    accepted = [post for post in posts if post["message"]]
    outcomes = Counter(str(t["outcome"]) for post in posts for t in post["tries"])
    in_history = Counter(message["text"] for items in histories.values() for message in items)
    accepted_texts = {post["text"] for post in accepted}
    posted_texts = {post["text"] for post in posts}
    pushes, gaps = Counter(), []
    for post in accepted:
        for reader in readers:
            if reader.chat_id == post["chat_id"] and reader.member["user_id"] != post["author"]:
                how = reader.covered(post["message"], post["sent_at"])
                pushes[how] += 1
                if how == "gap":
                    gaps.append({"text": post["text"], "seq": post["message"]["seq"], "reader": reader.member["user_id"],
                                 "sent_at_s": round(post["sent_at"] - chaos.started, 3), "tries": post["tries"]})

    def phase(at: float) -> str:
        for stopping, stopped, starting, started in chaos.outages:
            if stopped <= at < starting:
                return "broker_stopped"
            if stopping <= at <= started:
                return "broker_stopping_or_starting"
        return "broker_up"

    refused_away = sum(1 for post in posts for t in post["tries"]
                       if t["outcome"] == 503 and phase(t["at"]) != "broker_up")
    first = [(post["tries"][0]["at"], post["tries"][0]["seconds"] * 1000) for post in posts if post["tries"]]
    by_phase = {name: [ms for at, ms in first if phase(at) == name]
                for name in ("broker_up", "broker_stopping_or_starting", "broker_stopped")}
    return {
        "posts": {"offered": len(posts), "accepted": len(accepted),
                  "accepted_first_try": sum(1 for post in accepted if len(post["tries"]) == 1),
                  "never_accepted": len(posts) - len(accepted), "tries": dict(outcomes),
                  "answered_503": outcomes.get("503", 0), "answered_503_broker_away": refused_away},
        "history": {"lost": sum(1 for text in accepted_texts if in_history[text] == 0),
                    "duplicated": sum(1 for text in posted_texts if in_history[text] > 1),
                    "saved_without_201": sum(1 for text in posted_texts - accepted_texts if in_history[text])},
        "pushes": {"expected": sum(pushes.values()), **{key: pushes.get(key, 0)
                                                         for key in ("live", "resync", "reopened", "seq", "gap")}},
        "gaps": gaps,
        "sockets": {"resync_frames": sum(len(r.resyncs) for r in readers),
                    "reopened": sum(len(r.opened) - 1 for r in readers)},
        "first_try_ms": {name: {"count": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
                                "max": max(values, default=float("nan"))} for name, values in by_phase.items()},
        "chaos": chaos.log,
    }


def print_report(report: dict) -> None:
    posts, history, pushes = report["posts"], report["history"], report["pushes"]
    print(f"\nposts: {posts['offered']} offered, {posts['accepted']} accepted "
          f"({posts['accepted_first_try']} on the first try), {posts['never_accepted']} never accepted; "
          f"answered 503: {posts['answered_503']} ({posts['answered_503_broker_away']} while the broker was away); "
          f"every try: {posts['tries']}")
    print(f"history: lost {history['lost']}, duplicated {history['duplicated']}, "
          f"saved without a 201 {history['saved_without_201']}")
    print(f"pushes: {pushes['expected']} expected; delivered live {pushes['live']}, covered by resync "
          f"{pushes['resync']}, by the socket opening again {pushes['reopened']}, by a later message's seq "
          f"{pushes['seq']}, silent gaps {pushes['gap']}")
    print(f"sockets: {report['sockets']['resync_frames']} resync frames, reopened {report['sockets']['reopened']} times")
    for label, figures in report["first_try_ms"].items():
        print(f"first try, {label.replace('_', ' ')}: {figures['count']} posts, p50 {figures['p50']:.0f} ms, "
              f"p99 {figures['p99']:.0f} ms, max {figures['max']:.0f} ms")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument("--students", type=int, default=9, help="per class chat, besides the class head")
    parser.add_argument("--rate", type=float, default=80, help="posts per second")
    parser.add_argument("--duration", type=float, default=360, help="seconds of posting")
    parser.add_argument("--restarts", type=int, default=3, help="RabbitMQ restarts")
    parser.add_argument("--outage-seconds", type=float, default=5, help="how long the broker stays stopped")
    parser.add_argument("--messaging-kills", type=int, default=3, help="SIGKILLs of a messaging worker")
    parser.add_argument("--gateway-kills", type=int, default=1, help="SIGKILLs of the gateway's worker")
    parser.add_argument("--settle-seconds", type=float, default=10, help="after the last post, before counting")
    platform_arguments(parser)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Tokens outlive the run: a socket opened again must not be refused for an expired one.
    with servers_and_cluster(args, "sferum-outages-", ACCESS_TOKEN_TTL=str(int(args.duration) + 3600)) as (
            rabbit, _postgres, cluster, _work):
        stop = threading.Event()
        try:
            return run(args, out, rabbit, cluster, stop)
        finally:
            stop.set()


def run(args, out: Path, rabbit: RabbitMQServer, cluster, stop: threading.Event) -> int:
    gateways = start_platform(cluster, args)
    schools = build_schools(cluster, gateways, args.schools, args.students)
    base_url = cluster.url(gateways[0])
    readers = [Reader(base_url, member, school["chat_id"], stop) for school in schools
               for member in school["members"]]
    for reader in readers:
        reader.start()
    for reader in readers:
        if not reader.connected.wait(60):
            raise RuntimeError("a socket did not open")
    print(f"{len(readers)} sockets open; posting {args.rate:.0f}/s for {args.duration:.0f}s", flush=True)
    poster = Poster(base_url, schools)
    started = time.time()
    chaos = Chaos(rabbit, cluster, gateways[0], args, started)
    chaos.start()
    poster.run(args.rate, args.duration)  # returns once every post was answered or given up
    chaos.join()
    time.sleep(args.settle_seconds)  # the last pushes on their way
    stop.set()
    histories = {school["chat_id"]: read_history(base_url, school) for school in schools}
    report = summarise(poster.posts, histories, readers, chaos)
    report["arguments"] = vars(args)
    print_report(report)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"outages-{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nfull results: {out / f'outages-{stamp}.json'}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
