"""What the moderation browser tests start from, made through the public API,
and how they press what the moderation screens show."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from support.moderation import in_days, wait_member, wait_moderating, when_ready

RULES = ("Общаемся вежливо.", "Пишем только по делу.", "Без рекламы и ссылок на чужие сайты.")


def moderated_chat(school, creator, members, title):
    """A group chat of `creator` (its moderator) that `members` joined, once moderation knows them all."""
    chat_id = school.group_chat(creator, members, title, rules=RULES)
    wait_moderating(school.api, creator, chat_id)
    for member in members:
        wait_member(school.api, member, chat_id)
    return chat_id


def record_violations(school, moderator, chat_id, person, count, rule=1):
    ids = []
    for _ in range(count):
        answer = when_ready(lambda: school.api.post(f"/chats/{chat_id}/violations", {"user_id": person.id, "rule": rule},
                                                    token=moderator.token))
        assert answer.status_code == 201, answer
        ids.append(answer.json["id"])
    return ids


def block_by_api(school, moderator, chat_id, person, days=3):
    ids = record_violations(school, moderator, chat_id, person, 4)
    answer = school.api.post(f"/chats/{chat_id}/blocks", {"user_id": person.id, "until": in_days(days),
                                                         "violation_ids": ids}, token=moderator.token)
    assert answer.status_code == 201, answer
    return answer.json


def active_blocks(school, moderator, chat_id):
    return school.get(f"/chats/{chat_id}/blocks", moderator)["items"]


def press(element, text):
    """The button inside `element` that says `text`."""
    buttons = [b for b in element.find_elements(By.CSS_SELECTOR, "button") if b.text == text and b.is_displayed()]
    assert buttons, f"no button {text!r} in {element.text!r}"
    buttons[0].click()


def press_on(page, css, text, label):
    """Presses `label` on the element matching css that shows `text`, found again
    if the list is redrawn meanwhile (the screens redraw as frames arrive)."""
    def attempt():
        for element in page.all(css):
            if text in element.text and element.is_displayed():
                for button in element.find_elements(By.CSS_SELECTOR, "button"):
                    if button.text == label and button.is_displayed() and button.is_enabled():
                        button.click()
                        return True
        return False
    page.wait(attempt, f"{label!r} on {css} showing {text!r}")


def message_item(page, text):
    def scrolled_to():
        # Found again if the list was redrawn (a read mark, a new message) in between.
        item = page.find_text(".msg", text, f"the message {text!r}")
        page.script("arguments[0].scrollIntoView({block: 'center'})", item)
        return item
    return page.wait(scrolled_to, f"the message {text!r} in view")


def dialog(page):
    return page.find("dialog[open]", "the dialog")


def posting_refused(school, person, chat_id) -> bool:
    answer = school.api.post(f"/chats/{chat_id}/messages", {"text": "Можно написать?"}, token=person.token)
    assert answer.status_code in (201, 403), answer
    return answer.status_code == 403 and answer.json["error"]["code"] == "blocked"


def live(page):
    """The page once its realtime stream is open: what is pushed from then on reaches it."""
    page.wait(lambda: page.script("const note = document.querySelector('.nav .offline');"
                                  "return Boolean(note) && note.hidden;"), "the realtime stream open")
    return page


def refuse_once(page, method, path, status, code, retry_after=1):
    """The next `method path` the page sends is answered with this refusal
    instead of reaching the platform: a service that has not caught up yet."""
    page.script("""
        const [method, path, status, code, retryAfter] = arguments;
        const original = window.fetch;
        window.refusedOnce = false;
        window.fetch = function (input, init) {
          const url = new URL(typeof input === "string" ? input : input.url, location.href);
          if (((init && init.method) || "GET") === method && url.pathname === path) {
            window.fetch = original;
            window.refusedOnce = true;
            return Promise.resolve(new Response(JSON.stringify({error: {code, message: code, details: {}}}),
              {status, headers: {"Content-Type": "application/json", "Retry-After": String(retryAfter)}}));
          }
          return original.apply(this, arguments);
        };
    """, method, path, status, code, retry_after)

