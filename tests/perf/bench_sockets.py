"""Many idle streams on one gateway process, and their reconnection storm.

The distributed mode's gateway (gunicorn, one gevent worker, as in
production) with identity on RabbitMQ and PostgreSQL. Users sign in through
identity; client processes (loadclient.py `hold`) open streams as the apps
do, a ticket and then the WebSocket, `--per-user` for each user (the
per-user limit is 10). At each count of `--steps` it prints the gateway
worker's CPU over `--idle-seconds` with nothing but the sockets (and their
pings) and its memory. Then the storm: the worker is killed (`--signal`),
gunicorn starts another, and every client reopens its stream at once with
the web client's backoff; it prints how long until all were back, and every
failure the clients met, retried ones (refused, 429, 503) apart from errors.

    make bench-sockets
    make bench-sockets SOCKETS_ARGS="--steps 1000,5000,10000,20000"
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import requests  # noqa: E402

from bench_messaging import cpu_seconds, make_cluster, sign_in, status_field, workers_of  # noqa: E402
from devkit.helpers import Api, phone, wait_for  # noqa: E402
from devkit.servers import PostgresServer, RabbitMQServer  # noqa: E402

CLIENT = Path(__file__).with_name("loadclient.py")


def raise_open_files(wanted: int) -> None:
    """Every stream is a descriptor in the gateway's worker and in a client;
    both inherit this process's limit. The hard one is raised too where the
    system allows it (root with CAP_SYS_RESOURCE, up to fs.nr_open)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < wanted:
            print(f"open files are limited to {hard} per process here: the gateway holds fewer streams",
                  flush=True)


def sign_in_users(identity_url: str, count: int, threads: int = 8) -> list[dict]:
    """Through identity itself, not the gateway, whose worker is what is measured."""
    local = threading.local()

    def one(n: int) -> dict:
        if not hasattr(local, "api"):
            local.api = Api(identity_url)  # one kept-alive session per thread
        return sign_in(local.api, phone(5_000_000 + n))

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def feed_ready(internal_url: str) -> bool:
    try:
        return requests.get(internal_url + "/readyz/self", timeout=2).ok
    except requests.RequestException:
        return False


def gateway_worker(master_pid: int, not_pid: int | None = None, timeout: float = 60) -> int:
    return wait_for(lambda: next((pid for pid in workers_of(master_pid) if pid != not_pid), None),
                    timeout=timeout, message="the gateway's worker")


class Holders:
    """The client processes and what they last wrote."""

    def __init__(self, work: Path, plan_file: Path, processes: int):
        self.target_file, self.stop_file = work / "target", work / "stop"
        self.target_file.write_text("0")
        self.status_files = [work / f"hold-{part}.json" for part in range(processes)]
        self.processes = [subprocess.Popen(
            [sys.executable, str(CLIENT), "hold", "--plan", str(plan_file), "--part", str(part),
             "--parts", str(processes), "--out", str(status), "--stop-file", str(self.stop_file),
             "--target-file", str(self.target_file)], cwd=ROOT) for part, status in enumerate(self.status_files)]

    def hold(self, count: int) -> None:
        self.target_file.write_text(str(count))

    def status(self) -> dict:
        total = {"connected": 0, "opened": 0, "dropped": 0, "last_opened_at": 0.0, "retries": Counter(),
                 "errors": Counter()}
        for path in self.status_files:
            try:
                part = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for key in ("connected", "opened", "dropped"):
                total[key] += part[key]
            total["last_opened_at"] = max(total["last_opened_at"], part["last_opened_at"])
            total["retries"].update(part["retries"])
            total["errors"].update(part["errors"])
        return total

    def cpu_seconds(self) -> float:
        return cpu_seconds([process.pid for process in self.processes])

    def stop(self) -> None:
        self.stop_file.write_text("stop")
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def memory_mib(pid: int) -> tuple[float, float]:
    return status_field(pid, "VmRSS") / 1024, status_field(pid, "VmHWM") / 1024


def wait_connected(holders: Holders, count: int, timeout: float) -> float:
    started = time.monotonic()
    wait_for(lambda: holders.status()["connected"] >= count, timeout=timeout, interval=0.5,
             message=f"{count} streams open")
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1000,5000,10000", help="open streams at each measurement")
    parser.add_argument("--per-user", type=int, default=10, help="streams per user (the gateway allows 10)")
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4, help="client processes holding the streams")
    parser.add_argument("--signal", choices=("KILL", "TERM"), default="KILL",
                        help="what the gateway's worker gets before the storm")
    parser.add_argument("--storm-timeout", type=float, default=300)
    parser.add_argument("--gateway-env", action="append", default=[], help="NAME=value for the gateway")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args(argv)
    steps = [int(step) for step in args.steps.split(",")]
    users_needed = math.ceil(max(steps) / args.per_user)
    raise_open_files(max(steps) + 1_000)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sferum-sockets-"))

    rabbit, postgres = RabbitMQServer(), PostgresServer(durable=True)
    rabbit.start()
    postgres.start()
    # Tokens outlive the run: a stream ends when the token that opened it expires.
    cluster = make_cluster(rabbit, postgres, work, "WARNING", ACCESS_TOKEN_TTL="7200",
                           OTP_PER_DESTINATION_PER_HOUR="100")
    holders = None
    report: dict = {"steps": [], "per_user": args.per_user, "signal": args.signal}
    try:
        cluster.start_service("identity", workers=2, threads=8)
        cluster.start_gateway("gateway", workers=1, **dict(item.split("=", 1) for item in args.gateway_env))
        cluster.wait_ready(["identity"], timeout=120)
        gateway = cluster.url("gateway")
        wait_for(lambda: feed_ready(cluster.internal_url("gateway")), timeout=120,
                 message="the gateway's realtime feed")
        master = dict(cluster.processes)["gateway"].pid
        worker = gateway_worker(master)

        started = time.monotonic()
        users = sign_in_users(cluster.url("identity"), users_needed)
        print(f"{len(users)} users signed in through identity in {time.monotonic() - started:.1f}s", flush=True)
        plan_file = work / "plan.json"
        plan_file.write_text(json.dumps({"gateway": gateway, "sockets_per_user": args.per_user, "users": [
            {"user_id": user["user_id"], "token": user["token"]} for user in users]}))
        holders = Holders(work, plan_file, args.clients)

        rss, hwm = memory_mib(worker)
        print(f"gateway worker with no stream: {rss:.0f} MiB resident", flush=True)
        print(f"\n{'streams':>8} {'opened in':>9} {'gateway CPU idle':>16} {'RSS':>9} {'VmHWM':>9} "
              f"{'clients CPU idle':>16}", flush=True)
        for count in steps:
            holders.hold(count)
            try:
                opening = wait_connected(holders, count, timeout=max(120.0, count / 20))
            except AssertionError:
                status = holders.status()
                print(f"only {status['connected']} of {count} streams open; retried "
                      f"{dict(status['retries'])}, errors {dict(status['errors'])}", flush=True)
                return 1
            time.sleep(2)  # the last handshakes' own work is not idling
            gateway_before, clients_before = cpu_seconds([worker]), holders.cpu_seconds()
            time.sleep(args.idle_seconds)
            gateway_cores = (cpu_seconds([worker]) - gateway_before) / args.idle_seconds
            clients_cores = (holders.cpu_seconds() - clients_before) / args.idle_seconds
            rss, hwm = memory_mib(worker)
            status = holders.status()
            report["steps"].append({"streams": count, "connected": status["connected"], "open_seconds": opening,
                                    "gateway_cores": gateway_cores, "rss_mib": rss, "hwm_mib": hwm,
                                    "clients_cores": clients_cores})
            print(f"{count:>8} {opening:>8.1f}s {100 * gateway_cores:>14.1f} % {rss:>5.0f} MiB {hwm:>5.0f} MiB "
                  f"{100 * clients_cores:>14.1f} %", flush=True)
        before = holders.status()
        if before["errors"] or before["dropped"]:
            print(f"while opening: dropped {before['dropped']}, retried {dict(before['retries'])}, "
                  f"errors {dict(before['errors'])}", flush=True)

        count = steps[-1]
        print(f"\nstorm: SIG{args.signal} to the gateway's worker with {count} streams open", flush=True)
        clients_before = holders.cpu_seconds()
        killed_at = time.time()
        os.kill(worker, getattr(signal, f"SIG{args.signal}"))
        new_worker = gateway_worker(master, not_pid=worker, timeout=args.storm_timeout)
        started_at = time.time() - killed_at
        # On the internal port, which the clients' backlog does not hold up.
        wait_for(lambda: feed_ready(cluster.internal_url("gateway")), timeout=args.storm_timeout, interval=0.1,
                 message="the new worker ready")
        ready_at = time.time() - killed_at
        back: list[tuple[float, int]] = []  # (seconds after the kill, streams reopened by then)
        while True:
            status = holders.status()
            back.append((time.time() - killed_at, status["opened"] - before["opened"]))
            if back[-1][1] >= count and status["connected"] >= count:
                break
            if back[-1][0] > args.storm_timeout:
                print(f"only {back[-1][1]} of {count} streams back after {args.storm_timeout:.0f}s", flush=True)
                break
            time.sleep(0.2)
        after = holders.status()
        back_seconds = after["last_opened_at"] - killed_at
        storm_cores = cpu_seconds([new_worker]) / back_seconds
        clients_cores = (holders.cpu_seconds() - clients_before) / back_seconds
        retries = after["retries"] - before["retries"]
        errors = after["errors"] - before["errors"]
        rss, hwm = memory_mib(new_worker)

        def when(share: float) -> float:
            return next(seconds for seconds, opened in back if opened >= share * count)

        report["storm"] = {"streams": count, "new_worker_seconds": started_at, "ready_seconds": ready_at,
                           "back_seconds": {"first": when(1 / count), "half": when(0.5), "99%": when(0.99),
                                            "all": back_seconds},
                           "new_worker_cores": storm_cores, "clients_cores": clients_cores, "retries": dict(retries), "errors": dict(errors),
                           "new_worker_hwm_mib": hwm}
        print(f"a new worker {started_at:.1f}s after the kill, ready after {ready_at:.1f}s; streams back after {when(1 / count):.1f}s (first), "
              f"{when(0.5):.1f}s (half), {when(0.99):.1f}s (99 %), {back_seconds:.1f}s (all {count}); "
              f"the new worker used {100 * storm_cores:.0f} % of a core (the clients {100 * clients_cores:.0f} %) "
              f"and peaked at {hwm:.0f} MiB\n"
              f"retried: {sum(retries.values())} {dict(retries)}; errors: {sum(errors.values())} {dict(errors)}",
              flush=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"sockets-{stamp}.json").write_text(json.dumps(report, indent=2))
        print(f"\nfull results: {out / f'sockets-{stamp}.json'}")
        return 0 if not errors else 1
    finally:
        if holders is not None:
            holders.stop()
        cluster.close()
        postgres.close()
        rabbit.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
