"""Names, titles and texts others read hide nothing: one rule (services/common/text.py)
for display names, organisation and unit names, chat titles, poll questions
and options, file names and the names in a roster; message texts and chat
rules keep their line breaks but nothing else that is invisible. A refusal
is a 422 naming the field, and changes nothing."""
import io
import json

import pytest
from support.chats import created, file_part, join_official
from support.school import Person, School

from devkit.helpers import assert_error, wait_for
from services.common.text import BadText, clean_name, clean_text

# Characters that show as nothing, or turn the text around them.
HIDDEN = [
    pytest.param("\u202e", id="right-to-left override"),
    pytest.param("\u2066", id="left-to-right isolate"),
    pytest.param("\u200b", id="zero-width space"),
    pytest.param("\ufeff", id="byte order mark"),
    pytest.param("\u00ad", id="soft hyphen"),
    pytest.param("\n", id="newline"),
    pytest.param("\t", id="tab"),
    pytest.param("\x00", id="NUL"),
    pytest.param("\x1b", id="escape"),
    pytest.param("\u2028", id="line separator"),
    pytest.param("\u2029", id="paragraph separator"),
    pytest.param("\ue000", id="private use"),
    pytest.param("\U000f0000", id="supplementary private use"),
    pytest.param("\u0378", id="unassigned"),
]


@pytest.mark.parametrize("char", HIDDEN)
def test_a_name_with_a_hidden_character_is_refused(char):
    with pytest.raises(BadText, match=f"U\\+{ord(char):04X}"):
        clean_name(f"Иван{char}Петров")


def test_names_are_normalised_collapsed_and_trimmed():
    assert clean_name("  Иван \u00a0\u3000 Петров  ") == "Иван Петров"
    assert clean_name("Е\u0308жик") == "\u0401жик" and clean_name("И\u0306ван") == "\u0419ван"  # NFC
    assert clean_name("5А") == "5А" and clean_name("") == ""


@pytest.mark.parametrize("char", [p for p in HIDDEN if p.id not in ("newline", "zero-width space",
                                                                     "byte order mark", "soft hyphen")])
def test_a_text_with_a_hidden_character_other_than_a_line_break_is_refused(char):
    with pytest.raises(BadText):
        clean_text(f"Первая строка{char}вторая")


def test_texts_keep_their_lines_and_what_scripts_and_emoji_need():
    assert clean_text("  Первая\r\nвторая\rтретья\n\n  отступ  ") == "Первая\nвторая\nтретья\n\n  отступ"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # joined by zero-width joiners
    assert clean_text(family) == family
    assert clean_text("e\u0301") == "\u00e9"


@pytest.fixture(scope="module")
def school(embedded_module):
    school = School(embedded_module, embedded_module.api, "Школа имён")
    join_official(embedded_module.api, school.head, school.org_id, "staff")
    return school


@pytest.fixture(scope="module")
def chat(embedded_module, school):
    api = embedded_module.api
    chat_id = created(api.post("/chats", {"org_id": school.org_id, "kind": "group", "title": "Кружок"},
                               token=school.head.token))["id"]
    message = created(api.post(f"/chats/{chat_id}/messages", {"text": "Привет"}, token=school.head.token))
    return {"id": chat_id, "message": message["id"]}


def state(api, school, chat) -> dict:
    admin, head = school.admin.token, school.head.token
    return {
        "me": api.get("/me", token=head).json,
        "org": api.get(f"/orgs/{school.org_id}", token=admin).json,
        "units": api.get(f"/orgs/{school.org_id}/units", token=admin).json,
        "invites": api.get(f"/orgs/{school.org_id}/invites", params={"limit": 200}, token=admin).json,
        "chat": api.get(f"/chats/{chat['id']}", token=head).json,
        "messages": api.get(f"/chats/{chat['id']}/messages", token=head).json,
        "chats": sorted(c["title"] for c in api.get("/chats", params={"limit": 200}, token=head).json["items"]),
    }


def requests_with(value: str, school, chat):
    """(label, method, path, body, field) for every place that takes a name or a text."""
    org = school.org_id
    return [
        ("display name", "PATCH", "/me", {"display_name": value}, "display_name"),
        ("organisation name", "PATCH", f"/orgs/{org}", {"name": value}, "name"),
        ("organisation address", "PATCH", f"/orgs/{org}", {"address": value}, "address"),
        ("unit name", "POST", f"/orgs/{org}/units", {"name": value}, "name"),
        ("unit rename", "PATCH", f"/orgs/{org}/units/{school.class_b}", {"name": value}, "name"),
        ("invitee's name", "POST", f"/orgs/{org}/invites", {"role": "teacher", "full_name": value}, "full_name"),
        ("chat title", "POST", "/chats", {"org_id": org, "kind": "group", "title": value}, "title"),
        ("chat rename", "PATCH", f"/chats/{chat['id']}", {"title": value}, "title"),
        ("poll question", "POST", f"/chats/{chat['id']}/polls", {"question": value, "options": ["Да", "Нет"]},
         "question"),
        ("poll option", "POST", f"/chats/{chat['id']}/polls", {"question": "Идём?", "options": ["Да", value]},
         "options"),
    ]


def texts_with(value: str, school, chat):
    return [
        ("message", "POST", f"/chats/{chat['id']}/messages", {"text": value}, "text"),
        ("message edit", "PATCH", f"/messages/{chat['message']}", {"text": value}, "text"),
        ("chat rules", "PATCH", f"/chats/{chat['id']}", {"rules": [value]}, "rules"),
        ("new chat's rules", "POST", "/chats", {"org_id": school.org_id, "kind": "group", "title": "Правила",
                                                "rules": [value]}, "rules"),
    ]


def token_for(school, path: str) -> str:
    return (school.admin if path.startswith("/orgs") else school.head).token


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\n", "\x00", "\u2028", "\ue000"])
def test_every_name_refuses_hidden_characters_with_a_field_error(embedded_module, school, chat, char):
    api = embedded_module.api
    before = state(api, school, chat)
    for label, method, path, body, field in requests_with(f"Имя{char}Фамилия", school, chat):
        response = api.request(method, path, json=body, token=token_for(school, path))
        error = assert_error(response, 422)
        assert field in error["details"]["fields"], (label, response)
    assert state(api, school, chat) == before


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\x00", "\t", "\u2028", "\x7f"])
def test_texts_refuse_hidden_characters_with_a_field_error(embedded_module, school, chat, char):
    api = embedded_module.api
    before = state(api, school, chat)
    for label, method, path, body, field in texts_with(f"Завтра{char}контрольная", school, chat):
        error = assert_error(api.request(method, path, json=body, token=school.head.token), 422)
        assert field in error["details"]["fields"], label
    assert state(api, school, chat) == before


def test_a_lone_surrogate_is_refused(embedded_module, school, chat):
    api = embedded_module.api
    before = state(api, school, chat)
    for _label, method, path, body, _field in (requests_with("Имя\ud800", school, chat)
                                               + texts_with("Текст\udfff", school, chat)):
        # As JSON escapes: a surrogate alone cannot be written as UTF-8 at all.
        response = api.request(method, path, data=json.dumps(body), content_type="application/json",
                               token=token_for(school, path))
        assert response.status_code in (400, 422), response
        assert_error(response, response.status_code)
    assert state(api, school, chat) == before


def test_names_are_stored_normalised(embedded_module, school, chat):
    api, org = embedded_module.api, school.org_id
    me = api.patch("/me", {"display_name": "  Анна\u00a0\u00a0 Петровна "}, token=school.teacher.token)
    assert me.json["display_name"] == "Анна Петровна"
    unit = created(api.post(f"/orgs/{org}/units", {"name": " 10\u2003Б "}, token=school.admin.token))
    assert unit["name"] == "10 Б"
    renamed = api.patch(f"/chats/{chat['id']}", {"title": "Кружок  рисования"}, token=school.head.token)
    assert renamed.json["title"] == "Кружок рисования"
    poll = created(api.post(f"/chats/{chat['id']}/polls", {"question": " Когда? ", "options": ["Утром", " Вечером"]},
                            token=school.head.token))
    assert [poll["question"], *[o["text"] for o in poll["options"]]] == ["Когда?", "Утром", "Вечером"]
    message = created(api.post(f"/chats/{chat['id']}/messages", {"text": "Строка\r\nещё\u00a0строка"},
                               token=school.head.token))
    assert message["text"] == "Строка\nещё\u00a0строка"
    # Only the first of two equal names (after normalisation) is a new class.
    assert_error(api.post(f"/orgs/{org}/units", {"name": "10 Б"}, token=school.admin.token), 409)


@pytest.mark.parametrize("filename", ["photo\u202egpj.exe", "notes\u200b.txt", "notes\n.txt", "no\x00tes.txt"])
def test_file_names_refuse_hidden_characters(embedded_module, school, filename):
    api = embedded_module.api
    response = api.post("/files", token=school.student.token, **file_part(b"plain text", filename))
    assert "file" in assert_error(response, 422)["details"]["fields"]


def test_a_file_name_is_normalised(embedded_module, school):
    stored = created(embedded_module.api.post("/files", token=school.student.token,
                                              **file_part(b"plain text", "  my\u00a0 notes.txt ")))
    assert stored["name"] == "my notes.txt"


def test_a_roster_with_hidden_characters_in_names_creates_nothing(embedded_module, school):
    api, org = embedded_module.api, school.org_id
    before = api.get(f"/orgs/{org}/units", token=school.admin.token).json
    content = "class,student,parent\n8А,Анна\u202eНовикова,\n8\u200bБ,Борис Ветров,Отец\u0000\n".encode()
    job = api.post(f"/orgs/{org}/roster-imports", token=school.admin.token,
                   data={"file": (io.BytesIO(content), "roster.csv")}, content_type="multipart/form-data")
    assert job.status_code == 202, job

    def finished():
        shown = api.get(f"/orgs/{org}/roster-imports/{job.json['id']}", token=school.admin.token).json
        return shown if shown["status"] in ("done", "failed") else None

    result = wait_for(finished, message="the roster import to finish")
    assert result["status"] == "failed"
    assert [(e["line"], e["error"].split(":")[0]) for e in result["errors"]] == [
        (2, "student"), (3, "class"), (3, "parent")]
    assert api.get(f"/orgs/{org}/units", token=school.admin.token).json == before


def test_an_application_with_hidden_characters_is_refused(embedded_module, school):
    api = embedded_module.api
    applicant = Person(api, "applicant")
    regions = api.get("/regions").json["items"]

    def queue():
        return api.get("/applications", params={"limit": 200}, token=school.operator.token).json

    before = queue()
    for org_name, full_name in (("Школа\u202e № 7", "Иван Иванов"), ("Школа № 7", "Иван\u200bИванов")):
        response = api.post("/applications", {
            "region_id": regions[0]["id"], "org": {"name": org_name, "kind": "school"},
            "admin": {"full_name": full_name, "phone": "+79001234567"}}, token=applicant.token)
        assert_error(response, 422)
    assert queue() == before
