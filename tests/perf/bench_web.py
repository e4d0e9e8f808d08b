"""The web client's first load in headless Chromium, against the embedded
platform started here on a free port: the sign-in page, and a chat holding
1 000 messages opened by a signed-in user with an empty cache.

For each it prints the bytes that came over the network (as sent: compressed
where the platform compresses, headers included, from Chromium's own network
events) and the time to interactive: from the start of navigation to the
moment the client has drawn the screen and can be used (its
`sferum:interactive` performance mark; the chat's includes restoring the
session, the chats list and the first page of history).

    .venv/bin/python tests/perf/bench_web.py [--runs 5] [--messages 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from devkit.helpers import Api, wait_for  # noqa: E402
from devkit.distributed import free_port  # noqa: E402
from tests.browser.chromium import Browser  # noqa: E402
from tests.browser.pages import Page  # noqa: E402
from tests.browser.school import School  # noqa: E402


class Platform:
    def __init__(self, base: str):
        self.base = base
        self.api = Api(base)

    def code(self, destination: str) -> str:
        return self.api.get("/dev/outbox", params={"to": destination}).json["items"][0]["code"]


def start_platform(var_dir: Path) -> tuple[subprocess.Popen, str]:
    port, internal_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SFERUM_VAR_DIR=str(var_dir), PUBLIC_URL=base, LOG_LEVEL="WARNING",
               OTP_PER_IP_PER_HOUR="100000", OTP_PER_DESTINATION_PER_HOUR="1000", OTP_RESEND_COOLDOWN="0",
               GATEWAY_RATE_PER_SECOND="1000")
    for name in ("SFERUM_DEV", "AMQP_URL", "DATABASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "services", "embedded", "--port", str(port),
                                "--internal-port", str(internal_port)], cwd=ROOT,
                               env=env, stdout=open(var_dir / "embedded.log", "wb"), stderr=subprocess.STDOUT)

    def ready():
        try:
            return requests.get(f"http://127.0.0.1:{internal_port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait_for(ready, timeout=60, interval=0.2, message="the embedded platform")
    return process, base


def network_bytes(driver) -> tuple[int, int]:
    """Bytes received and responses counted since the log was last read."""
    total, responses = 0, 0
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.loadingFinished":
            total += int(message["params"].get("encodedDataLength", 0))
            responses += 1
    return total, responses


def interactive_ms(page: Page) -> float:
    page.wait(lambda: page.script("return performance.getEntriesByName('sferum:interactive').length > 0"),
              "the interactive mark", timeout=30)
    return page.script("return performance.getEntriesByName('sferum:interactive')[0].startTime")


def measure_sign_in(platform: Platform) -> dict:
    page = Page(Browser(performance_log=True), platform)
    try:
        page.driver.get_log("performance")
        page.driver.get(platform.base + "/signin")
        page.find("input[name=phone]")
        tti = interactive_ms(page)
        nbytes, responses = network_bytes(page.driver)
        return {"bytes": nbytes, "responses": responses, "tti_ms": tti}
    finally:
        page.browser.quit()


def measure_chat(platform: Platform, who, chat_id: str) -> dict:
    page = Page(Browser(performance_log=True), platform)
    try:
        page.sign_in(who.phone, "/profile")
        page.driver.execute_cdp_cmd("Network.enable", {})
        page.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        page.driver.get_log("performance")
        page.driver.get(f"{platform.base}/chats/{chat_id}")
        page.wait(lambda: len(page.all(".msg")) >= 50, "the chat's first page", timeout=30)
        tti = interactive_ms(page)
        nbytes, responses = network_bytes(page.driver)
        shown = len(page.all(".msg"))
        return {"bytes": nbytes, "responses": responses, "tti_ms": tti, "messages_drawn": shown}
    finally:
        page.browser.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        process, base = start_platform(Path(tmp))
        try:
            platform = Platform(base)
            school = School(platform)
            teacher = school.verified_teacher("Анна Петровна Учитель")
            student = school.member("student", "Петя Ученик", "5А")
            chat_id = school.group_chat(teacher, [student], "Математика 5А")
            started = time.monotonic()
            local = threading.local()

            def post(n: int) -> None:
                if not hasattr(local, "api"):
                    local.api = Api(base)
                author = teacher if n % 3 else student
                answer = local.api.post(f"/chats/{chat_id}/messages", {
                    "text": f"Сообщение {n + 1}: разбираем задачу № {n % 40 + 1}, решение и ответ — в тетради, "
                            "проверим на уроке."}, token=author.token)
                assert answer.status_code == 201, answer
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(post, range(args.messages)))
            print(f"{args.messages} messages posted in {time.monotonic() - started:.1f} s")
            results = {"sign-in page": [measure_sign_in(platform) for _ in range(args.runs)],
                       f"chat with {args.messages} messages": [measure_chat(platform, teacher, chat_id)
                                                               for _ in range(args.runs)]}
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    print()
    print(f"First load in headless Chromium, empty cache, {args.runs} runs each (median; all runs):")
    print("| page | transferred (KB, compressed, headers included) | responses | time to interactive (ms) |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        kb = [r["bytes"] / 1024 for r in runs]
        tti = [r["tti_ms"] for r in runs]
        print(f"| {name} | {statistics.median(kb):.1f} ({', '.join(f'{v:.1f}' for v in kb)}) "
              f"| {runs[0]['responses']} "
              f"| {statistics.median(tti):.0f} ({', '.join(f'{v:.0f}' for v in tti)}) |")
    chat_runs = next(iter(reversed(results.values())))
    print(f"\nThe chat draws its newest {chat_runs[0]['messages_drawn']} messages first; older ones load "
          "as the user scrolls up.")
    worst_kb = max(r["bytes"] for runs in results.values() for r in runs) / 1024
    worst_tti = max(r["tti_ms"] for runs in results.values() for r in runs)
    print(f"Aim: under 300 KB and under 1000 ms. Worst run: {worst_kb:.1f} KB, {worst_tti:.0f} ms: "
          f"{'met' if worst_kb < 300 and worst_tti < 1000 else 'NOT met'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
