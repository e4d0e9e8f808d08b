"""messaging's HTTP endpoints: thin adapters around chats, messages, files and polls."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint

from services.common import settling
from services.common.auth import current_user
from services.common.errors import ErrorSchema
from services.common.filetypes import disposition
from services.common.idempotency import idempotent
from services.common.pagination import PageQuery, paginate
from services.common.requests import public_url, service

from . import administrators, chats, directory, erasure, files, messages, polls, schemas, uploads
from .settings import FileSettings

blp = Blueprint("messaging", __name__, description="Chats by consent, messages, files, polls")
BEARER = [{"bearerAuth": []}]


def storage():
    return current_app.extensions["sferum.files"]


def file_settings() -> FileSettings:
    return current_app.extensions["sferum.file_settings"]


# Chats.

@blp.route("/chats", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ChatListPage)
@blp.doc(security=BEARER)
def my_chats(query):
    """My chats, most recently active first, with unread counts and the last message."""
    user = current_user()
    page = paginate(chats.my_chats(user.id), query["limit"], query["cursor"])
    page["items"] = messages.chat_list(user.id, page["items"])
    return page


@blp.route("/chats", methods=["POST"])
@idempotent
@blp.arguments(schemas.ChatCreate())
@blp.response(201, schemas.Chat)
@blp.alt_response(200, schema=schemas.Chat, description="a direct chat with this person exists already: that chat")
@blp.doc(security=BEARER)
def create_chat(body):
    """A group chat or a channel (teachers and admins), or a direct chat with
    another member of the organisation. Named people are invited, not added;
    with `unit_id` and `audience`, so are that class's students, their
    parents, or both, and those who come to the class later."""
    user = current_user()
    if body["kind"] == "direct":
        chat, created = chats.create_direct(service(), user, body["org_id"], body["user_id"])
        return chats.view_for(chat, user.id), 201 if created else 200
    chat = chats.create(service(), user, body["org_id"], body["kind"], body["title"].strip(), body["rules"],
                        body["invite_user_ids"], body["unit_id"], body["audience"])
    return chats.view_for(chat, user.id)


@blp.route("/chats/<chat_id>", methods=["GET"])
@blp.response(200, schemas.Chat)
@blp.doc(security=BEARER)
def get_chat(chat_id):
    chat, mine = chats.visible(current_user().id, chat_id)
    return chats.view(chat, mine)


@blp.route("/chats/<chat_id>", methods=["PATCH"])
@blp.arguments(schemas.ChatUpdate())
@blp.response(200, schemas.Chat)
@blp.doc(security=BEARER)
def update_chat(body, chat_id):
    """A moderator renames the chat or changes its rules (a new rules version)."""
    user = current_user()
    chat = chats.update(service(), user, chat_id, body)
    return chats.view_for(chat, user.id)


@blp.route("/chats/<chat_id>/members", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ChatMemberPage)
@blp.doc(security=BEARER)
def chat_members(query, chat_id):
    return paginate(chats.members(current_user(), chat_id), query["limit"], query["cursor"])


@blp.route("/chats/<chat_id>/moderators", methods=["POST"])
@blp.arguments(schemas.ModeratorAppointment())
@blp.response(201, schemas.ModeratorAppointed)
@blp.alt_response(404, schema=ErrorSchema, description="no such chat, or not a director or admin of its school")
@blp.alt_response(422, schema=ErrorSchema, description="not a teacher of the school, or a direct chat")
@blp.doc(security=BEARER)
def appoint_moderator(body, chat_id):
    """A director or an admin of the school appoints a chat administrator (a
    teacher of the school): a member of the chat moderates it at once (`status:
    moderator`); anyone else is invited to it as its moderator (`status:
    invited`) and moderates once they join."""
    return administrators.appoint(service(), current_user(), chat_id, body["user_id"])


@blp.route("/chats/<chat_id>/moderators/<user_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="no such chat or no such appointment")
@blp.doc(security=BEARER)
def dismiss_moderator(chat_id, user_id):
    """A director or an admin ends the appointment; the person keeps
    moderating only if they do for another reason (they made the chat, head
    its class, administer the school)."""
    administrators.dismiss(service(), current_user(), chat_id, user_id)


@blp.route("/chats/<chat_id>/members/me", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
def leave_chat(chat_id):
    chats.leave(service(), current_user(), chat_id)


# Invitations and links.

@blp.route("/me/chat-invitations", methods=["GET"])
@blp.arguments(schemas.InvitationQuery(), location="query")
@blp.response(200, schemas.InvitationPage)
@blp.doc(security=BEARER)
def my_invitations(query):
    """Chats I am invited to, each with its rules to read before joining.
    With `org_id`, that organisation's only: right after joining it, the
    answer waits until its chats have invited me (a few seconds at most)."""
    user, org_id = current_user(), query.get("org_id")
    # Membership first: it lands with the invitations, so once it is known they are
    # readable; read after them, it could land in between and hide that they were not.
    lacking = bool(org_id) and not directory.is_member(org_id, user.id)
    page = paginate(chats.my_invitations(user.id, org_id), query["limit"], query["cursor"])
    page["items"] = [chats.invitation_view(invitation) for invitation in page["items"]]
    if lacking:
        return page, 200, settling.lacking_header([settling.member(org_id, user.id)])
    return page


@blp.route("/chat-invitations/<invitation_id>/accept", methods=["POST"])
@blp.arguments(schemas.RulesAcceptance())
@blp.response(200, schemas.Chat)
@blp.doc(security=BEARER)
def accept_invitation(body, invitation_id):
    """Join, accepting the rules version I was shown (409 if they changed since)."""
    user = current_user()
    chat = chats.accept_invitation(service(), user, invitation_id, body["accepted_rules_version"])
    return chats.view_for(chat, user.id)


@blp.route("/chat-invitations/<invitation_id>/decline", methods=["POST"])
@blp.response(204)
@blp.doc(security=BEARER)
def decline_invitation(invitation_id):
    chats.decline_invitation(current_user(), invitation_id)


@blp.route("/chats/<chat_id>/invites", methods=["POST"])
@idempotent
@blp.arguments(schemas.LinkCreate())
@blp.response(201, schemas.Link)
@blp.doc(security=BEARER)
def create_link(body, chat_id):
    """A join link (moderators); only members of the chat's organisation can
    use it, and with `unit_id` only the people of that class or group (403
    `not_in_this_class` for anyone else)."""
    link, token = chats.create_link(current_user(), chat_id, body["roles"], body["expires_at"], body["max_uses"],
                                    body["unit_id"])
    return {"id": link.id, "token": token, "url": public_url(f"chat/{token}"),
            "roles": [role for role in link.roles.split(",") if role], "unit_id": link.unit_id,
            "expires_at": link.expires_at, "max_uses": link.max_uses}


@blp.route("/chats/<chat_id>/invites/<link_id>", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
def revoke_link(chat_id, link_id):
    chats.revoke_link(current_user(), chat_id, link_id)


@blp.route("/chat-invites/<token>", methods=["GET"])
@blp.response(200, schemas.LinkPreview)
@blp.doc(security=BEARER)
def preview_link(token):
    """The chat's title and rules, shown before joining."""
    return chats.preview_link(current_user(), token)


@blp.route("/chat-invites/<token>/accept", methods=["POST"])
@blp.arguments(schemas.RulesAcceptance())
@blp.response(200, schemas.Chat)
@blp.doc(security=BEARER)
def accept_link(body, token):
    user = current_user()
    chat = chats.accept_link(service(), user, token, body["accepted_rules_version"])
    return chats.view_for(chat, user.id)


# Messages.

@blp.route("/chats/<chat_id>/messages", methods=["POST"])
@idempotent
@blp.arguments(schemas.MessageCreate())
@blp.response(201, schemas.Message)
@blp.doc(security=BEARER)
def post_message(body, chat_id):
    """A message to the chat. Where the chat holds students' flagged messages
    (`hold_flagged`), a student's message that the filters flag answers
    `held: true` and is seen only by its author and the moderators until a
    moderator releases or removes it."""
    return messages.post(service(), current_user(), chat_id, body["text"], body["file_ids"], body["reply_to"],
                         current_app.extensions["sferum.filters"])


@blp.route("/chats/<chat_id>/messages", methods=["GET"])
@blp.arguments(schemas.HistoryQuery(), location="query")
@blp.response(200, schemas.MessagePage)
@blp.doc(security=BEARER)
def history(query, chat_id):
    """Newest first; pass `next_cursor` back as `cursor` for older messages."""
    return messages.history(current_user(), chat_id, query["limit"], query["cursor"])


@blp.route("/messages/<message_id>", methods=["PATCH"])
@blp.arguments(schemas.MessageEdit())
@blp.response(200, schemas.Message)
@blp.doc(security=BEARER)
def edit_message(body, message_id):
    return messages.edit(service(), current_user(), message_id, body["text"])


@blp.route("/messages/<message_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(403, schema=ErrorSchema, description="not the author; a moderator removes others' messages "
                  "through `POST /messages/{id}/removal` citing a rule (`removal_requires_rule`)")
@blp.doc(security=BEARER)
def delete_message(message_id):
    """The author deletes their own message."""
    messages.delete(service(), current_user(), message_id)


@blp.route("/messages/<message_id>/reads", methods=["GET"])
@blp.response(200, schemas.ReadCount)
@blp.alt_response(403, schema=ErrorSchema, description="a member of the channel who is not its administrator")
@blp.alt_response(404, schema=ErrorSchema, description="no such message in a chat of the caller's")
@blp.alt_response(422, schema=ErrorSchema, description="`not_a_channel`: reads are counted in channels only")
@blp.doc(security=BEARER)
def message_reads(message_id):
    """How many members of a channel read a post, for its administrators;
    their names only in the staff channel."""
    return messages.reads(current_user(), message_id)


@blp.route("/chats/<chat_id>/read", methods=["POST"])
@blp.arguments(schemas.ReadMark())
@blp.response(200, schemas.ReadState)
@blp.doc(security=BEARER)
def mark_read(body, chat_id):
    return messages.mark_read(current_user(), chat_id, body["message_id"])


# Files.

@blp.route("/files", methods=["POST"])
@blp.arguments(schemas.FileUpload(), location="files")
@blp.response(201, schemas.File)
@blp.doc(security=BEARER)
def upload_file(body):
    """Upload a file (multipart field `file`) to attach to messages."""
    upload = body["file"]
    return files.upload(storage(), current_user(), upload.filename or "", upload.stream,
                        file_settings().file_max_bytes)


@blp.route("/chats/<chat_id>/files", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ChatFilePage)
@blp.alt_response(404, schema=ErrorSchema, description="no such chat among the caller's")
@blp.doc(security=BEARER)
def chat_files(query, chat_id):
    """The chat's materials: the files of its messages, newest first, each
    with the message that carries it (download with `GET /files/{id}`)."""
    chat, rows = files.of_chat(current_user(), chat_id)
    page = paginate(rows, query["limit"], query["cursor"])
    page["items"] = files.listed(chat.org_id, page["items"])
    return page


# Large files, in parts.

UPLOAD_ERRORS = (
    (404, "no such upload of the caller's"),
    (409, "`upload_closed` (complete, refused or aborted), `upload_expired`, `upload_assembling`, "
          "`part_out_of_order` (details: `next_part`), `upload_incomplete` (details: `next_part`, `missing`)"),
    (413, "`file_too_large`: over `UPLOAD_MAX_BYTES` (details: `max_bytes`)"),
    (415, "`unsupported_file_type`: the name is of no allowed kind, or the content is not what it says"),
    (422, "`wrong_part_size` (details: `expected`, `received`) or a field not valid"),
)


def _upload_errors(view):
    for status, description in UPLOAD_ERRORS:
        view = blp.alt_response(status, schema=ErrorSchema, description=description)(view)
    return blp.doc(security=BEARER)(view)


@blp.route("/uploads", methods=["POST"])
@idempotent
@blp.arguments(schemas.UploadCreate())
@blp.response(201, schemas.Upload)
@blp.alt_response(429, schema=ErrorSchema, description="`too_many_uploads`: 8 open uploads at most per person")
@_upload_errors
def begin_upload(body):
    """Start a large file (a video lesson: up to 2 GiB by default) sent in
    parts: `PUT /uploads/{id}/parts/{n}` for n = 1..`parts`, each `part_size`
    bytes but the last, in order, then `POST /uploads/{id}/complete`. An
    upload not completed within a day (`expires_at`) is dropped."""
    return uploads.view(uploads.begin(storage(), file_settings(), current_user(), body["name"], body["size"]), [])


@blp.route("/uploads/<upload_id>", methods=["GET"])
@blp.response(200, schemas.Upload)
@_upload_errors
def get_upload(upload_id):
    """Where an upload stands: the parts received, and `next_part` to resume from."""
    return uploads.view(uploads.mine(current_user(), upload_id))


@blp.route("/uploads/<upload_id>/parts/<int:number>", methods=["PUT"])
@blp.response(200, schemas.Upload)
@_upload_errors
@blp.doc(requestBody={"required": True, "description": "the part's bytes, exactly its size (`part_size`, the "
                      "last part the rest of the file)",
                      "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
def put_part(upload_id, number):
    """Part `number` (from 1) of the file. Parts come in order; sending a part
    again replaces it, so a part whose answer was lost is simply sent again.
    The first part must already be of the kind the name says."""
    return uploads.put_part(storage(), current_user(), upload_id, number, request.stream, request.content_length)


@blp.route("/uploads/<upload_id>/complete", methods=["POST"])
@blp.response(201, schemas.File)
@blp.alt_response(200, schema=schemas.File, description="completed before: the same file")
@_upload_errors
def complete_upload(upload_id):
    """Every part is there: the file is assembled, checked whole as a file
    sent in one piece is, and answered as `POST /files` answers, to attach to
    messages by its id. Asked again, it answers the same file."""
    stored, made = uploads.complete(storage(), current_user(), upload_id)
    return uploads.file_view(stored), 201 if made else 200


@blp.route("/uploads/<upload_id>", methods=["DELETE"])
@blp.response(204)
@_upload_errors
def abort_upload(upload_id):
    """Cancel an upload: the parts sent so far are deleted."""
    uploads.abort(storage(), current_user(), upload_id)


@blp.route("/files/<file_id>", methods=["GET"])
@blp.response(200, content_type="application/octet-stream")
@blp.doc(security=BEARER)
def download_file(file_id):
    """For the uploader and for those who can see a message carrying the file."""
    stored = files.downloadable(current_user(), file_id)
    body = stream_with_context(files.content(storage(), stored))
    return Response(body, mimetype=stored.content_type, headers={
        "Content-Length": str(stored.size),
        # Never rendered by the browser as a page of ours.
        "Content-Disposition": disposition(stored.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
    })


# Personal data.

@blp.route("/me/export/messaging", methods=["GET"])
@blp.response(200, schemas.MessagingExport)
@blp.doc(security=BEARER)
def export_mine():
    """messaging's part of `GET /me/export`: the user's chats, own messages
    (deleted ones too), files with their download links, votes and invitations."""
    return erasure.export(current_user().id)


# Polls.

@blp.route("/chats/<chat_id>/polls", methods=["POST"])
@idempotent
@blp.arguments(schemas.PollCreate())
@blp.response(201, schemas.Poll)
@blp.doc(security=BEARER)
def create_poll(body, chat_id):
    return polls.create(service(), current_user(), chat_id, body["question"], body["options"], body["multiple"],
                        body["anonymous"], body["closes_at"])


@blp.route("/polls/<poll_id>", methods=["GET"])
@blp.response(200, schemas.Poll)
@blp.doc(security=BEARER)
def get_poll(poll_id):
    return polls.get(current_user(), poll_id)


@blp.route("/polls/<poll_id>/votes", methods=["POST"])
@idempotent
@blp.arguments(schemas.VoteCreate())
@blp.response(200, schemas.Poll)
@blp.doc(security=BEARER)
def vote(body, poll_id):
    """Vote, or change one's vote while the poll is open."""
    return polls.vote(service(), current_user(), poll_id, body["option_ids"])


@blp.route("/polls/<poll_id>/close", methods=["POST"])
@blp.response(200, schemas.Poll)
@blp.doc(security=BEARER)
def close_poll(poll_id):
    return polls.close(service(), current_user(), poll_id)
