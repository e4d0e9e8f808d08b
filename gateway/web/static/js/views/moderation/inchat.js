// Moderation inside an open chat: a member reports a message; a moderator
// records a violation, removes a message by rule, lets a held message through;
// a blocked member sees until when and why, cannot post, and apologises or
// appeals; members see an apology and may object while its window is open.
// Kept current by the moderation.* frames; read again on stream.resync.
import {formatTime, t} from "../../i18n.js";
import {all, api} from "../../api.js";
import {announce, busy, errorText, h} from "../../dom.js";
import {store} from "../../store.js";
import {apologise, appeal, citedRules, objectTo, recordViolation, removeByRule, reportMessage, ruleText}
  from "./shared.js";
import {mayObject} from "./limits.js";

// The longest a browser timer waits (about 24 days); a later moment is looked at again then.
const MAX_TIMER = 2 ** 31 - 1;

function actionButton(label, onclick, extra = "") {
  return h("button", {type: "button", class: ["link", extra], onclick}, label);
}

export function attachModeration({chat, ctx, tools, notices, setBlocked}) {
  const myId = ctx.myId;
  const moderates = chat.my_role === "moderator";
  const oversees = store.adminOrgs().some((org) => org.org_id === chat.org_id);
  let moderatorIds = new Set();
  let block = null;
  let requests = [];
  let timer = 0;
  let closed = false;

  // The moderators' way to the chat's moderation screen, with its open reports.
  const count = h("span", {class: "badge", hidden: true});
  if ((moderates || oversees) && chat.kind !== "direct") {
    tools.prepend(h("a", {class: "button secondary mod-link", href: `/moderation/chats/${chat.id}`},
      t("mod.chatTools"), " ", count));
  }
  const drawCount = () => {
    const known = store.chats.get(chat.id);
    const open = (known && known.open_reports) || 0;
    count.textContent = open ? String(open) : "";
    count.hidden = !open;
    count.setAttribute("aria-label", t("mod.openReports", {n: open}));
  };
  drawCount();

  const privateBox = h("div", {class: "mod-private"});
  const requestsBox = h("section", {class: "mod-requests", hidden: true, "aria-label": t("mod.requestsTitle")});
  const blockBox = h("section", {class: "mod-block", hidden: true, role: "status"});
  notices.append(privateBox, requestsBox, blockBox);

  function drawBlock() {
    if (!block) {
      blockBox.hidden = true;
      blockBox.replaceChildren();
      setBlocked(null);
      return;
    }
    const mine = requests.find((request) => request.user && request.user.id === myId);
    const now = new Date();
    const again = mine && mine.objections > 0 && now >= new Date(mine.window_ends_at);
    const actions = h("div", {class: "actions"});
    if (!mine || again) {
      actions.append(h("button", {type: "button", class: "secondary", onclick: async () => {
        const opened = await apologise(chat.id);
        if (opened) {
          requests = [opened, ...requests.filter((request) => request.user.id !== myId)];
          drawBlock();
        }
      }}, again ? t("mod.apologiseAgain") : t("mod.apologise")));
    }
    actions.append(h("button", {type: "button", class: "secondary", onclick: () => appeal(block)}, t("mod.appeal")));
    blockBox.replaceChildren(...[h("h3", {}, t("mod.youAreBlocked", {until: formatTime(block.until)})),
      block.rules && block.rules.length ? [h("p", {}, t("mod.blockedFor")), citedRules(block.rules)] : null,
      mine ? h("p", {class: "my-request"}, t("mod.myRequest", {until: formatTime(mine.window_ends_at)}),
        mine.objections ? [" ", t("mod.myRequestObjected", {n: mine.objections})] : "") : null,
      actions].flat().filter(Boolean));
    blockBox.hidden = false;
    setBlocked(t("mod.composerBlocked", {until: formatTime(block.until)}));
  }

  function drawRequests() {
    clearTimeout(timer);
    const now = new Date();
    const shown = requests.filter((request) => request.user && request.user.id !== myId &&
      now < new Date(request.window_ends_at));
    requestsBox.hidden = !shown.length;
    requestsBox.replaceChildren(...shown.map((request) => h("article", {class: "mod-request",
      dataset: {requestId: request.id}},
    h("p", {}, t("mod.requestFrom", {name: request.user.display_name || t("person.noName")})),
    h("blockquote", {class: "quoted"}, request.apology),
    h("p", {class: "muted"}, t("mod.requestWindow", {until: formatTime(request.window_ends_at)}),
      request.objections ? [" ", t("mod.requestObjections", {n: request.objections})] : ""),
    request.objected_by_me ? h("p", {class: "objected"}, t("mod.youObjected"))
      : mayObject(request, myId, now) ? h("button", {type: "button", class: "secondary", onclick: async () => {
        const updated = await objectTo(request);
        if (updated) {
          Object.assign(request, updated, {objected_by_me: true});
          drawRequests();
        }
      }}, t("mod.object")) : null)));
    // A request leaves the banner when its window ends, and the member's own notice changes then.
    const ends = requests.map((request) => new Date(request.window_ends_at) - now).filter((ms) => ms > 0);
    if (ends.length) {
      timer = setTimeout(() => {
        drawRequests();
        drawBlock();
      }, Math.min(Math.min(...ends) + 500, MAX_TIMER));
    }
  }

  async function loadBlock() {
    const mine = await all("/me/blocks", {}, 5);
    if (closed) return;
    block = mine.find((item) => item.chat_id === chat.id && item.status === "active") || null;
    drawBlock();
  }

  async function loadRequests() {
    const open = await all(`/chats/${chat.id}/unblock-requests`, {}, 5);
    if (closed) return;
    requests = open;
    drawRequests();
    drawBlock();
  }

  // Whose messages a moderator acts on: a fellow moderator answers to the school, so theirs are reported.
  async function loadModerators() {
    if (!moderates) return;
    const members = await all(`/chats/${chat.id}/members`);
    if (closed) return;
    moderatorIds = new Set(members.filter((member) => member.role === "moderator").map((member) => member.user_id));
    ctx.redraw();
  }

  function loadAll() {
    const failed = (error) => { if (!closed) announce(errorText(error), "error"); };
    loadBlock().catch(failed);
    loadRequests().catch(failed);
    loadModerators().catch(failed);
  }

  // A decision taken from the chat answers the reports about that message: the button's count follows.
  async function recount() {
    const open = await all(`/chats/${chat.id}/reports`, {status: "open"}, 5);
    if (!closed) store.setOpenReports(chat.id, open.length);
  }
  const thenRecount = (decided) => decided.then((done) => done && recount()).catch(() => {});

  async function release(message) {
    const open = await all(`/chats/${chat.id}/reports`, {status: "open"}, 5);
    const report = open.find((item) => item.message_id === message.id);
    if (!report) {
      announce(t("mod.nothingToRelease"), "error");
      return;
    }
    await api.post(`/reports/${report.id}/resolve`, {action: "dismiss", note: ""});
    announce(t("mod.released"));
    await recount();
  }

  ctx.extraActions = (message) => {
    if (message.kind === "notice" || !message.author) return [];
    const mine = message.author.id === myId;
    if (message.held && moderates && !mine) {
      return [actionButton(t("mod.release"), (event) => busy(event.currentTarget, () => release(message))),
        actionButton(t("mod.removeByRule"), () => thenRecount(removeByRule(message, chat.rules)), "danger-text")];
    }
    if (mine) return [];
    if (moderates && !moderatorIds.has(message.author.id)) {
      return [actionButton(t("mod.recordViolation"),
        () => thenRecount(recordViolation(chat.id, chat.rules, message.author, {messageId: message.id}))),
      actionButton(t("mod.removeByRule"), () => thenRecount(removeByRule(message, chat.rules)), "danger-text")];
    }
    return [actionButton(t("mod.report"), () => reportMessage(message, chat))];
  };
  // Messaging refused a post as blocked: either the block is news to this
  // screen, which shows it now, or it has just ended and messaging lags.
  ctx.lagging = async (error) => {
    if (error.code !== "blocked") return false;
    await loadBlock();
    return !block;
  };

  const offs = [
    store.on("chats", drawCount),
    store.on("moderation.blocked", (data) => {
      if (data.chat_id !== chat.id) return;
      block = data;
      drawBlock();
    }),
    store.on("moderation.unblocked", (data) => {
      if (data.chat_id !== chat.id) return;
      block = null;
      requests = requests.filter((request) => request.user.id !== myId);
      drawBlock();
    }),
    store.on("moderation.unblock_request.opened", (data) => {
      if (data.chat_id !== chat.id) return;
      requests = [{objected_by_me: false, ...data}, ...requests.filter((request) => request.id !== data.id)];
      drawRequests();
    }),
    store.on("moderation.unblock_request.objected", (data) => {
      const request = requests.find((item) => item.id === data.id);
      if (!request) return;
      request.objections = data.objections;
      drawRequests();
      drawBlock();
    }),
    store.on("moderation.violation", (data) => {
      if (data.chat_id !== chat.id) return;
      const note = h("div", {class: "mod-note", role: "alert"},
        h("p", {}, data.message_removed ? t("mod.yourMessageRemoved") : t("mod.yourViolation")),
        h("p", {class: "rule-broken"}, ruleText(data.rule, data.rule_text)),
        h("p", {class: "muted"}, t("mod.onlyYouSee")),
        h("button", {type: "button", class: "link", onclick: () => note.remove()}, t("common.close")));
      privateBox.append(note);
    }),
    store.on("stream.resync", loadAll),
  ];
  loadAll();
  return () => {
    closed = true;
    clearTimeout(timer);
    offs.forEach((off) => off());
  };
}
