"""The benchmark's load: processes that act as the users' phones.

`receive`: holds the WebSockets of a slice of the users and notes, for every
`message.created` of the benchmark, how long after its sending it arrived.
`send`: posts messages at a fixed offered rate (open loop: a slow answer does
not slow the offered load down) and notes what was accepted.
`hold`: holds idle streams opened with tickets, reopening dropped ones with
the web client's backoff (bench_sockets.py).

A receiver waits on all its sockets with one selector and parses the frames
of each read itself; a sender and a holder run on gevent, one greenlet per
post or stream. The orchestrators start several of each. All stay lean:
they share the machine's two cores with the platform they measure."""
import argparse
import gc
import json
import os
import random
import selectors
import socket
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import websocket

TAG = "bench"
TAG_BYTES = f'"text": "{TAG} '.encode()


class Frames:
    """The server's frames (unmasked, RFC 6455) from one socket, as (opcode,
    payload), parsed from large reads."""

    def __init__(self):
        self.buffer = b""

    def feed(self, chunk: bytes):
        buffer = self.buffer + chunk
        offset = 0
        while len(buffer) - offset >= 2:
            opcode, size = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
            start = offset + 2
            if size == 126:
                size, start = int.from_bytes(buffer[start:start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(buffer[start:start + 8], "big"), start + 8
            if start > len(buffer) or start + size > len(buffer):
                break
            yield opcode, buffer[start:start + size]
            offset = start + size
        self.buffer = buffer[offset:]


def receive(plan: dict, part: int, parts: int, out: str, stop_file: str, ready_file: str) -> None:
    members = [(member, chat["chat_id"]) for chat in plan["chats"] for member in chat["members"]]
    mine = members[part::parts]
    gateways = plan["gateways"]
    latencies: dict[str, list[float]] = defaultdict(list)
    counts = {"connected": 0, "frames": 0, "closed": 0}
    selector = selectors.DefaultSelector()
    for index, (member, _chat) in enumerate(mine):
        url = gateways[(index + part) % len(gateways)].replace("http://", "ws://") + "/api/v1/stream"
        ws = websocket.create_connection(url, header=[f"Authorization: Bearer {member['token']}"], timeout=30)
        json.loads(ws.recv())  # stream.ready
        ws.sock.setblocking(False)
        # The gateway writes the author as {"id": ... first: a receiver knows its
        # own messages without decoding every frame.
        own = f'"author": {{"id": "{member["user_id"]}"'.encode()
        selector.register(ws.sock, selectors.EVENT_READ, (ws, own, Frames()))
        counts["connected"] += 1
    with open(ready_file, "w") as ready:
        ready.write(str(counts["connected"]))
    gc.freeze()
    next_check = time.time()
    while True:
        for key, _ in selector.select(timeout=0.2):
            ws, own, frames = key.data
            try:
                chunk = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.time()
            if not chunk:
                selector.unregister(key.fileobj)
                counts["closed"] += 1
                continue
            for opcode, payload in frames.feed(chunk):
                counts["frames"] += 1
                if opcode == 0x9:
                    ws.sock.setblocking(True)
                    ws.pong(payload)
                    ws.sock.setblocking(False)
                    continue
                tagged = payload.find(TAG_BYTES) if opcode == 0x1 else -1
                if tagged < 0 or b'"message.created"' not in payload or own in payload:
                    continue  # not a benchmark message, or this member's own
                start = tagged + len(TAG_BYTES)
                label, sent_at = payload[start:payload.index(b'"', start)].decode().split(" ")[:2]
                latencies[label].append((now - float(sent_at)) * 1000)
        if time.time() >= next_check:
            next_check = time.time() + 0.2
            if os.path.exists(stop_file):
                break
    with open(out, "w") as result:
        json.dump({"latencies": latencies, "counts": counts, "sockets": len(mine)}, result)


class Poster:
    """HTTP/1.1 POSTs on kept-alive connections to one gateway, written and
    parsed by hand: a general-purpose client costs the machine more per
    request than the platform's own proxying does."""

    IDLE_SECONDS = 1.0  # below the gateway's keep-alive: never reuse one it may be closing

    def __init__(self, base_url: str, idempotency_keys: bool):
        self.idempotency_keys = idempotency_keys
        self.host, _, port = base_url.split("://", 1)[1].partition(":")
        self.port = int(port or 80)
        self.idle: list[tuple[float, socket.socket, bytes]] = []

    def _connection(self) -> tuple[socket.socket, bytes]:
        while self.idle:
            used_at, sock, leftover = self.idle.pop()
            if time.time() - used_at < self.IDLE_SECONDS:
                return sock, leftover
            sock.close()
        sock = socket.create_connection((self.host, self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, b""

    def post(self, path: str, token: str, body: bytes) -> int:
        """As the apps do, every message carries its own Idempotency-Key, for retries."""
        return self.request(path, token, body)[0]

    def request(self, path: str, token: str, body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        """One POST: its status, headers (lower-case names) and body."""
        key = f"Idempotency-Key: {uuid.uuid4()}\r\n" if self.idempotency_keys else ""
        sock, buffer = self._connection()
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n{key}"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            while b"\r\n\r\n" not in buffer:
                buffer += self._read(sock)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            headers = {name.strip().lower(): value.strip() for name, value in
                       (line.split(b":", 1) for line in lines[1:])}
            length = int(headers.get(b"content-length", b"-1"))
            if length < 0:
                raise ValueError("an answer without Content-Length")
            while len(buffer) < length:
                buffer += self._read(sock)
        except BaseException:
            sock.close()
            raise
        if headers.get(b"connection", b"").lower() == b"close":
            sock.close()
        else:
            self.idle.append((time.time(), sock, buffer[length:]))
        return status, headers, buffer[:length]

    @staticmethod
    def _read(sock: socket.socket) -> bytes:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the gateway closed the connection")
        return chunk


def send(plan: dict, rates: list[int], duration: float, pause: float, out: str, part: int, parts: int,
         idempotency_keys: bool) -> None:
    """Each step offers `rate / parts` messages a second from this process, spread
    evenly in time, from random members into their own class chat."""
    import gevent
    poster = Poster(plan["gateways"][part % len(plan["gateways"])], idempotency_keys)
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
            body = json.dumps({"text": f"{TAG} {label} {sent_at:.6f} {rng.random():.6f}"}).encode()
            try:
                status = poster.post(f"/api/v1/chats/{chat_id}/messages", member["token"], body)
                step["statuses"][str(status)] += 1
                if status == 201:
                    step["accepted"] += 1
                    step["http_ms"].append((time.time() - sent_at) * 1000)
            except Exception as error:  # refused, timed out: counted, not raised
                step["statuses"][type(error).__name__] += 1

        started = step["started_at"] = time.time()
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


# What the stream's client is told when it may come back later: anything else
# it retries too, but as an error (bench_sockets.py prints both).
RETRY_STATUSES = frozenset((429, 502, 503, 504))


def backoff(attempt: int) -> float:
    """The web client's rule (gateway/web/static/js/stream.js): 1 s doubling up
    to 30 s, each wait jittered to between half and all of it."""
    return min(30.0, 2.0 ** attempt) * (0.5 + random.random() / 2)


def hold(plan: dict, part: int, parts: int, status_file: str, stop_file: str, target_file: str) -> None:
    """Holds this process's share of the idle streams, as the apps open them
    (a ticket, then the WebSocket), and reopens each one that drops after the
    client's backoff. Opens sockets up to the count `target_file` names; every
    half second writes what it holds to `status_file`."""
    import gevent

    poster = Poster(plan["gateway"], idempotency_keys=False)
    stream_url = plan["gateway"].replace("http://", "ws://") + "/api/v1/stream?ticket="
    users, per_user = plan["users"], plan["sockets_per_user"]
    state = {"connected": 0, "opened": 0, "last_opened_at": 0.0, "dropped": 0, "last_dropped_at": 0.0,
             "retries": defaultdict(int), "errors": defaultdict(int)}

    def failed(kind: str, retry: bool) -> None:
        state["retries" if retry else "errors"][kind] += 1

    def open_stream(user: dict):
        status, _, body = poster.request("/api/v1/stream/ticket", user["token"], b"")
        if status != 200:
            failed(f"ticket {status}", status in RETRY_STATUSES)
            return None
        try:
            ws = websocket.create_connection(stream_url + quote(json.loads(body)["ticket"]), timeout=60)
        except websocket.WebSocketBadStatusException as refused:
            failed(f"stream {refused.status_code}", refused.status_code in RETRY_STATUSES)
            return None
        ws.settimeout(None)  # idle: the gateway's pings, answered by websocket-client, are all it sends
        if b'"stream.ready"' not in ws.recv().encode():
            failed("no stream.ready", False)
            ws.close()
            return None
        return ws

    def stream(index: int) -> None:
        user = users[index // per_user]
        attempt = 0
        while not os.path.exists(stop_file):
            try:
                ws = open_stream(user)
            except (OSError, websocket.WebSocketException) as error:
                failed(type(error).__name__, True)  # refused, reset, timed out: the gateway is away
                ws = None
            if ws is None:
                gevent.sleep(backoff(attempt))
                attempt = min(attempt + 1, 6)
                continue
            attempt = 0
            state["connected"] += 1
            state["opened"] += 1
            state["last_opened_at"] = time.time()
            try:
                while True:
                    ws.recv()
            except (OSError, websocket.WebSocketException):
                pass
            ws.close()
            state["connected"] -= 1
            state["dropped"] += 1
            state["last_dropped_at"] = time.time()
            gevent.sleep(backoff(attempt))

    started = 0
    while not os.path.exists(stop_file):
        try:
            target = int(Path(target_file).read_text() or 0)
        except (OSError, ValueError):
            target = 0
        for index in range(part + started * parts, min(target, len(users) * per_user), parts):
            gevent.spawn(stream, index)
            started += 1
        Path(status_file + ".tmp").write_text(json.dumps(state))
        os.replace(status_file + ".tmp", status_file)
        gevent.sleep(0.5)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("receive", "send", "hold"))
    parser.add_argument("--plan", required=True)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--stop-file")
    parser.add_argument("--ready-file")
    parser.add_argument("--target-file", help="hold: how many streams to hold, over all the processes")
    parser.add_argument("--rates", default="100")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--pause", type=float, default=3)
    parser.add_argument("--idempotency-keys", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    with open(args.plan) as source:
        plan = json.load(source)
    if args.mode in ("send", "hold"):
        # One greenlet per post or stream; the socket module is patched before the first connection.
        from gevent import monkey
        monkey.patch_all()
    if args.mode == "receive":
        receive(plan, args.part, args.parts, args.out, args.stop_file, args.ready_file)
    elif args.mode == "hold":
        hold(plan, args.part, args.parts, args.out, args.stop_file, args.target_file)
    else:
        send(plan, [int(rate) for rate in args.rates.split(",")], args.duration, args.pause, args.out,
             args.part, args.parts, args.idempotency_keys)


if __name__ == "__main__":
    main(sys.argv[1:])
