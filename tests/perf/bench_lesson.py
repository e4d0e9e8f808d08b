"""Lesson benchmark: one teacher publishing and N students receiving through
Janus, every one of them an aiortc peer that speaks only the calls API
(devkit.peers.CallPeer), on this machine.

    .venv/bin/python tests/perf/bench_lesson.py                          # N = 1, 2, 4, 8, 12, 16
    .venv/bin/python tests/perf/bench_lesson.py --subscribers 4,8 --duration 30

What runs: Janus from the Debian binary (devkit.media) posting its events to
the calls service; the calls service in a process of its own (its app on a
throwaway PostgreSQL and the in-memory bus, served by werkzeug's threaded
server, its jobs
keeping the Janus sessions alive and reconciling attendance; tokens are taken
as user ids, the school is put straight into its projections); the teacher
(320x240 at 30 frames a second and a 440 Hz tone) in this process; the
students in `--client-processes` processes, all joining at once.

For each N it prints: from a student's POST /join to their first decoded
video frame (p50, p99, the slowest; and of which the join request, the
subscription until its PeerConnection connected, and then the first frame); the share of the teacher's video frames
each student decoded in the measured `--duration` seconds (the worst
student, and all of them together); the CPU of Janus and of the calls
service (with its PostgreSQL) per second and per student, and of the peers (the teacher, and per
student), during the measured seconds (per student: above what Janus and
the calls service use with no call, measured first); the machine's load average and
`host ms` (a fixed piece of Python, as in bench_messaging.py: lower is
faster). A step "keeps up" when every student decoded at least
`--keep-up` of the frames and the slowest first frame came within 2 s.

Internal modes (run by the benchmark itself): `serve` (the calls service) and
`students` (a process of students)."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_messaging import Timeline, cpu_seconds, descendants, percentile, process_tree  # noqa: E402

from devkit.helpers import Api, TokensAreUserIds, dev_env, wait_for  # noqa: E402
from devkit.servers import free_port  # noqa: E402

ORG, UNIT, CHAT, TEACHER = "0" * 31 + "1", "0" * 31 + "2", "0" * 31 + "3", "t" * 32


def student(n: int) -> str:
    return f"s{n:031d}"


def cpu_of(processes: dict, name: str) -> float:
    """A side's CPU seconds so far: Janus; the calls service with its PostgreSQL."""
    if name == "calls":
        postgres = descendants(processes["postgres"], process_tree()) if processes["postgres"] else []
        return cpu_seconds([processes["calls"], *postgres])
    return cpu_seconds([processes[name]])


# The calls service's process.

def serve(args) -> int:
    from werkzeug.serving import make_server

    from services.calls import handlers
    from services.common.config import Settings
    from services.common.wsgi import build

    app = build("calls", Settings.from_env("calls", dict(os.environ)))
    app.extensions["sferum.verifier"] = TokensAreUserIds()
    runtime = app.extensions["sferum"]
    runtime.migrate()
    said = handlers.handlers.by_type

    def event(key: str, **data):
        said[key](runtime.service, {"type": key, "data": data})

    with runtime.connection(), runtime.db.atomic():
        event("orgstructure.org.created", org_id=ORG, name="Школа")
        event("orgstructure.member.joined", org_id=ORG, user_id=TEACHER, roles=["teacher"], unit_id=None,
              display_name="Учитель")
        event("identity.teacher.verified", org_id=ORG, user_id=TEACHER, approved_by=TEACHER)
        event("messaging.chat.created", chat_id=CHAT, org_id=ORG, kind="class", purpose="class_students",
              unit_id=UNIT, title="5А", moderator_ids=[TEACHER], official=True, archived=False, rules_version=1)
        event("messaging.chat.member.joined", chat_id=CHAT, org_id=ORG, user_id=TEACHER, reason="invitation")
        for n in range(args.students):
            event("orgstructure.member.joined", org_id=ORG, user_id=student(n), roles=["student"], unit_id=UNIT,
                  display_name=f"Ученик {n}")
            event("messaging.chat.member.joined", chat_id=CHAT, org_id=ORG, user_id=student(n), reason="invitation")
    runtime.start_workers()
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print("READY", flush=True)
    server.serve_forever()
    return 0


# A process of students.

async def students_process(args) -> dict:
    from devkit.peers import CallPeer

    api = Api(args.base)
    peers = [CallPeer(api, student(n), args.call, timeout=30) for n in args.students]

    async def arrive(peer: CallPeer) -> dict:
        asked = time.monotonic()
        await peer.join()
        joined = time.monotonic()
        subscription = await peer.subscribe([args.feed])
        connected = time.monotonic()
        await subscription.video.wait_for_frames(1, 60)
        return {"first_frame_s": subscription.video.first_at - asked, "join_s": joined - asked,
                "subscribe_s": connected - joined, "frame_after_connect_s": subscription.video.first_at - connected}

    try:
        arrived = await asyncio.gather(*(arrive(peer) for peer in peers))
        print("READY", flush=True)
        start_at = float((await asyncio.to_thread(sys.stdin.readline)).split()[1])
        await asyncio.sleep(max(0.0, start_at - time.time()))
        counted_from = time.monotonic()
        await asyncio.sleep(args.duration)
        counted_to = time.monotonic()
        for peer, figures in zip(peers, arrived):
            video = peer.subscriptions[0].video
            figures["frames"] = video.frames_since(counted_from) - video.frames_since(counted_to)
        return {"students": arrived}
    finally:
        for peer in peers:
            await peer.close()


# The benchmark.

async def lesson_step(api: Api, subscribers: int, args, processes: dict) -> dict:
    from devkit.peers import CallPeer

    call = api.post("/calls", {"org_id": ORG, "kind": "lesson", "chat_id": CHAT, "title": f"N={subscribers}"},
                    token=TEACHER)
    assert call.status_code == 201, call
    call_id = call.json["id"]
    teacher = CallPeer(api, TEACHER, call_id, timeout=30)
    groups = [list(range(subscribers))[k::args.client_processes] for k in range(args.client_processes)]
    groups = [group for group in groups if group]
    clients = []
    try:
        await teacher.join()
        publisher = await teacher.publish()
        await asyncio.to_thread(wait_for, lambda: any(p["publishing"] for p in api.get(
            f"/calls/{call_id}/participants", token=TEACHER).json["items"]), 30, 0.05, "the teacher publishing")
        arriving = {name: cpu_of(processes, name) for name in ("janus", "calls")}
        for group in groups:
            clients.append(await asyncio.create_subprocess_exec(
                sys.executable, __file__, "students", "--base", args.base, "--call", call_id,
                "--feed", teacher.participant_id, "--duration", str(args.duration),
                "--students", ",".join(map(str, group)),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE))
        for client in clients:
            line = await asyncio.wait_for(client.stdout.readline(), 120)
            if line.strip() != b"READY":
                raise RuntimeError(f"a students' process failed: {line!r}")
        arrived = {name: cpu_of(processes, name) - arriving[name] for name in arriving}
        start_at = time.time() + 0.5
        for client in clients:
            client.stdin.write(f"GO {start_at}\n".encode())
            await client.stdin.drain()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        video_track = next(sender.track for sender in publisher.getSenders() if sender.track.kind == "video")
        cpu = {"janus": cpu_of(processes, "janus"), "calls": cpu_of(processes, "calls"),
               "teacher": cpu_seconds([os.getpid()]), "students": cpu_seconds([c.pid for c in clients])}
        sent_before, started = video_track.frames_sent, time.monotonic()
        await asyncio.sleep(args.duration)
        sent = video_track.frames_sent - sent_before
        elapsed = time.monotonic() - started
        used = {"janus": cpu_of(processes, "janus") - cpu["janus"],
                "calls": cpu_of(processes, "calls") - cpu["calls"],
                "teacher": cpu_seconds([os.getpid()]) - cpu["teacher"],
                "students": cpu_seconds([c.pid for c in clients]) - cpu["students"]}
        results = []
        for client in clients:
            output, _ = await asyncio.wait_for(client.communicate(), 120)
            results += json.loads(output.decode().strip().splitlines()[-1])["students"]
        return {"subscribers": subscribers, "sent": sent, "elapsed": elapsed, "used": used, "students": results,
                "call_id": call_id, "arrival_cpu": arrived}
    finally:
        for client in clients:
            if client.returncode is None:
                client.kill()
        await teacher.close()
        api.post(f"/calls/{call_id}/end", token=TEACHER)


async def idle(processes: dict, seconds: float) -> dict:
    """What Janus and the calls service use with no call at all (the calls
    service's jobs, and the in-memory bus's consumer, which polls)."""
    before = {name: cpu_of(processes, name) for name in ("janus", "calls")}
    await asyncio.sleep(seconds)
    return {name: (cpu_of(processes, name) - before[name]) / seconds for name in before}


def report_line(step: dict, timeline: Timeline, window: tuple[float, float], keep_up: float,
                baseline: dict) -> dict:
    n, students = step["subscribers"], step["students"]
    firsts = [s["first_frame_s"] * 1000 for s in students]
    shares = [s["frames"] / step["sent"] for s in students] if step["sent"] else [0.0]
    per_second = {name: used / step["elapsed"] for name, used in step["used"].items()}
    for name in ("janus", "calls"):
        per_second[f"{name}_call"] = max(0.0, per_second[name] - baseline[name])
    host = timeline.between(window[0], window[1], 1)
    line = {
        "n": n, "first_p50_ms": percentile(firsts, 50), "first_p99_ms": percentile(firsts, 99),
        "first_max_ms": max(firsts), "share_worst": min(shares), "share_all": sum(s["frames"] for s in students)
        / (step["sent"] * n) if step["sent"] else 0.0, "sent_fps": step["sent"] / step["elapsed"],
        "janus_cores": per_second["janus"], "janus_per_student_ms": 1000 * per_second["janus_call"] / n,
        "calls_cores": per_second["calls"], "calls_per_student_ms": 1000 * per_second["calls_call"] / n,
        "teacher_cores": per_second["teacher"], "student_cores": per_second["students"] / n,
        "load": os.getloadavg()[0], "host_ms": host["mean_ms"],
    }
    line["keeps_up"] = line["share_worst"] >= keep_up and line["first_max_ms"] <= 2000
    line["janus_ms_per_arrival"] = 1000 * step["arrival_cpu"]["janus"] / n
    line["calls_ms_per_arrival"] = 1000 * step["arrival_cpu"]["calls"] / n
    for part in ("join", "subscribe", "frame_after_connect"):
        taken = [s[f"{part}_s"] * 1000 for s in students]
        line[f"{part}_p50_ms"], line[f"{part}_p99_ms"] = percentile(taken, 50), percentile(taken, 99)
    return line


def print_table(lines: list[dict]) -> None:
    print()
    print(f"{'N':>3} {'join->1st frame p50/p99/max ms':>30} {'frames worst/all':>17} {'sent fps':>8} "
          f"{'Janus cores (ms/s per N)':>24} {'calls cores (ms/s per N)':>24} {'teacher':>7} "
          f"{'per student':>11} {'load':>5} {'host ms':>7}  keeps up")
    for line in lines:
        first = f"{line['first_p50_ms']:.0f}/{line['first_p99_ms']:.0f}/{line['first_max_ms']:.0f}"
        frames = f"{line['share_worst']:.1%}/{line['share_all']:.1%}"
        janus = f"{line['janus_cores']:.3f} ({line['janus_per_student_ms']:.1f})"
        calls = f"{line['calls_cores']:.3f} ({line['calls_per_student_ms']:.1f})"
        host = f"{line['host_ms']:.2f}" if line["host_ms"] is not None else "-"
        print(f"{line['n']:>3} {first:>30} {frames:>17} {line['sent_fps']:>8.1f} {janus:>24} {calls:>24} "
              f"{line['teacher_cores']:>7.2f} {line['student_cores']:>11.3f} {line['load']:>5.1f} {host:>7}  "
              f"{'yes' if line['keeps_up'] else 'NO'}", flush=True)
        print(f"{'':>3}   of which: POST /join p50/p99 {line['join_p50_ms']:.0f}/{line['join_p99_ms']:.0f} ms, "
              f"subscribe to connected {line['subscribe_p50_ms']:.0f}/{line['subscribe_p99_ms']:.0f} ms, "
              f"then the first frame {line['frame_after_connect_p50_ms']:.0f}/"
              f"{line['frame_after_connect_p99_ms']:.0f} ms; CPU per student's arrival: Janus "
              f"{line['janus_ms_per_arrival']:.0f} ms, the calls service {line['calls_ms_per_arrival']:.0f} ms",
              flush=True)


async def benchmark(args) -> int:
    from devkit.media import JanusServer
    from devkit.servers import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="bench-lesson-"))
    port, secret = free_port(), secrets.token_urlsafe(16)
    postgres = PostgresServer(durable=True)
    postgres.start()
    janus = JanusServer()
    janus.start(f"http://127.0.0.1:{port}/internal/janus-events", "janus", secret)
    env = dict(os.environ, **dev_env(work, JANUS_URL=janus.url, JANUS_API_SECRET=janus.api_secret,
                                     JANUS_ADMIN_KEY=janus.admin_key, JANUS_EVENTS_SECRET=secret,
                                     DATABASE_URL=postgres.create_database("bench_calls"), LOG_LEVEL="WARNING"))
    server = subprocess.Popen([sys.executable, __file__, "serve", "--port", str(port),
                               "--students", str(max(args.subscribers))], env=env, stdout=subprocess.PIPE)
    timeline = Timeline()
    try:
        if server.stdout.readline().strip() != b"READY":
            raise RuntimeError("the calls service did not start")
        args.base = f"http://127.0.0.1:{port}"
        api = Api(args.base)
        processes = {"janus": janus._process.pid, "calls": server.pid, "postgres": postgres._process.pid if postgres._process else None}
        timeline.pids = [janus._process.pid, server.pid, os.getpid()]
        timeline.start()
        print(f"2 cores; load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
              f"{args.client_processes} students' processes; {args.duration:.0f} s measured per step", flush=True)
        baseline = await idle(processes, args.duration)
        print(f"no call: Janus {baseline['janus']:.3f} cores, the calls service {baseline['calls']:.3f} cores "
              f"(per student below: above these)", flush=True)
        lines = []
        for n in args.subscribers:
            step = await lesson_step(api, n, args, processes)
            window = (time.time() - step["elapsed"] - 1, time.time())
            lines.append(report_line(step, timeline, window, args.keep_up, baseline))
            print_table(lines[-1:])
        print_table(lines)
        stops = [line["n"] for line in lines if not line["keeps_up"]]
        print(f"\nkeeps up to N={max([l['n'] for l in lines if l['keeps_up']], default=0)}; "
              + (f"stops keeping up at N={stops[0]}" if stops else "kept up at every N tried"))
        return 0
    finally:
        timeline.stop()
        server.terminate()
        server.wait(10)
        janus.close()
        postgres.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "serve", "students"))
    parser.add_argument("--subscribers", default="1,2,4,8,12,16", help="students per step")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per step")
    parser.add_argument("--client-processes", type=int, default=2, help="processes the students are spread over")
    parser.add_argument("--keep-up", type=float, default=0.95, help="share of frames every student must decode")
    parser.add_argument("--port", type=int)
    parser.add_argument("--students", default="")
    parser.add_argument("--base")
    parser.add_argument("--call")
    parser.add_argument("--feed")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        args.students = int(args.students)
        return serve(args)
    if args.mode == "students":
        args.students = [int(n) for n in args.students.split(",")]
        print(json.dumps(asyncio.run(students_process(args))), flush=True)
        return 0
    args.subscribers = [int(n) for n in args.subscribers.split(",")]
    return asyncio.run(benchmark(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
