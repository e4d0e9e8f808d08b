"""Browser tests: headless Debian Chromium under Selenium against the embedded
platform, started as `make run` starts it, on a free port, one per module.
Every test opens fresh browsers (own profiles); on failure each one's
screenshot, page and console are saved under var/browser-failures/."""
from __future__ import annotations

import json
import os
import re
import signal
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devkit.helpers import OPERATOR_PHONE, Api, wait_for
from devkit.distributed import ROOT, free_port

from .chromium import FAKE_MEDIA, Browser, available
from .pages import Page

FAILURES = ROOT / "var" / "browser-failures"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if not available():
                item.add_marker(pytest.mark.skip(reason="chromium and chromedriver are not installed "
                                                        "(tools/install-servers.sh chromium chromium-driver)"))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class Platform:
    def __init__(self, base: str, log: Path):
        self.base = base
        self.log = log
        self.api = Api(base)

    def code(self, destination: str) -> str:
        """The newest sign-in code the dev outbox holds for a phone or address."""
        items = self.api.get("/dev/outbox", params={"to": destination}).json["items"]
        return next(item["code"] for item in items if item["code"])


@contextmanager
def running_platform(tmp: Path, settings: dict, internal_port: int | None = None):
    """The embedded platform in its own process, as `make run` starts it, with
    `settings` on top of the tests' own; `internal_port` when something (Janus's
    event handler) must know it beforehand."""
    port, internal_port = free_port(), internal_port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SFERUM_VAR_DIR=str(tmp / "var"), PUBLIC_URL=base, LOG_LEVEL="WARNING",
               OPERATOR_PHONES=OPERATOR_PHONE, OTP_PER_IP_PER_HOUR="100000", OTP_PER_DESTINATION_PER_HOUR="1000",
               OTP_RESEND_COOLDOWN="0", OUTBOX_POLL_MS="50", EVENT_RETRY_DELAY_MS="100",
               SUPPORT_EMAIL="info@sferum.ru", SUPPORT_URL="https://sferum.ru/?p=instructions")
    for name in ("SFERUM_DEV", "AMQP_URL", "DATABASE_URL"):
        env.pop(name, None)
    env.update(settings)
    log_path = tmp / "embedded.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "services", "embedded", "--port", str(port),
                                "--internal-port", str(internal_port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def ready():
        assert process.poll() is None, log_path.read_text()
        try:
            return requests.get(f"http://127.0.0.1:{internal_port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=60, interval=0.2, message="the embedded platform")
        yield Platform(base, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def platform(request, tmp_path_factory):
    """The embedded platform with the settings of the test module's PLATFORM_ENV, if it has one."""
    with running_platform(tmp_path_factory.mktemp("platform"), getattr(request.module, "PLATFORM_ENV", {})) as started:
        yield started


@pytest.fixture
def browsers(request):
    """Opens browsers for the test: `page = browsers()`, `phone = browsers(width=375)`,
    `caller = browsers(camera=True)` (Chromium's fake camera and microphone, allowed);
    on the module's `platform` unless given another (`browsers(platform=sfu_platform)`)."""
    opened: list[Page] = []

    def open_page(width: int = 1280, height: int = 900, camera: bool = False, platform: Platform | None = None) -> Page:
        page = Page(Browser(width=width, height=height, flags=FAKE_MEDIA if camera else ()),
                    platform or request.getfixturevalue("platform"))
        opened.append(page)
        return page

    yield open_page
    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    for index, page in enumerate(opened):
        try:
            if failed:
                _save_failure(request.node.name, index, page)
        finally:
            page.browser.quit()
    if failed:
        # What the platforms logged (errors with their tracebacks) goes with the screenshots.
        FAILURES.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)
        for index, log in enumerate(dict.fromkeys(page.platform.log for page in opened)):
            shutil.copyfile(log, FAILURES / f"{stem}-platform{'' if index == 0 else index}.log")


def _save_failure(test_name: str, index: int, page: Page) -> None:
    FAILURES.mkdir(parents=True, exist_ok=True)
    stem = FAILURES / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}-{index}"
    driver = page.driver
    try:
        driver.save_screenshot(str(stem.with_suffix(".png")))
        stem.with_suffix(".html").write_text(driver.page_source)
        stem.with_suffix(".log").write_text("\n".join(json.dumps(entry, ensure_ascii=False)
                                                      for entry in driver.get_log("browser")))
        print(f"browser {index} at {driver.current_url}: screenshot {stem.with_suffix('.png')}")
    except Exception as error:  # the browser itself may be what failed
        print(f"no screenshot of browser {index}: {error}")
