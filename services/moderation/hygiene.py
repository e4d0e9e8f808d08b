"""2.9: when an employee leaves the school, or a student does together with
the parents who leave with them, they leave its chats (messaging sees to
that) and their open matters here close: reports they filed or that concern
them, unblock requests, blocks and appeals, each closed in the log."""
from __future__ import annotations

from services.common.service import Service

from . import blocks, log, reports
from .models import Appeal, Block, Chat, ChatMember, Moderator, OrgMember, Report, UnblockRequest


def left_school(service: Service, org_id: str, user_id: str, reason: str) -> None:
    OrgMember.delete().where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).execute()
    chat_ids = Chat.select(Chat.chat_id).where(Chat.org_id == org_id)
    ChatMember.delete().where(ChatMember.user_id == user_id, ChatMember.chat_id.in_(chat_ids)).execute()
    Moderator.delete().where(Moderator.user_id == user_id, Moderator.chat_id.in_(chat_ids)).execute()
    for report in Report.select().where(Report.org_id == org_id, Report.status == "open",
                                        (Report.reporter_id == user_id) | (Report.author_id == user_id)):
        outcome = "reporter_left" if report.reporter_id == user_id else "author_left"
        if reports.close(service, report, "closed", outcome, None, reason):
            log.write(org_id=org_id, chat_id=report.chat_id, action="report_closed", actor_id=None,
                      subject_id=user_id, note=f"{outcome}: {reason}", report_id=report.id)
    for request in UnblockRequest.select().where(UnblockRequest.org_id == org_id, UnblockRequest.user_id == user_id,
                                                 UnblockRequest.status == "open"):
        if blocks.close_request(service, request, "member_left"):
            log.write(org_id=org_id, chat_id=request.chat_id, action="unblock_request_closed", actor_id=None,
                      subject_id=user_id, note=reason, request_id=request.id)
    for appeal in Appeal.select().where(Appeal.org_id == org_id, Appeal.user_id == user_id,
                                        Appeal.status == "open"):
        if Appeal.update(status="closed").where(Appeal.id == appeal.id, Appeal.status == "open").execute():
            log.write(org_id=org_id, chat_id=appeal.chat_id, action="appeal_closed", actor_id=None,
                      subject_id=user_id, note=reason, appeal_id=appeal.id)
    for block in Block.select().where(Block.org_id == org_id, Block.user_id == user_id, Block.status == "active"):
        blocks.end(service, block, "member_left", None, note=reason)
