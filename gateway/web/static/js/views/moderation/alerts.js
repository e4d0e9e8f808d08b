// What moderation tells a person wherever they are in the client: the
// outcome of their report, a rule they broke, a block and its end, the
// school's decision on their appeal. The open screens show the details.
import {formatTime, t} from "../../i18n.js";
import {announce} from "../../dom.js";
import {store} from "../../store.js";

function titleOf(chatId, fallback) {
  const chat = store.chats.get(chatId);
  return (chat && chat.title) || fallback || t("mod.someChat");
}

export function moderationAlerts() {
  const offs = [
    store.on("moderation.report.resolved", (report) => {
      announce(t(`mod.myOutcome.${report.outcome}`));
    }),
    store.on("moderation.violation", (violation) => {
      announce(t("mod.alertViolation", {chat: titleOf(violation.chat_id, violation.chat_title), n: violation.rule}),
        "error");
    }),
    store.on("moderation.blocked", (block) => {
      announce(t("mod.alertBlocked", {chat: titleOf(block.chat_id, block.chat_title), until: formatTime(block.until)}),
        "error");
    }),
    store.on("moderation.unblocked", (data) => {
      announce(t("mod.alertUnblocked", {chat: titleOf(data.chat_id)}));
    }),
    store.on("moderation.appeal.decided", (appeal) => {
      announce(t(`mod.appealStatus.${appeal.status}`));
    }),
  ];
  return () => offs.forEach((off) => off());
}
