"""The benchmark's load: processes that act as the users' phones.

`receive`: holds the WebSockets of a slice of the users and notes, for every
`message.created` of the benchmark, how long after its sending it arrived.
`send`: posts messages at a fixed offered rate (open loop: a slow answer does
not slow the offered load down) and notes what was accepted.

Both run on gevent so that one process holds hundreds of sockets; the
orchestrator (bench_messaging.py) starts several of them."""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import gevent  # noqa: E402
import urllib3  # noqa: E402
import websocket  # noqa: E402

TAG = "bench"


def receive(plan: dict, part: int, parts: int, out: str, stop_file: str, ready_file: str) -> None:
    members = [(member, chat["chat_id"]) for chat in plan["chats"] for member in chat["members"]]
    mine = members[part::parts]
    gateways = plan["gateways"]
    latencies: dict[str, list[float]] = defaultdict(list)
    counts = {"connected": 0, "frames": 0, "closed": 0}

    def hold(index: int, member: dict) -> None:
        url = gateways[index % len(gateways)].replace("http://", "ws://") + "/api/v1/stream"
        # The server's frames are valid UTF-8 JSON; checking that in pure Python
        # would make the phones, not the platform, the bottleneck.
        ws = websocket.create_connection(url, header=[f"Authorization: Bearer {member['token']}"], timeout=30,
                                         skip_utf8_validation=True)
        ws.settimeout(None)
        json.loads(ws.recv())  # stream.ready
        counts["connected"] += 1
        try:
            while True:
                raw = ws.recv()
                now = time.time()
                counts["frames"] += 1
                if '"message.created"' not in raw or f'"text": "{TAG} ' not in raw:
                    continue  # not a benchmark message: no need to decode it
                data = json.loads(raw)["data"]
                parts_ = data["text"].split(" ")
                if (data.get("author") or {}).get("id") == member["user_id"]:
                    continue
                latencies[parts_[1]].append((now - float(parts_[2])) * 1000)
        except (websocket.WebSocketException, OSError):
            counts["closed"] += 1

    greenlets = [gevent.spawn(hold, index + part, member) for index, (member, _chat) in enumerate(mine)]
    deadline = time.time() + 120
    while counts["connected"] < len(mine) and time.time() < deadline:
        gevent.sleep(0.1)
    with open(ready_file, "w") as ready:
        ready.write(str(counts["connected"]))
    while not os.path.exists(stop_file):
        gevent.sleep(0.2)
    gevent.killall(greenlets, block=False)
    with open(out, "w") as result:
        json.dump({"latencies": latencies, "counts": counts, "sockets": len(mine)}, result)


def send(plan: dict, rates: list[int], duration: float, pause: float, out: str, part: int, parts: int) -> None:
    """Each step offers `rate / parts` messages a second from this process, spread
    evenly in time, from random members into their own class chat."""
    pool = urllib3.PoolManager(maxsize=400, block=False, retries=False, timeout=urllib3.Timeout(30))
    gateway = plan["gateways"][part % len(plan["gateways"])]
    authors = [(member, chat["chat_id"]) for chat in plan["chats"] for member in chat["members"]]
    rng = random.Random(part)
    steps = []
    began = time.time()
    for rate in rates:
        share = rate / parts
        step = {"rate": rate, "offered": 0, "accepted": 0, "statuses": defaultdict(int), "http_ms": []}
        inflight = []

        def post(member, chat_id, label):
            sent_at = time.time()
            body = json.dumps({"text": f"{TAG} {label} {sent_at:.6f} {rng.random():.6f}"})
            try:
                response = pool.request("POST", f"{gateway}/api/v1/chats/{chat_id}/messages", body=body,
                                        headers={"Authorization": f"Bearer {member['token']}",
                                                 "Content-Type": "application/json"})
                step["statuses"][str(response.status)] += 1
                if response.status == 201:
                    step["accepted"] += 1
                    step["http_ms"].append((time.time() - sent_at) * 1000)
            except Exception as error:  # refused, timed out: counted, not raised
                step["statuses"][type(error).__name__] += 1

        started = time.time()
        count = int(share * duration)
        for n in range(count):
            target = started + n / share
            delay = target - time.time()
            if delay > 0:
                gevent.sleep(delay)
            member, chat_id = rng.choice(authors)
            step["offered"] += 1
            inflight.append(gevent.spawn(post, member, chat_id, f"r{rate}"))
        step["send_seconds"] = time.time() - started
        gevent.joinall(inflight, timeout=60)
        step["seconds"] = time.time() - started
        steps.append(step)
        gevent.sleep(pause)
    with open(out, "w") as result:
        json.dump({"steps": steps, "cpu_seconds": sum(os.times()[:2]), "wall_seconds": time.time() - began}, result)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("receive", "send"))
    parser.add_argument("--plan", required=True)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--stop-file")
    parser.add_argument("--ready-file")
    parser.add_argument("--rates", default="100")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--pause", type=float, default=3)
    args = parser.parse_args(argv)
    with open(args.plan) as source:
        plan = json.load(source)
    if args.mode == "receive":
        receive(plan, args.part, args.parts, args.out, args.stop_file, args.ready_file)
    else:
        send(plan, [int(rate) for rate in args.rates.split(",")], args.duration, args.pause, args.out,
             args.part, args.parts)


if __name__ == "__main__":
    main(sys.argv[1:])
