"""messaging's HTTP endpoints: thin adapters around chats, messages, files and polls."""
from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.idempotency import idempotent
from services.common.pagination import PageQuery, paginate
from services.common.requests import public_url, runtime

from . import chats, files, messages, polls, schemas

blp = Blueprint("messaging", __name__, description="Chats by consent, messages, files, polls")
BEARER = [{"bearerAuth": []}]


def outbox():
    return runtime().outbox


def storage():
    return current_app.extensions["sferum.files"]


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
@blp.doc(security=BEARER)
def create_chat(body):
    """A group chat or a channel (teachers and admins), or a direct chat with
    another member of the organisation. Named people are invited, not added."""
    user = current_user()
    if body["kind"] == "direct":
        chat, created = chats.create_direct(outbox(), user, body["org_id"], body["user_id"])
        return chats.view_for(chat, user.id), 201 if created else 200
    chat = chats.create(outbox(), user, body["org_id"], body["kind"], body["title"].strip(), body["rules"],
                        body["invite_user_ids"], body["unit_id"])
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
    chat = chats.update(outbox(), user, chat_id, body)
    return chats.view_for(chat, user.id)


@blp.route("/chats/<chat_id>/members", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.ChatMemberPage)
@blp.doc(security=BEARER)
def chat_members(query, chat_id):
    return paginate(chats.members(current_user(), chat_id), query["limit"], query["cursor"])


@blp.route("/chats/<chat_id>/members/me", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
def leave_chat(chat_id):
    chats.leave(outbox(), current_user(), chat_id)


# Invitations and links.

@blp.route("/me/chat-invitations", methods=["GET"])
@blp.arguments(PageQuery(), location="query")
@blp.response(200, schemas.InvitationPage)
@blp.doc(security=BEARER)
def my_invitations(query):
    """Chats I am invited to, each with its rules to read before joining."""
    page = paginate(chats.my_invitations(current_user().id), query["limit"], query["cursor"])
    page["items"] = [chats.invitation_view(invitation) for invitation in page["items"]]
    return page


@blp.route("/chat-invitations/<invitation_id>/accept", methods=["POST"])
@blp.arguments(schemas.RulesAcceptance())
@blp.response(200, schemas.Chat)
@blp.doc(security=BEARER)
def accept_invitation(body, invitation_id):
    """Join, accepting the rules version I was shown (409 if they changed since)."""
    user = current_user()
    chat = chats.accept_invitation(outbox(), user, invitation_id, body["accepted_rules_version"])
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
    """A join link (moderators); only members of the chat's organisation can use it."""
    link, token = chats.create_link(current_user(), chat_id, body["roles"], body["expires_at"], body["max_uses"])
    return {"id": link.id, "token": token, "url": public_url(f"chat/{token}"),
            "roles": [role for role in link.roles.split(",") if role], "expires_at": link.expires_at,
            "max_uses": link.max_uses}


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
    chat = chats.accept_link(outbox(), user, token, body["accepted_rules_version"])
    return chats.view_for(chat, user.id)


# Messages.

@blp.route("/chats/<chat_id>/messages", methods=["POST"])
@idempotent
@blp.arguments(schemas.MessageCreate())
@blp.response(201, schemas.Message)
@blp.doc(security=BEARER)
def post_message(body, chat_id):
    return messages.post(outbox(), current_user(), chat_id, body["text"], body["file_ids"], body["reply_to"])


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
    return messages.edit(outbox(), current_user(), message_id, body["text"])


@blp.route("/messages/<message_id>", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
def delete_message(message_id):
    messages.delete(outbox(), current_user(), message_id)


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
    limit = current_app.config["FILE_MAX_BYTES"]
    return files.upload(storage(), current_user(), upload.filename or "", upload.stream, limit)


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
        "Content-Disposition": files.disposition(stored.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
    })


# Polls.

@blp.route("/chats/<chat_id>/polls", methods=["POST"])
@idempotent
@blp.arguments(schemas.PollCreate())
@blp.response(201, schemas.Poll)
@blp.doc(security=BEARER)
def create_poll(body, chat_id):
    return polls.create(outbox(), current_user(), chat_id, body["question"], body["options"], body["multiple"],
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
    return polls.vote(current_user(), poll_id, body["option_ids"])


@blp.route("/polls/<poll_id>/close", methods=["POST"])
@blp.response(200, schemas.Poll)
@blp.doc(security=BEARER)
def close_poll(poll_id):
    return polls.close(current_user(), poll_id)
