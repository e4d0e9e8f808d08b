"""A browser tab as the tests drive it: what a person sees and does, waiting
with deadlines (WebDriverWait), never sleeping."""
from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 15


class Page:
    def __init__(self, browser, platform):
        self.browser = browser
        self.driver = browser.driver
        self.platform = platform
        self.base = platform.base

    # Finding and waiting.

    def open(self, path: str) -> "Page":
        self.driver.get(self.base + path)
        try:
            self.wait(lambda: self.driver.execute_script("return document.documentElement.dataset.ready === '1'"),
                      "the page to be drawn")
        except TimeoutException as timeout:
            errors = [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
            raise TimeoutException(f"the page to be drawn; the console said: {errors}") from timeout
        return self

    def wait_live(self) -> None:
        """Until the page's realtime stream is open: what is posted from now on arrives live."""
        self.wait(lambda: self.driver.execute_script("return document.documentElement.dataset.online === '1'"),
                  "the page's stream to open")

    def wait(self, condition, message: str = "condition", timeout: float = TIMEOUT):
        def attempt(_driver):
            try:
                return condition()
            except StaleElementReferenceException:
                return False
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(attempt, message)

    def all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def texts(self, css: str) -> list[str]:
        """The texts of the visible elements matching css, read in one step in
        the page: a list the page draws again meanwhile cannot go stale under it."""
        return self.script("return Array.from(document.querySelectorAll(arguments[0]))"
                           ".filter((e) => e.checkVisibility()).map((e) => e.innerText.trim())", css)

    def find(self, css: str, message: str | None = None, visible: bool = True):
        def found():
            elements = [e for e in self.all(css) if not visible or e.is_displayed()]
            return elements[0] if elements else None
        return self.wait(found, message or f"{css} to show")

    def find_text(self, css: str, text: str, message: str | None = None):
        """The first visible element matching css whose text contains `text`."""
        def found():
            for element in self.all(css):
                if text in element.text and element.is_displayed():
                    return element
            return None
        return self.wait(found, message or f"{css} with the text {text!r}")

    def click(self, css: str, text: str | None = None):
        element = self.find_text(css, text) if text else self.find(css)
        self.wait(lambda: element.is_enabled(), f"{css} to be enabled")
        element.click()
        return element

    def type(self, css: str, text: str):
        element = self.find(css)
        element.clear()
        element.send_keys(text)
        return element

    def script(self, source: str, *args):
        return self.driver.execute_script(source, *args)

    @property
    def path(self) -> str:
        return self.script("return location.pathname")

    # Signing in.

    def sign_in_with_form(self, phone: str, name: str | None = None) -> None:
        """Through the sign-in form on the page, with the code from the dev outbox."""
        self.type("input[name=phone]", phone)
        self.click("form button[type=submit]")
        self.find("input[name=code]")
        self.find(".devhint", "the dev-mode hint where the code is")
        self.type("input[name=code]", self.platform.code(phone))
        self.click("form button[type=submit]")
        if name is not None:
            self.type("input[name=name]", name)
            self.click("form button[type=submit]")

    def sign_in(self, phone: str, path: str = "/chats") -> "Page":
        """A quick sign-in for tests about something else: the same browser session
        (/web/session with its CSRF cookie), without typing into the form."""
        self.open("/signin")
        assert self.platform.api.post("/auth/otp", {"phone": phone}).status_code == 202
        code = self.platform.code(phone)
        status = self.driver.execute_async_script("""
            const [phone, code, done] = arguments;
            const csrf = document.cookie.split('; ').find((c) => c.startsWith('sferum_csrf=')).slice(12);
            fetch('/web/session', {method: 'POST', headers: {'Content-Type': 'application/json',
              'X-CSRF-Token': csrf}, body: JSON.stringify({phone, code})}).then((r) => done(r.status));
        """, phone, code)
        assert status == 200, status
        return self.open(path)

    def no_horizontal_scroll(self) -> bool:
        return self.script("return document.documentElement.scrollWidth <= window.innerWidth "
                           "&& document.body.scrollWidth <= window.innerWidth")
