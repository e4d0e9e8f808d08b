// The school's oversight of moderation, for its admins and director: the
// moderation log filtered by period and moderator (and as a CSV file), the
// appeals against blocks with their decisions (2.8), and the reports that are
// the school's to decide (about moderators' own messages, direct chats).
import {formatTime, t} from "../../i18n.js";
import {all, api, download} from "../../api.js";
import {announce, busy, errorText, field, formDialog, h} from "../../dom.js";
import {navigate} from "../../router.js";
import {store} from "../../store.js";
import {empty, loading, personName} from "../common.js";
import {citedRules, drawSection, logTable, reportCard, resolveReport, sectionTabs} from "./shared.js";

const SECTIONS = ["log", "appeals", "reports"];
const STAFF = ["admin", "director", "deputy", "teacher"];
const DAY = 86400000;

// The log's filter from the page's address, so that a filtered log can be reloaded and shared.
export function logQuery(search) {
  const params = new URLSearchParams(search);
  const query = {};
  const from = params.get("from");
  const to = params.get("to");
  // Days are the browser's local days: from the start of `from` to the end of `to`.
  if (from) query.from = new Date(`${from}T00:00`).toISOString();
  if (to) query.to = new Date(new Date(`${to}T00:00`).getTime() + DAY).toISOString();
  if (params.get("moderator")) query.moderator_id = params.get("moderator");
  return query;
}

async function logSection(view, box) {
  const {org} = view;
  const params = new URLSearchParams(location.search);
  const staff = (await all(`/orgs/${org.org_id}/members`)).filter((member) =>
    member.roles.some((role) => STAFF.includes(role)));
  const from = h("input", {type: "date", name: "from", value: params.get("from") || ""});
  const to = h("input", {type: "date", name: "to", value: params.get("to") || ""});
  const moderator = h("select", {name: "moderator_id"}, h("option", {value: ""}, t("mod.anyModerator")),
    staff.map((member) => h("option", {value: member.user_id, selected: member.user_id === params.get("moderator")},
      member.display_name || t("person.noName"))));
  const fromField = field(t("mod.from"), from);
  const toField = field(t("mod.to"), to, t("mod.toHint"));
  const filter = h("form", {class: "section filters", "aria-label": t("mod.filters"), onsubmit: (event) => {
    event.preventDefault();
    toField.setError("");
    if (from.value && to.value && from.value > to.value) {
      toField.setError(t("mod.toBeforeFrom"));
      return;
    }
    const next = new URLSearchParams();
    if (from.value) next.set("from", from.value);
    if (to.value) next.set("to", to.value);
    if (moderator.value) next.set("moderator", moderator.value);
    const text = next.toString();
    navigate(`/moderation/schools/${org.org_id}/log${text ? `?${text}` : ""}`);
  }},
  h("div", {class: "grid-form"}, fromField, toField, field(t("mod.moderator"), moderator)),
  h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, t("mod.applyFilter")),
    params.toString() ? h("a", {class: "button secondary", href: `/moderation/schools/${org.org_id}/log`},
      t("mod.resetFilter")) : null));
  const query = logQuery(location.search);
  const csv = h("button", {type: "button", class: "secondary", onclick: (event) => busy(event.currentTarget, () =>
    download(`/orgs/${org.org_id}/moderation-log?${new URLSearchParams({...query, format: "csv"})}`,
      `moderation-log-${params.get("from") || "all"}-${params.get("to") || "now"}.csv`))}, t("mod.downloadCsv"));
  const holder = h("div", {});
  const more = h("button", {type: "button", class: "secondary", hidden: true}, t("mod.more"));
  box.append(filter, h("section", {class: "section"}, h("div", {class: "row side-head"},
    h("h2", {}, t("mod.logTitle")), csv), h("p", {class: "muted"}, t("mod.schoolLogLead")), holder, more));
  let entries = [];
  let cursor = null;
  const page = async (fresh) => {
    const answer = await api.get(`/orgs/${org.org_id}/moderation-log`, {...query, limit: 50,
      cursor: fresh ? null : cursor});
    entries = fresh ? answer.items : entries.concat(answer.items);
    cursor = answer.next_cursor;
    holder.replaceChildren(entries.length ? logTable(entries, {showChat: true}) : empty(t("mod.logEmpty")));
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => busy(more, () => page(false)));
  await page(true);
  view.reload = () => page(true);
}

async function decideAppeal(appeal, lift) {
  const note = h("textarea", {name: "note", rows: 3, maxlength: 1000, required: true});
  const decided = await formDialog(lift ? t("mod.liftTitle") : t("mod.upholdTitle"), [
    h("p", {class: "muted"}, lift ? t("mod.liftLead") : t("mod.upholdLead")), field(t("mod.decisionNote"), note)], {
    submitLabel: lift ? t("mod.lift") : t("mod.uphold"), submitKind: lift ? "primary" : "secondary",
    check: () => (note.value.trim() ? null : t("mod.decisionNoteNeeded")),
    submit: () => api.post(`/appeals/${appeal.id}/decision`, {lift, note: note.value.trim()}),
  });
  if (decided) announce(lift ? t("mod.lifted") : t("mod.upheld"));
  return decided;
}

async function appeals(view, box) {
  const {org} = view;
  const status = h("select", {name: "status"}, h("option", {value: "open"}, t("mod.statusOpen")),
    h("option", {value: "all"}, t("mod.statusAll")));
  const list = h("ul", {class: "appeals"});
  const reload = async () => {
    const items = await all(`/orgs/${org.org_id}/appeals`, {status: status.value});
    list.replaceChildren(...(items.length ? items.map((item) => {
      const block = item.block || {};
      const decide = (lift) => async () => {
        if (await decideAppeal(item, lift)) await reload();
      };
      return h("li", {class: "appeal", dataset: {appealId: item.id}},
        h("div", {class: "meta"}, personName(item.user, {badge: false}),
          h("time", {datetime: item.created_at}, formatTime(item.created_at)),
          block.chat_title ? h("span", {class: "tag"}, block.chat_title) : null),
        h("p", {}, t("mod.blockedUntil", {until: formatTime(block.until)})), citedRules(block.rules),
        h("blockquote", {class: "quoted"}, item.text),
        item.status === "open" ? h("div", {class: "actions"},
          h("button", {type: "button", class: "primary", onclick: decide(true)}, t("mod.lift")),
          h("button", {type: "button", class: "secondary", onclick: decide(false)}, t("mod.uphold")))
          : h("p", {class: "outcome"}, t(`mod.appealStatus.${item.status}`), item.note ? ` — ${item.note}` : ""));
    }) : [h("li", {}, empty(t("mod.noAppeals")))]));
  };
  status.addEventListener("change", () => reload().catch((error) => announce(errorText(error), "error")));
  box.append(h("section", {class: "section"}, h("h2", {}, t("mod.appealsTitle")),
    h("p", {class: "muted"}, t("mod.appealsLead")), field(t("mod.show"), status), list));
  await reload();
  view.live("moderation.appeal.filed", (appeal) => {
    if (appeal.org_id === org.org_id) reload().catch(() => {});
  });
  view.reload = reload;
}

async function reports(view, box) {
  const {org} = view;
  const status = h("select", {name: "status"}, h("option", {value: "open"}, t("mod.statusOpen")),
    h("option", {value: "all"}, t("mod.statusAll")));
  const list = h("ul", {class: "reports"});
  const reload = async () => {
    const items = await all(`/orgs/${org.org_id}/reports`, {status: status.value});
    // The school cites rules by number: its admins may not be in the chat to read them.
    const decide = async (report, action) => {
      if (await resolveReport(report, null, action)) await reload();
    };
    list.replaceChildren(...(items.length ? items.map((report) => reportCard(report, decide, {showChat: true}))
      : [h("li", {}, empty(t("mod.noReports")))]));
  };
  status.addEventListener("change", () => reload().catch((error) => announce(errorText(error), "error")));
  box.append(h("section", {class: "section"}, h("h2", {}, t("mod.schoolReportsTitle")),
    h("p", {class: "muted"}, t("mod.schoolReportsLead")), field(t("mod.show"), status), list));
  await reload();
  view.reload = reload;
}

const DRAW = {log: logSection, appeals, reports};

export async function schoolModerationPage({orgId, section}, main) {
  document.title = t("mod.schoolTitle");
  const orgs = store.adminOrgs();
  const org = orgs.find((item) => item.org_id === orgId);
  if (!org) {
    main.append(h("h1", {}, t("mod.schoolTitle")), h("p", {}, t("mod.notOverseer")));
    return null;
  }
  const shown = SECTIONS.includes(section) ? section : "log";
  const offs = [];
  const view = {org, reload: async () => {}, live: (type, fn) => offs.push(store.on(type, fn))};
  const box = h("div", {class: "mod-section"}, loading());
  main.append(h("h1", {}, t("mod.schoolHeading", {org: org.name})),
    sectionTabs(SECTIONS, shown, (name) => `/moderation/schools/${org.org_id}/${name}`,
      (name) => t(`mod.schoolTab.${name}`)), box);
  return drawSection(DRAW[shown], view, box, offs);
}
