"""How the call browser tests enter a call and look at it: people press what
the chat and call screens show, with Chromium's fake camera."""
from __future__ import annotations

from selenium.webdriver.common.by import By


class CallPages:
    def __init__(self, school, browsers):
        self.school = school
        self.browsers = browsers

    def open(self, width: int):
        """A browser with the fake camera on the school's platform."""
        return self.browsers(width=width, camera=True, platform=self.school.platform)

    def start_call(self, person, chat_id, width: int = 1280):
        """`person` starts a call from the chat and goes in with camera and microphone."""
        page = self.open(width).sign_in(person.phone, f"/chats/{chat_id}")
        page.click("button.call-start")
        page.wait(lambda: page.path.startswith("/call/"), "the call's page")
        page.click("button.join-call")
        page.find(".call-tile.me", "the caller in the call")
        return page

    def join_from_chat(self, person, chat_id, width: int = 1280):
        """`person` sees the call going on in the chat and joins it."""
        page = self.open(width).sign_in(person.phone, f"/chats/{chat_id}")
        page.click(".call-live a.button", "Войти в звонок")
        page.wait(lambda: page.path.startswith("/call/"), "the call's page")
        page.click("button.join-call")
        page.find(".call-tile.me", "the newcomer in the call")
        return page


def other_video_playing(page) -> bool:
    """Another participant's tile shows decoded video (a picture of some size)."""
    return page.script("return [...document.querySelectorAll('.call-tile:not(.me) video')]"
                       ".some((video) => video.videoWidth > 0 && video.videoHeight > 0)")


def dialog_button(page, label: str) -> None:
    """Presses `label` in the dialog open on the page."""
    def press():
        for dialog in page.all("dialog[open]"):
            for button in dialog.find_elements(By.CSS_SELECTOR, "button"):
                if button.text == label and button.is_displayed() and button.is_enabled():
                    button.click()
                    return True
        return False
    page.wait(press, f"{label!r} in the dialog")
