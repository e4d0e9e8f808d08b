// A chat's moderation, for its moderators: the reports queue, held messages,
// the members with their violations (record one, block), the blocks with the
// members' unblock requests (early unblock), the chat's moderation log; for
// the school's director and admins, the chat's administrators. Live through
// the moderation.* frames, read again on stream.resync.
import {formatTime, t} from "../../i18n.js";
import {all, api} from "../../api.js";
import {announce, busy, checkbox, confirmAction, errorText, field, h} from "../../dom.js";
import {store} from "../../store.js";
import {empty, loading, personName, roleName} from "../common.js";
import {blockMember, citedRules, drawSection, logTable, recordViolation, reportCard, resolveReport, sectionTabs}
  from "./shared.js";
import {whyNotUnblockEarly} from "./limits.js";

const MODERATOR_SECTIONS = ["reports", "held", "members", "blocks", "log"];
const STAFF = ["admin", "director", "deputy", "teacher"];
const MAX_TIMER = 2 ** 31 - 1;

function decider(chat, reload) {
  return async (report, action) => {
    if (await resolveReport(report, chat.rules, action)) await reload();
  };
}

async function reports(view, box, {heldOnly = false} = {}) {
  const {chat} = view;
  const status = h("select", {name: "status"}, h("option", {value: "open"}, t("mod.statusOpen")),
    h("option", {value: "all"}, t("mod.statusAll")));
  const list = h("ul", {class: "reports"});
  const reload = async () => {
    const items = (await all(`/chats/${chat.id}/reports`, {status: status.value}))
      .filter((report) => !heldOnly || report.held);
    if (status.value === "open" && !heldOnly) store.setOpenReports(chat.id, items.length);
    list.replaceChildren(...(items.length ? items.map((report) => reportCard(report, decider(chat, reload)))
      : [h("li", {}, empty(heldOnly ? t("mod.noHeld") : t("mod.noReports")))]));
  };
  status.addEventListener("change", () => reload().catch((error) => announce(errorText(error), "error")));
  const parts = [h("h2", {}, heldOnly ? t("mod.heldTitle") : t("mod.reportsTitle")),
    h("p", {class: "muted"}, heldOnly ? t("mod.heldLead") : t("mod.reportsLead"))];
  if (heldOnly && chat.kind !== "direct") {
    const hold = checkbox(t("mod.holdFlagged"), {checked: Boolean(chat.hold_flagged), name: "hold_flagged"});
    hold.input.addEventListener("change", () => busy(hold.input, async () => {
      try {
        Object.assign(chat, await api.patch(`/chats/${chat.id}`, {hold_flagged: hold.input.checked}));
        announce(chat.hold_flagged ? t("mod.holdOn") : t("mod.holdOff"));
      } catch (error) {
        hold.input.checked = Boolean(chat.hold_flagged);
        throw error;
      }
    }));
    parts.push(hold, h("p", {class: "hint"}, t("mod.holdHint")));
  }
  box.append(h("section", {class: "section"}, ...parts, field(t("mod.show"), status), list));
  await reload();
  view.live("moderation.report.filed", (report) => {
    if (report.chat_id === chat.id) reload().catch(() => {});
  });
  view.live("message.updated", (message) => {
    if (message.chat_id === chat.id) reload().catch(() => {});
  });
  view.reload = reload;
}

async function members(view, box) {
  const {chat} = view;
  const section = h("section", {class: "section"});
  box.append(section);
  const reload = async () => {
    const [people, uncited, blocks] = await Promise.all([all(`/chats/${chat.id}/members`),
      all(`/chats/${chat.id}/violations`, {uncited: true}), all(`/chats/${chat.id}/blocks`, {status: "active"})]);
    const counts = new Map();
    for (const violation of uncited) counts.set(violation.user_id, (counts.get(violation.user_id) || 0) + 1);
    const blocked = new Map(blocks.map((block) => [block.user_id, block]));
    const items = people.map((person) => {
      const moderatesToo = person.role === "moderator";
      const block = blocked.get(person.user_id);
      const actions = h("div", {class: "row"});
      if (!moderatesToo && person.user_id !== view.myId) {
        actions.append(h("button", {type: "button", class: "secondary", onclick: async () => {
          if (await recordViolation(chat.id, chat.rules, person)) await reload();
        }}, t("mod.violationButton")));
        if (!block) {
          actions.append(h("button", {type: "button", class: "danger", onclick: async () => {
            if (await blockMember(chat.id, person)) await reload();
          }}, t("mod.block")));
        }
      }
      return h("li", {class: "member-card", dataset: {userId: person.user_id}},
        h("div", {class: "meta"}, personName(person), moderatesToo ? h("span", {class: "tag"}, t("chat.moderator")) : null),
        moderatesToo ? null : h("p", {}, t("mod.uncited"), " ", h("strong", {class: "uncited"},
          String(counts.get(person.user_id) || 0))),
        block ? h("p", {class: "danger-text"}, t("mod.blockedUntil", {until: formatTime(block.until)})) : null,
        actions.childElementCount ? actions : null);
    });
    section.replaceChildren(h("h2", {}, t("mod.membersTitle")), h("p", {class: "muted"}, t("mod.membersLead")),
      h("ul", {class: "member-cards"}, items));
  };
  await reload();
  view.reload = reload;
}

async function blocks(view, box) {
  const {chat} = view;
  const section = h("section", {class: "section"});
  box.append(section);
  let timer = 0;
  const reload = async () => {
    clearTimeout(timer);
    const [active, requests, people] = await Promise.all([all(`/chats/${chat.id}/blocks`, {status: "active"}),
      all(`/chats/${chat.id}/unblock-requests`), all(`/chats/${chat.id}/members`)]);
    const names = new Map(people.map((person) => [person.user_id, person]));
    const now = new Date();
    const cards = active.map((block) => {
      const request = requests.find((item) => item.block_id === block.id);
      const refusal = whyNotUnblockEarly(request, now);
      const alert = h("p", {class: "field-error", role: "alert", hidden: true});
      const unblock = h("button", {type: "button", class: "primary", onclick: async () => {
        alert.hidden = true;
        unblock.disabled = true;
        try {
          await api.del(`/chats/${chat.id}/blocks/${block.user_id}`);
          announce(t("mod.unblocked"));
          await reload();
        } catch (error) {
          alert.textContent = errorText(error);
          alert.hidden = false;
          unblock.disabled = false;
        }
      }}, t("mod.unblockEarly"));
      return h("li", {class: "block-card", dataset: {userId: block.user_id, blockId: block.id}},
        h("h3", {}, personName(names.get(block.user_id) || {display_name: ""})),
        h("p", {}, t("mod.blockedUntil", {until: formatTime(block.until)})),
        citedRules(block.rules), block.note ? h("p", {class: "muted"}, block.note) : null,
        request ? h("div", {class: "unblock-request"},
          h("p", {}, t("mod.apologySaid")), h("blockquote", {class: "quoted"}, request.apology),
          h("p", {class: "request-state"}, refusal ? t(`mod.unblockState.${refusal.code}`,
            {until: formatTime(request.window_ends_at), n: request.objections}) : t("mod.unblockState.ready")),
          h("div", {class: "actions"}, unblock), alert)
          : h("p", {class: "muted"}, t("mod.noRequest")));
    });
    section.replaceChildren(h("h2", {}, t("mod.blocksTitle")), h("p", {class: "muted"}, t("mod.blocksLead")),
      cards.length ? h("ul", {class: "block-cards"}, cards) : empty(t("mod.noBlocks")));
    // When a window ends, the card says the moderator may now decide.
    const ends = requests.map((request) => new Date(request.window_ends_at) - now).filter((ms) => ms > 0);
    if (ends.length) timer = setTimeout(() => reload().catch(() => {}), Math.min(Math.min(...ends) + 500, MAX_TIMER));
  };
  await reload();
  const again = () => reload().catch(() => {});
  view.live("moderation.unblock_request.opened", (data) => { if (data.chat_id === chat.id) again(); });
  view.live("moderation.unblock_request.objected", (data) => { if (data.chat_id === chat.id) again(); });
  view.undo(() => clearTimeout(timer));
  view.reload = reload;
}

async function log(view, box) {
  const {chat} = view;
  const holder = h("div", {});
  const more = h("button", {type: "button", class: "secondary", hidden: true}, t("mod.more"));
  box.append(h("section", {class: "section"}, h("h2", {}, t("mod.logTitle")),
    h("p", {class: "muted"}, t("mod.chatLogLead")), holder, more));
  let entries = [];
  let cursor = null;
  const page = async (fresh) => {
    const answer = await api.get(`/chats/${chat.id}/moderation-log`, {limit: 50, cursor: fresh ? null : cursor});
    entries = fresh ? answer.items : entries.concat(answer.items);
    cursor = answer.next_cursor;
    holder.replaceChildren(entries.length ? logTable(entries) : empty(t("mod.logEmpty")));
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => busy(more, () => page(false)));
  await page(true);
  view.reload = () => page(true);
}

async function admins(view, box) {
  const {chat} = view;
  const section = h("section", {class: "section"});
  box.append(section);
  const reload = async () => {
    const [people, staff] = await Promise.all([all(`/chats/${chat.id}/members`), all(`/orgs/${chat.org_id}/members`)]);
    const moderators = people.filter((person) => person.role === "moderator");
    const taken = new Set(moderators.map((person) => person.user_id));
    const candidates = staff.filter((member) => !taken.has(member.user_id) &&
      member.roles.some((role) => STAFF.includes(role)));
    const choose = h("select", {name: "user_id", required: true}, h("option", {value: ""}, t("mod.chooseTeacher")),
      candidates.map((member) => h("option", {value: member.user_id}, `${member.display_name || t("person.noName")} — ${
        member.roles.map(roleName).join(", ")}`)));
    const alert = h("p", {class: "field-error", role: "alert", hidden: true});
    const appoint = h("form", {class: "form", onsubmit: async (event) => {
      event.preventDefault();
      alert.hidden = true;
      if (!choose.value) return;
      try {
        const answer = await api.post(`/chats/${chat.id}/moderators`, {user_id: choose.value});
        announce(answer.status === "invited" ? t("mod.adminInvited") : t("mod.adminAppointed"));
        await reload();
      } catch (error) {
        alert.textContent = errorText(error);
        alert.hidden = false;
      }
    }}, field(t("mod.appointWho"), choose, t("mod.appointHint")), alert,
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("mod.appoint"))));
    const rows = moderators.map((person) => h("li", {class: "member", dataset: {userId: person.user_id}},
      personName(person), h("button", {type: "button", class: "link danger-text", onclick: async (event) => {
        if (!await confirmAction(t("mod.dismissTitle"), t("mod.dismissConfirm", {name: person.display_name}),
          t("mod.dismissAdmin"))) return;
        await busy(event.currentTarget, async () => {
          try {
            await api.del(`/chats/${chat.id}/moderators/${person.user_id}`);
            announce(t("mod.adminDismissed"));
          } catch (error) {
            // Whoever made the chat, heads its class or administers the school moderates it by office.
            if (error.status !== 404) throw error;
            announce(t("mod.moderatesByOffice"), "error");
          }
          await reload();
        });
      }}, t("mod.dismissAdmin"))));
    section.replaceChildren(h("h2", {}, t("mod.adminsTitle")), h("p", {class: "muted"}, t("mod.adminsLead")),
      rows.length ? h("ul", {class: "members"}, rows) : empty(t("mod.noAdmins")), h("h3", {}, t("mod.appointTitle")),
      appoint);
  };
  await reload();
  view.reload = reload;
}

const DRAW = {reports, held: (view, box) => reports(view, box, {heldOnly: true}), members, blocks, log, admins};

export async function chatModerationPage({chatId, section}, main) {
  document.title = t("mod.title");
  main.append(loading());
  let chat;
  try {
    chat = await api.get(`/chats/${chatId}`);
  } catch (error) {
    main.replaceChildren(h("h1", {}, t("mod.title")), h("p", {class: "error", role: "alert"},
      error.status === 404 ? t("chat.notFound") : errorText(error)));
    return null;
  }
  const moderates = chat.my_role === "moderator";
  const oversees = store.adminOrgs().some((org) => org.org_id === chat.org_id);
  const allowed = [...(moderates ? MODERATOR_SECTIONS : []), ...(oversees && chat.kind !== "direct" ? ["admins"] : [])];
  if (!allowed.length) {
    main.replaceChildren(h("h1", {}, t("mod.title")), h("p", {}, t("mod.notModerator")),
      h("a", {href: `/chats/${chat.id}`}, t("mod.backToChat")));
    return null;
  }
  const shown = allowed.includes(section) ? section : allowed[0];
  const offs = [];
  const view = {
    chat, myId: store.me && store.me.id, reload: async () => {},
    live: (type, fn) => offs.push(store.on(type, fn)),
    undo: (fn) => offs.push(fn),
  };
  const box = h("div", {class: "mod-section"}, loading());
  const tools = h("div", {class: "row"});
  if (moderates && !chat.archived) {
    tools.append(h("button", {type: "button", class: "secondary", onclick: async (event) => {
      if (!await confirmAction(t("mod.remindTitle"), t("mod.remindConfirm"), t("mod.remind"))) return;
      await busy(event.currentTarget, async () => {
        await api.post(`/chats/${chat.id}/reminders`);
        announce(t("mod.reminded"));
      });
    }}, t("mod.remind")));
  }
  main.replaceChildren(h("h1", {}, t("mod.chatHeading", {title: chat.title})),
    h("p", {}, h("a", {href: `/chats/${chat.id}`}, t("mod.backToChat"))), tools,
    sectionTabs(allowed, shown, (name) => `/moderation/chats/${chat.id}/${name}`, (name) => t(`mod.tab.${name}`)),
    box);
  return drawSection(DRAW[shown], view, box, offs);
}
