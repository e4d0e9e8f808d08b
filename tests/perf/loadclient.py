"""The benchmark's load: processes that act as the users' phones.

`receive`: holds the WebSockets of a slice of the users and notes, for every
`message.created` of the benchmark, how long after its sending it arrived.
`send`: posts messages at a fixed offered rate (open loop: a slow answer does
not slow the offered load down) and notes what was accepted.

A receiver waits on all its sockets with one selector and parses the frames
of each read itself; a sender runs on gevent, one greenlet per post. The
orchestrator (bench_messaging.py) starts several of each. Both stay lean:
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
        return status

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
    parser.add_argument("--idempotency-keys", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    with open(args.plan) as source:
        plan = json.load(source)
    if args.mode == "send":
        # One greenlet per post; the socket module is patched before the first connection.
        from gevent import monkey
        monkey.patch_all()
    if args.mode == "receive":
        receive(plan, args.part, args.parts, args.out, args.stop_file, args.ready_file)
    else:
        send(plan, [int(rate) for rate in args.rates.split(",")], args.duration, args.pause, args.out,
             args.part, args.parts, args.idempotency_keys)


if __name__ == "__main__":
    main(sys.argv[1:])
