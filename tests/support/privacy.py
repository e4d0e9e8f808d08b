"""Whether the platform ever shows a person's phone or e-mail address to
anyone else. `Recorder` sits in front of the gateway and notes every answer
with who asked; `PrivacyScan` looks for every known person's phone and
address in those answers and in realtime frames. A person's own contacts are
theirs to read in their profile, their data export and the rest of what is
theirs under /me (their own applications); the operator reads
the phone and address an application names while reviewing it. Anywhere
else, to anyone, it is a leak."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass

from .school import Person

# The person's own data: the profile, the export and whatever else is theirs under /me.
OWN = re.compile(r"^/api/v1/me(/|$)")
REVIEW = re.compile(r"^/api/v1/applications(/|$)")
# A dev-mode tool (sign-in codes by destination) that production answers 404.
DEV = "/api/v1/dev/"
SEPARATORS = re.compile(rb"[\s()\-]")


@dataclass
class Answer:
    token: str | None
    method: str
    path: str
    status: str
    body: bytes


class Recorder:
    """WSGI middleware: every answer's body, with the bearer token it was asked with."""

    def __init__(self, app):
        self.app = app
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        status = []

        def start(line, headers, exc_info=None):
            status.append(line)
            return start_response(line, headers, exc_info)

        auth = environ.get("HTTP_AUTHORIZATION", "")
        answer = Answer(auth[7:] if auth.startswith("Bearer ") else None, environ["REQUEST_METHOD"],
                        environ.get("PATH_INFO", ""), "", b"")
        return _Noted(self.app(environ, start), answer, status, self._keep)

    def _keep(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)


class _Noted:
    """The answer's body as it passes, noted once it was read or closed."""

    def __init__(self, body, answer: Answer, status: list, keep):
        self._body, self._answer, self._status, self._keep = body, answer, status, keep
        self._chunks: list[bytes] = []
        self._noted = False

    def __iter__(self):
        for chunk in self._body:
            self._chunks.append(chunk)
            yield chunk
        self._note()

    def close(self):
        if hasattr(self._body, "close"):
            self._body.close()
        self._note()

    def _note(self):
        if not self._noted:
            self._noted = True
            self._answer.status = self._status[0] if self._status else ""
            self._answer.body = b"".join(self._chunks)
            self._keep(self._answer)


class PrivacyScan:
    def __init__(self, people: list[Person], operator: Person):
        self.operator = operator
        self.owners = {p.token: p for p in people}
        # What is searched: a phone's national digits (however it is written) and an address in any case.
        self.needles: list[tuple[bytes, Person, str]] = []
        for person in people:
            if person.phone:
                self.needles.append((person.phone[-10:].encode(), person, person.phone))
            if person.email:
                self.needles.append((person.email.lower().encode(), person, person.email))

    def leaks_in_answers(self, answers: list[Answer]) -> list[str]:
        found = []
        for answer in answers:
            if answer.path.startswith(DEV):
                continue
            asker = self.owners.get(answer.token)
            for value, owner in self._values_in(answer.body):
                if asker is owner and OWN.match(answer.path):
                    continue
                if asker is self.operator and REVIEW.match(answer.path):
                    continue
                found.append(f"{answer.method} {answer.path} ({answer.status}) showed {owner.label}'s {value} "
                             f"to {asker.label if asker else 'someone not signed in'}")
        return found

    def leaks_in_frames(self, frames: dict[Person, list[dict]]) -> list[str]:
        return [f"a {frame.get('type')} frame showed {owner.label}'s {value} to {receiver.label}"
                for receiver, received in frames.items() for frame in received
                for value, owner in self._values_in(json.dumps(frame, ensure_ascii=False).encode())]

    def _values_in(self, body: bytes) -> list[tuple[str, Person]]:
        lowered = SEPARATORS.sub(b"", body.lower())
        return [(value, owner) for needle, owner, value in self.needles if needle in lowered]
