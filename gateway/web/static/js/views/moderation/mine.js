// Moderation as it concerns me: the chats I moderate with their open reports,
// the schools whose moderation I oversee, the outcome of the reports I filed,
// the rules I was found to break (told to me alone), my blocks with an appeal
// to the school. Live through the moderation.* frames meant for me.
import {formatTime, t} from "../../i18n.js";
import {all} from "../../api.js";
import {errorText, h} from "../../dom.js";
import {store} from "../../store.js";
import {empty, loading} from "../common.js";
import {appeal, citedRules, ruleText} from "./shared.js";

function chatTitle(chatId, fallback) {
  const chat = store.chats.get(chatId);
  return (chat && chat.title) || fallback || t("mod.someChat");
}

function moderatedChats() {
  const chats = store.sortedChats().filter((chat) => chat.my_role === "moderator" && chat.kind !== "direct");
  if (!chats.length) return null;
  return h("section", {class: "section", "aria-labelledby": "mod-chats-h"},
    h("h2", {id: "mod-chats-h"}, t("mod.myChatsTitle")),
    h("ul", {class: "link-list"}, chats.map((chat) => h("li", {}, h("a", {href: `/moderation/chats/${chat.id}`,
      dataset: {chatId: chat.id}}, chat.title, chat.open_reports ? h("span", {class: "badge",
      "aria-label": t("mod.openReports", {n: chat.open_reports})}, ` ${chat.open_reports}`) : null)))));
}

function overseenSchools() {
  const orgs = store.adminOrgs();
  if (!orgs.length) return null;
  return h("section", {class: "section", "aria-labelledby": "mod-orgs-h"}, h("h2", {id: "mod-orgs-h"},
    t("mod.schoolsTitle")), orgs.map((org) => h("p", {}, h("strong", {}, org.name), " · ",
    h("a", {href: `/moderation/schools/${org.org_id}/log`}, t("mod.schoolTab.log")), " · ",
    h("a", {href: `/moderation/schools/${org.org_id}/appeals`}, t("mod.schoolTab.appeals")), " · ",
    h("a", {href: `/moderation/schools/${org.org_id}/reports`}, t("mod.schoolTab.reports")))));
}

async function myReports(list) {
  const items = await all("/me/reports", {status: "all"}, 5);
  list.replaceChildren(...(items.length ? items.map((report) => h("li", {class: "my-report",
    dataset: {reportId: report.id}},
  h("div", {class: "meta"}, h("span", {}, chatTitle(report.chat_id)),
    h("time", {datetime: report.created_at}, formatTime(report.created_at))),
  h("p", {}, report.reason),
  h("p", {class: "outcome"}, report.status === "open" ? t("mod.reportWaiting")
    : t(`mod.myOutcome.${report.outcome}`)))) : [h("li", {}, empty(t("mod.noMyReports")))]));
}

async function myViolations(list) {
  const items = await all("/me/violations", {}, 5);
  list.replaceChildren(...(items.length ? items.map((violation) => h("li", {class: "my-violation"},
    h("div", {class: "meta"}, h("span", {}, chatTitle(violation.chat_id, violation.chat_title)),
      h("time", {datetime: violation.created_at}, formatTime(violation.created_at))),
    h("p", {}, ruleText(violation.rule, violation.rule_text)),
    violation.voided ? h("p", {class: "muted"}, t("mod.voided")) : null))
    : [h("li", {}, empty(t("mod.noViolations")))]));
}

async function myBlocks(list) {
  const items = await all("/me/blocks", {}, 5);
  list.replaceChildren(...(items.length ? items.map((block) => h("li", {class: "my-block",
    dataset: {blockId: block.id}},
  h("div", {class: "meta"}, h("a", {href: `/chats/${block.chat_id}`}, chatTitle(block.chat_id, block.chat_title))),
  block.status === "active" ? h("p", {}, t("mod.blockedUntil", {until: formatTime(block.until)}))
    : h("p", {class: "muted"}, t(`mod.blockEnded.${block.end_reason}`, {at: formatTime(block.ended_at)})),
  citedRules(block.rules),
  block.status === "active" ? h("div", {class: "actions"},
    h("button", {type: "button", class: "secondary", onclick: () => appeal(block)}, t("mod.appeal"))) : null))
    : [h("li", {}, empty(t("mod.noBlocks")))]));
}

export async function myModerationPage(_params, main) {
  document.title = t("mod.myTitle");
  const reports = h("ul", {class: "plain-list"}, h("li", {}, loading()));
  const violations = h("ul", {class: "plain-list"}, h("li", {}, loading()));
  const blocks = h("ul", {class: "plain-list"}, h("li", {}, loading()));
  const chats = h("div", {});
  const drawChats = () => chats.replaceChildren(moderatedChats() || "");
  drawChats();
  main.append(h("h1", {}, t("mod.myTitle")), chats, overseenSchools() || "",
    h("section", {class: "section", "aria-labelledby": "my-reports-h"}, h("h2", {id: "my-reports-h"},
      t("mod.myReportsTitle")), h("p", {class: "muted"}, t("mod.myReportsLead")), reports),
    h("section", {class: "section", "aria-labelledby": "my-violations-h"}, h("h2", {id: "my-violations-h"},
      t("mod.myViolationsTitle")), h("p", {class: "muted"}, t("mod.myViolationsLead")), violations),
    h("section", {class: "section", "aria-labelledby": "my-blocks-h"}, h("h2", {id: "my-blocks-h"},
      t("mod.myBlocksTitle")), blocks));
  const load = (loader, list) => loader(list).catch((error) => list.replaceChildren(h("li", {class: "error"},
    errorText(error))));
  const loadAll = () => Promise.all([load(myReports, reports), load(myViolations, violations),
    load(myBlocks, blocks)]);
  await loadAll();
  const offs = [
    store.on("chats", drawChats),
    store.on("moderation.report.resolved", () => load(myReports, reports)),
    store.on("moderation.violation", () => load(myViolations, violations)),
    store.on("moderation.blocked", () => load(myBlocks, blocks)),
    store.on("moderation.unblocked", () => load(myBlocks, blocks)),
    store.on("moderation.appeal.decided", () => load(myBlocks, blocks)),
    store.on("stream.resync", loadAll),
  ];
  return () => offs.forEach((off) => off());
}
