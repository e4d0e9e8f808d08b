"""Messaging benchmark: the distributed mode (every service and the gateway as
gunicorn processes) on RabbitMQ and PostgreSQL (fsync on) on this machine.

Schools are built through the public API, each with a class whose official
students' chat has 30 members (the class head and 29 students) who all
accepted its rules. Every member keeps a WebSocket open. Senders then post
messages at fixed offered rates into random class chats; receivers time every
delivery to every other member. Printed for each rate: messages/s accepted,
send->delivered latency p50/p95/p99, deliveries lost, the host's speed and the
cores and CPU per message all the processes used; then each process's CPU per
message over the run and peak memory (VmHWM). `--profile` samples the messaging, moderation,
orgstructure and gateway workers with py-spy during the step at `--profile-rate`.

    make bench                     # defaults below
    make bench BENCH_ARGS="--schools 10 --rates 100,300"
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.config import SERVICES  # noqa: E402
from devkit.helpers import OPERATOR_PHONE, Api, phone, wait_for  # noqa: E402
from devkit.servers import PostgresServer, RabbitMQServer  # noqa: E402
from devkit.distributed import Cluster  # noqa: E402

CLIENT = Path(__file__).with_name("loadclient.py")


class Timeline:
    """What the machine did during each step, sampled every half second.

    The host's speed: this host's cores change speed by up to half from one
    second to the next, with nothing of ours running (its other tenants), and
    a figure means little without it. A fixed piece of pure Python is timed in
    this thread's own CPU time, which waiting for a core does not count, so
    the platform's load does not read as a slow host. Lower is faster; the
    figures compare across runs.

    The CPU time of every process of the run (platform and phones), read
    after the piece, so that a step's cores and CPU per message are its own
    and not averaged with the idle moments between steps."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (time.time(), piece CPU ms, processes' CPU s)
        self.pids: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)

    @staticmethod
    def piece_ms() -> float:
        best = float("inf")
        for _ in range(2):  # the better of two: a task switch in the middle costs caches
            started = time.thread_time()
            sum(i * i for i in range(50_000))
            best = min(best, time.thread_time() - started)
        return best * 1000

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            piece = self.piece_ms()
            self.samples.append((time.time(), piece, cpu_seconds(self.pids)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float, accepted: int) -> dict:
        """The piece's CPU ms in the window on average (what the step's capacity
        follows) and at the slowest (what its p99 feels); the cores all the
        processes used, and their CPU ms per accepted message."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        if len(inside) < 2:
            return {"mean_ms": None, "slowest_ms": None, "cores": None, "cpu_ms_per_message": None}
        pieces = [piece for _, piece, _ in inside]
        (first_at, _, first_cpu), (last_at, _, last_cpu) = inside[0], inside[-1]
        messages = accepted * (last_at - first_at) / (end - start)
        return {"mean_ms": round(sum(pieces) / len(pieces), 2), "slowest_ms": round(max(pieces), 2),
                "cores": round((last_cpu - first_cpu) / (last_at - first_at), 2),
                "cpu_ms_per_message": round(1000 * (last_cpu - first_cpu) / messages, 2) if messages else None}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# Building the schools through the API.

def sign_in(api: Api, number: str) -> dict:
    tokens = api.sign_in(number)
    return {"user_id": tokens["user"]["id"], "token": tokens["access_token"]}


CLASS_NAMES = ("5А", "5Б", "5В", "5Г", "5Д", "5Е")


def accept_invitation(api: Api, person: dict, purpose: str, unit_id: str | None = None) -> str:
    """Waits for the person's invitation to the official chat of `purpose` (of
    the class `unit_id`, when given) and joins it; answers the chat's id."""
    def invitation():
        items = api.get("/me/chat-invitations", token=person["token"]).json["items"]
        return next((i for i in items if i["chat"]["purpose"] == purpose
                     and (unit_id is None or i["chat"]["unit_id"] == unit_id)), None)

    found = wait_for(invitation, timeout=60, message=f"the {purpose} chat invitation")
    accepted = api.post(f"/chat-invitations/{found['id']}/accept",
                        {"accepted_rules_version": found["chat"]["rules_version"]}, token=person["token"])
    assert accepted.status_code == 200, accepted
    return found["chat"]["id"]


def build_school(api: Api, operator: dict, region_id: str, index: int, students: int, classes: int = 1,
                 parents: int = 0) -> dict:
    """A school with `classes` classes, each with its class head and `students`
    students in its students' chat; the last `parents` students of each class
    have a parent in the class's parents' chat (the class head joins that one
    too). `chat_id` and `members` are the first class's."""
    base = 3_000_000 + index * 1000
    admin = sign_in(api, phone(base))
    application = api.post("/applications", {
        "region_id": region_id, "org": {"name": f"Школа № {index + 1}", "kind": "school"},
        "admin": {"full_name": f"Администратор {index + 1}", "phone": phone(base)}}, token=admin["token"])
    assert application.status_code == 201, application
    org_id = api.post(f"/applications/{application.json['id']}/approve", token=operator["token"]).json["org_id"]
    wait_for(lambda: any(o["org_id"] == org_id and "admin" in o["roles"]
                         for o in api.get("/me/orgs", token=admin["token"]).json["items"]), timeout=60,
             message="admin rights")
    numbers = iter(range(base + 1, base + 1000))

    def join(role: str, **fields) -> dict:
        invite = api.post(f"/orgs/{org_id}/invites", {"role": role, **fields}, token=admin["token"]).json["token"]
        person = sign_in(api, phone(next(numbers)))
        accepted = api.post(f"/invites/{invite}/accept", token=person["token"])
        assert accepted.status_code == 200, accepted
        return person

    made, parents_of = [], {}
    for name in CLASS_NAMES[:classes]:
        unit_id = api.post(f"/orgs/{org_id}/units", {"name": name, "grade": 5}, token=admin["token"]).json["id"]
        head = join("teacher")
        assert api.put(f"/orgs/{org_id}/units/{unit_id}/head", {"user_id": head["user_id"]},
                       token=admin["token"]).status_code == 200
        members = [head] + [join("student", unit_id=unit_id) for _ in range(students)]
        chat_id = None
        for member in members:
            chat_id = accept_invitation(api, member, "class_students", unit_id)
        parents_chat_id = None
        for child in members[len(members) - parents:] if parents else []:
            parent = join("parent", child_user_id=child["user_id"])
            parents_of[child["user_id"]] = parent
            parents_chat_id = accept_invitation(api, parent, "class_parents", unit_id)
        if parents:
            accept_invitation(api, head, "class_parents", unit_id)
        made.append({"unit_id": unit_id, "chat_id": chat_id, "parents_chat_id": parents_chat_id, "head": head,
                     "members": members})
    return {"org_id": org_id, "admin": admin, "chat_id": made[0]["chat_id"], "members": made[0]["members"],
            "classes": made, "parents": parents_of, "next_phone": base + 500}


# Memory of the processes.

def process_tree() -> dict[int, list[int]]:
    """Children of every process (PostgreSQL's backends leave their parent's group)."""
    children = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children[int(fields[1])].append(int(entry.name))
            except (OSError, IndexError):
                continue
    return children


def descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid > 0 and Path(f"/proc/{pid}").exists():
            found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().rsplit("/", 1)[-1]
    except OSError:
        return "?"


def peak_memory(labelled_groups: dict[str, int]) -> list[tuple[str, int, int]]:
    """(label, pid, peak resident KiB) for every process of every group."""
    tree = process_tree()
    rows = []
    for label, root in labelled_groups.items():
        for pid in sorted(descendants(root, tree)):
            rows.append((f"{label} ({command_name(pid)} {pid})", pid, status_field(pid, "VmHWM")))
    return rows


def cpu_seconds(pids) -> float:
    """User and system CPU time of the processes so far (children they waited for included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])
        except (OSError, IndexError):
            continue
    return total / ticks


def cpu_by_label(labelled_groups: dict[str, int], clients: dict[str, int]) -> dict[str, float]:
    tree = process_tree()
    usage = {label: cpu_seconds(descendants(root, tree)) for label, root in labelled_groups.items()}
    usage.update({label: cpu_seconds([pid]) for label, pid in clients.items()})
    return usage


def workers_of(pgid: int) -> list[int]:
    """gunicorn's workers: the group's processes other than its master."""
    return process_tree().get(pgid, [])


def platform_arguments(parser: argparse.ArgumentParser) -> None:
    """How the platform runs, for every benchmark on it."""
    parser.add_argument("--messaging-workers", type=int, default=2)
    parser.add_argument("--messaging-threads", type=int, default=4)
    parser.add_argument("--worker-process", action=argparse.BooleanOptionalAction, default=True,
                        help="messaging's outbox relay and consumer in their own process (RUN_WORKERS=0)")
    parser.add_argument("--worker-processes", choices=("messaging", "all"), default="messaging",
                        help="with --worker-process: whose relay and consumer run in a process of their own "
                             "(`all`: every service's, as in production)")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes (gunicorn, 1 gevent worker each)")
    # Every gateway worker takes in every realtime envelope: on two cores shared
    # with everything else, one busy worker costs less per message than two.
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--gateway-env", action="append", default=[], help="NAME=value for the gateways")
    parser.add_argument("--log-level", default="WARNING", help="INFO logs every request with its duration")


def make_cluster(rabbit: RabbitMQServer, postgres: PostgresServer, work: Path, log_level: str,
                 **extra_env) -> Cluster:
    return Cluster(rabbit.amqp_url, {name: postgres.create_database(f"bench_{name}_{uuid.uuid4().hex[:6]}")
                                     for name in SERVICES},
                   log_dir=work / "logs",
                   extra_env={"OPERATOR_PHONES": OPERATOR_PHONE, "OTP_PER_IP_PER_HOUR": "1000000",
                              "OTP_PER_DESTINATION_PER_HOUR": "100", "GATEWAY_RATE_PER_SECOND": "100000",
                              "GATEWAY_RATE_BURST": "100000", "LOG_LEVEL": log_level,
                              "OUTBOX_POLL_MS": "200", **extra_env})


@contextmanager
def servers_and_cluster(args, prefix: str, **extra_env):
    """RabbitMQ, PostgreSQL (fsync on) and a cluster on them, for a benchmark's
    run; all stopped on the way out, and the run's directory (logs) removed
    unless `args.keep`. Yields (rabbit, postgres, cluster, work directory)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with ExitStack() as stack:  # closed in reverse: the cluster, PostgreSQL, RabbitMQ, then the directory
        if args.keep:
            stack.callback(print, f"logs kept in {work}")
        else:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        rabbit, postgres = RabbitMQServer(), PostgresServer(durable=True)
        rabbit.start()
        stack.callback(rabbit.close)
        postgres.start()
        stack.callback(postgres.close)
        cluster = make_cluster(rabbit, postgres, work, args.log_level, **extra_env)
        stack.callback(cluster.close)
        yield rabbit, postgres, cluster, work


def start_platform(cluster: Cluster, args) -> list[str]:
    """Every service and the gateways under gunicorn, as `platform_arguments`
    say; answers the gateways' labels."""
    started = time.monotonic()
    apart = (SERVICES if args.worker_processes == "all" else ["messaging"]) if args.worker_process else []
    for name in SERVICES:
        size = ({"workers": args.messaging_workers, "threads": args.messaging_threads} if name == "messaging"
                else {"workers": 1, "threads": 8})
        if name in apart:
            cluster.start_service(name, **size, RUN_WORKERS=0)
            cluster.start_worker(name)
        else:
            cluster.start_service(name, **size)
    gateways = [f"gateway-{n + 1}" for n in range(args.gateways)]
    for label in gateways:
        cluster.start_gateway(label, workers=args.gateway_workers, **dict(
            item.split("=", 1) for item in args.gateway_env))
    cluster.wait_ready(timeout=120)
    print(f"platform ready in {time.monotonic() - started:.1f}s", flush=True)
    return gateways


def build_schools(cluster: Cluster, gateways: list[str], count: int, students: int, classes: int = 1,
                  parents: int = 0) -> list[dict]:
    """`count` schools through the public API, each with `classes` class chats
    of a class head and `students` students who all joined it (and parents,
    see `build_school`)."""
    print(f"building {count} schools of {classes} {students + 1}-member class chats...", flush=True)
    region_id = cluster.create_region("Регион нагрузки")
    operator = sign_in(Api(cluster.url(gateways[0])), OPERATOR_PHONE)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        schools = list(pool.map(lambda i: build_school(Api(cluster.url(gateways[i % len(gateways)])), operator,
                                                       region_id, i, students, classes, parents), range(count)))
    users = sum(len(c["members"]) for s in schools for c in s["classes"])
    print(f"{count} schools, {users} users in their class chats, built in {time.monotonic() - started:.1f}s",
          flush=True)
    return schools


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--students", type=int, default=29, help="per class chat, besides the class head")
    parser.add_argument("--rates", default="50,100,150,200,250,300", help="offered messages/s, one step each")
    parser.add_argument("--duration", type=float, default=20, help="seconds per step")
    platform_arguments(parser)
    parser.add_argument("--receivers", type=int, default=2)
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--idempotency-keys", action=argparse.BooleanOptionalAction, default=True,
                        help="an Idempotency-Key on every post, as the apps send")
    parser.add_argument("--profile", action="store_true", help="py-spy the workers during --profile-rate")
    parser.add_argument("--profile-rate", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--keep", action="store_true", help="keep the logs and the plan")
    parser.add_argument("--idle-seconds", type=float, default=0,
                        help="first measure what every process uses with all sockets open and nothing posted")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rates = [int(rate) for rate in args.rates.split(",")]
    with servers_and_cluster(args, "sferum-bench-") as (rabbit, postgres, cluster, work):
        return run(args, rates, out, rabbit, postgres, cluster, work)


def run(args, rates: list[int], out: Path, rabbit: RabbitMQServer, postgres: PostgresServer, cluster: Cluster,
        work: Path) -> int:
    clients: list[subprocess.Popen] = []
    try:
        gateways = start_platform(cluster, args)
        schools = build_schools(cluster, gateways, args.schools, args.students)
        users = sum(len(s["members"]) for s in schools)
        plan = {"gateways": [cluster.url(label) for label in gateways], "chats": schools}
        plan_file = work / "plan.json"
        plan_file.write_text(json.dumps(plan))

        stop_file = work / "stop"
        receivers = []
        for part in range(args.receivers):
            ready, result = work / f"ready-{part}", work / f"received-{part}.json"
            clients.append(subprocess.Popen([sys.executable, str(CLIENT), "receive", "--plan", str(plan_file),
                                             "--part", str(part), "--parts", str(args.receivers), "--out", str(result),
                                             "--stop-file", str(stop_file), "--ready-file", str(ready)], cwd=ROOT))
            receivers.append((ready, result))
        wait_for(lambda: all(ready.exists() for ready, _ in receivers), timeout=180, message="sockets connected")
        connected = sum(int(ready.read_text()) for ready, _ in receivers)
        print(f"{connected} of {users} sockets connected", flush=True)

        timeline = Timeline()
        timeline.start()
        groups = {label: process.pid for label, process in cluster.processes}
        groups.update({"rabbitmq": rabbit._process.pid if rabbit._process else -1,
                       "postgresql": postgres._process.pid if postgres._process else -1})
        client_pids = {f"receiver-{n}": process.pid for n, process in enumerate(clients)}
        if args.idle_seconds:
            idle = cpu_by_label(groups, client_pids)
            time.sleep(args.idle_seconds)
            used = {label: (seconds - idle[label]) / args.idle_seconds
                    for label, seconds in cpu_by_label(groups, client_pids).items()}
            print(f"idle, {connected} sockets open, {args.idle_seconds:.0f}s: " + ", ".join(
                f"{label} {100 * cores:.1f}%" for label, cores in used.items()) + " of a core", flush=True)
        cpu_before, load_started = cpu_by_label(groups, client_pids), time.monotonic()
        senders = []
        for part in range(args.senders):
            result = work / f"sent-{part}.json"
            clients.append(subprocess.Popen([sys.executable, str(CLIENT), "send", "--plan", str(plan_file),
                                             "--part", str(part), "--parts", str(args.senders), "--out", str(result),
                                             "--rates", args.rates, "--duration", str(args.duration),
                                             "--idempotency-keys" if args.idempotency_keys else "--no-idempotency-keys"],
                                            cwd=ROOT))
            senders.append((clients[-1], result))
        tree = process_tree()
        timeline.pids = [pid for root in groups.values() for pid in descendants(root, tree)] + [
            process.pid for process in clients]
        if args.profile:
            profile_workers(cluster, rates, args, work)
        for process, _ in senders:
            process.wait()
        time.sleep(2)  # the last deliveries of the last step
        client_pids.update({f"sender-{n}": process.pid for n, (process, _) in enumerate(senders)})
        cpu_after, load_seconds = cpu_by_label(groups, client_pids), time.monotonic() - load_started
        stop_file.write_text("stop")
        timeline.stop()
        for process in clients:
            process.wait(60)

        sent_files = [json.loads(result.read_text()) for _, result in senders]
        sent = [part["steps"] for part in sent_files]
        received = [json.loads(result.read_text()) for _, result in receivers]
        report = summarise(rates, sent, received, args, timeline)
        report["cpu_share_during_load"] = {label: round((cpu_after[label] - cpu_before.get(label, 0.0)) / load_seconds, 3)
                                           for label in cpu_after if not label.startswith("sender")}
        for n, part in enumerate(sent_files):  # the senders exited: they report their own use
            report["cpu_share_during_load"][f"sender-{n}"] = round(part["cpu_seconds"] / part["wall_seconds"], 3)
        accepted_total = sum(step["accepted"] for step in report["steps"]) or 1
        report["cpu_ms_per_message"] = {label: round(1000 * share * load_seconds / accepted_total, 2)
                                        for label, share in report["cpu_share_during_load"].items()}
        memory = peak_memory(groups)
        report["peak_memory_kib"] = {label: kib for label, _pid, kib in memory}
        print_report(report, memory)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"messaging-{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"\nfull results: {out / f'messaging-{stamp}.json'}")
        return 0
    finally:
        for process in clients:
            if process.poll() is None:
                process.kill()


def profile_workers(cluster: Cluster, rates: list[int], args, work: Path) -> None:
    """py-spy the messaging, moderation, orgstructure and gateway workers for the profiled step."""
    step = rates.index(args.profile_rate) if args.profile_rate in rates else 0
    time.sleep(step * (args.duration + 3) + 2)
    targets = {f"{label}-{pid}": pid for label, process in cluster.processes
               if label in ("messaging", "moderation", "orgstructure") or label.startswith("gateway")
               for pid in workers_of(process.pid)}
    spy = str(Path(sys.executable).with_name("py-spy"))
    spies = {name: subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(args.duration - 4)),
                                     "--format", "raw", "--output", str(work / f"{name}.txt"), "--nonblocking", "--gil"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, pid in targets.items()}
    for name, spy in spies.items():
        spy.wait()
        print_profile(name, work / f"{name}.txt")


def print_profile(name: str, path: Path, top: int = 12) -> None:
    """The functions where the worker spent its samples: own time and with callees."""
    if not path.exists():
        print(f"(no profile of {name})")
        return
    own, total, samples = Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue  # a blank line, or a stack py-spy could not name
        frames = stack.split(";")
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"\nprofile of {name}: {samples} samples")
    print("  own time:")
    for frame, n in own.most_common(top):
        print(f"    {100 * n / samples:5.1f}%  {frame}")
    print("  with callees (project code):")
    ours = [(f, n) for f, n in total.most_common() if "services/" in f or "gateway/" in f]
    for frame, n in ours[:top]:
        print(f"    {100 * n / samples:5.1f}%  {frame}")


def summarise(rates, sent, received, args, timeline: Timeline) -> dict:
    steps = []
    for index, rate in enumerate(rates):
        parts = [steps_of[index] for steps_of in sent]
        offered = sum(p["offered"] for p in parts)
        accepted = sum(p["accepted"] for p in parts)
        seconds = max(p["send_seconds"] for p in parts)
        statuses = Counter()
        for p in parts:
            statuses.update(p["statuses"])
        latencies = [value for r in received for value in r["latencies"].get(f"r{rate}", [])]
        http = [value for p in parts for value in p["http_ms"]]
        expected = accepted * args.students  # every member but the author
        steps.append({
            "offered_per_s": rate, "offered": offered, "accepted": accepted,
            "accepted_per_s": round(accepted / seconds, 1) if seconds else 0.0,
            "statuses": dict(statuses), "deliveries": len(latencies), "deliveries_expected": expected,
            "delivered_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                             "p99": percentile(latencies, 99), "max": max(latencies, default=float("nan"))},
            "http_ms": {"p50": percentile(http, 50), "p99": percentile(http, 99)},
            "machine": timeline.between(min(p["started_at"] for p in parts),
                                        max(p["started_at"] + p["send_seconds"] for p in parts), accepted),
        })
    return {"schools": args.schools, "chat_members": args.students + 1, "steps": steps,
            "messaging_workers": args.messaging_workers, "gateway_workers": args.gateway_workers,
            "gateways": args.gateways, "duration_s": args.duration}


def print_report(report: dict, memory) -> None:
    print(f"\n{report['schools']} class chats x {report['chat_members']} members, "
          f"{report['duration_s']:.0f}s per step")
    print(f"{'offered/s':>9} {'accepted/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'delivered':>10} {'lost':>6} {'host ms':>9} {'cores':>5} {'CPU ms/msg':>10}  http p50/p99 ms  statuses")
    for step in report["steps"]:
        d = step["delivered_ms"]
        lost = step["deliveries_expected"] - step["deliveries"]
        machine = step["machine"]
        print(f"{step['offered_per_s']:>9} {step['accepted_per_s']:>10.1f} {d['p50']:>7.1f} {d['p95']:>7.1f} "
              f"{d['p99']:>7.1f} {d['max']:>7.1f} {step['deliveries']:>10} {lost:>6} "
              f"{machine['mean_ms']!s:>4}/{machine['slowest_ms']!s:>4} {machine['cores']!s:>5} "
              f"{machine['cpu_ms_per_message']!s:>10}  "
              f"{step['http_ms']['p50']:.1f}/{step['http_ms']['p99']:.1f}  {step['statuses']}")
    print("\nhost ms: CPU milliseconds a fixed piece of Python took during the step, mean/slowest;"
          " lower is faster, and this host's cores change speed by themselves.\ncores, CPU ms/msg: what all the"
          " processes (the platform and the phones) used during the step")
    print("\nCPU used during the load (cores; the machine has %d):" % os.cpu_count())
    print(f"  {'process':<20} {'cores':>5} {'ms/message':>10}")
    for label, cores in sorted(report["cpu_share_during_load"].items(), key=lambda item: -item[1]):
        print(f"  {label:<20} {cores:5.2f} {report['cpu_ms_per_message'][label]:10.2f}")
    print(f"  {'all':<20} {sum(report['cpu_share_during_load'].values()):5.2f} "
          f"{sum(report['cpu_ms_per_message'].values()):10.2f}")
    print("\npeak resident memory (VmHWM):")
    by_group = defaultdict(list)
    for label, pid, kib in memory:
        by_group[label.split(" (", 1)[0]].append((label, kib))
    for group, rows in by_group.items():
        if len(rows) > 4:  # PostgreSQL: one backend per pooled connection
            peak = max(kib for _, kib in rows)
            print(f"  {group + f' ({len(rows)} processes, the largest)':<60} {peak / 1024:8.1f} MiB")
            continue
        for label, kib in rows:
            print(f"  {label[:60]:<60} {kib / 1024:8.1f} MiB")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
