// What the moderation screens share: rules to cite, the forms that report,
// record, remove, block, apologise, object and appeal, a report's card and
// the moderation log. Every form cites a rule of the chat (2.8) and shows the
// server's refusal in place.
import {formatDate, formatTime, t} from "../../i18n.js";
import {all, api} from "../../api.js";
import {announce, checkbox, errorText, field, formDialog, h, uid} from "../../dom.js";
import {personName} from "../common.js";
import {fromLocalInput, latestUntil, toLocalInput, VIOLATIONS_BEFORE_A_BLOCK, whyNotBlock} from "./limits.js";

export function ruleText(number, text) {
  return text ? t("mod.rule", {n: number, text}) : t("mod.ruleNumber", {n: number});
}

export function citedRules(rules) {
  if (!rules || !rules.length) return null;
  return h("ul", {class: "cited-rules"}, rules.map((rule) => h("li", {}, ruleText(rule.number, rule.text))));
}

// The chat's rules to choose from; where they are not known (a school's
// queue), the rule's number.
export function ruleControl(rules, {optional = false, selected = null} = {}) {
  if (!rules) {
    return h("input", {type: "number", name: "rule", min: 1, max: 100, required: !optional,
      value: selected ? String(selected) : ""});
  }
  const options = optional ? [h("option", {value: ""}, t("mod.ruleNotNamed"))] : [];
  rules.forEach((text, index) => options.push(h("option", {value: String(index + 1), selected: selected === index + 1},
    `${index + 1}. ${text}`)));
  return h("select", {name: "rule", required: !optional}, options);
}

function ruleOf(control) {
  return control.value ? Number(control.value) : null;
}

function noteField(label = t("mod.note"), hint = t("mod.noteHint")) {
  const note = h("textarea", {name: "note", rows: 2, maxlength: 1000});
  return {note, wrap: field(label, note, hint)};
}

function quote(text) {
  return h("blockquote", {class: "quoted"}, text.length > 300 ? `${text.slice(0, 300)}…` : text);
}

const needsRules = (rules) => (rules && !rules.length ? t("mod.noRules") : null);

// A member reports a message of their chat (rules 2.2, 2.8): only the chat's
// moderators (or the school, when the author moderates it) see who reported.
export async function reportMessage(message, chat) {
  const rule = ruleControl(chat.rules, {optional: true});
  const reason = h("textarea", {name: "reason", rows: 3, maxlength: 2000, required: true});
  const filed = await formDialog(t("mod.reportTitle"), [quote(message.text || ""),
    h("p", {class: "muted"}, t("mod.reportLead")),
    chat.rules.length ? field(t("mod.reportRule"), rule, t("mod.reportRuleHint")) : null,
    field(t("mod.reportReason"), reason)], {
    submitLabel: t("mod.reportSend"),
    check: () => (reason.value.trim() ? null : t("mod.reasonNeeded")),
    submit: () => api.create("/reports", {message_id: message.id, rule: ruleOf(rule), reason: reason.value.trim()}),
  });
  if (filed) announce(t("mod.reported"));
  return filed;
}

// A moderator removes a message for the rule it breaks: a violation by its author.
export async function removeByRule(message, rules, {selected = null} = {}) {
  const rule = ruleControl(rules, {selected});
  const {note, wrap} = noteField();
  const removed = await formDialog(t("mod.removeTitle"), [quote(message.text || message.excerpt || ""),
    h("p", {class: "muted"}, t("mod.removeLead")), field(t("mod.ruleBroken"), rule), wrap], {
    submitLabel: t("mod.removeSend"), submitKind: "danger",
    check: () => needsRules(rules) || (ruleOf(rule) ? null : t("mod.ruleNeeded")),
    submit: () => api.create(`/messages/${message.id}/removal`, {rule: ruleOf(rule), note: note.value.trim()}),
  });
  if (removed) announce(t("mod.removed"));
  return removed;
}

// A moderator records that a member broke a rule (2.5: the chat is reminded of its rules).
export async function recordViolation(chatId, rules, person, {messageId = null, selected = null} = {}) {
  const rule = ruleControl(rules, {selected});
  const {note, wrap} = noteField();
  const recorded = await formDialog(t("mod.violationTitle", {name: person.display_name || t("person.noName")}), [
    h("p", {class: "muted"}, t("mod.violationLead")), field(t("mod.ruleBroken"), rule), wrap], {
    submitLabel: t("mod.violationSend"),
    check: () => needsRules(rules) || (ruleOf(rule) ? null : t("mod.ruleNeeded")),
    submit: () => api.create(`/chats/${chatId}/violations`, {user_id: person.user_id || person.id,
      rule: ruleOf(rule), message_id: messageId, note: note.value.trim()}),
  });
  if (recorded) announce(t("mod.violationRecorded"));
  return recorded;
}

// A block (2.6): the form lists the member's violations no block cited yet,
// refuses fewer than four and an end later than a month ahead; the server
// decides and its refusal is shown in the form.
export async function blockMember(chatId, person) {
  const userId = person.user_id || person.id;
  const uncited = await all(`/chats/${chatId}/violations`, {user_id: userId, uncited: true});
  const boxes = uncited.map((violation) => checkbox(
    [ruleText(violation.rule, violation.rule_text), " · ", formatTime(violation.created_at),
      violation.note ? ` — ${violation.note}` : ""],
    {name: "violation_ids", value: violation.id, checked: true}));
  const count = h("p", {class: "hint count", "aria-live": "polite"});
  const chosen = () => boxes.filter((box) => box.input.checked).map((box) => box.input.value);
  const recount = () => {
    const n = chosen().length;
    count.textContent = t("mod.blockChosen", {n, total: uncited.length});
    count.classList.toggle("short", n <= VIOLATIONS_BEFORE_A_BLOCK);
  };
  boxes.forEach((box) => box.input.addEventListener("change", recount));
  recount();
  const legendId = uid("lg");
  const violationsError = h("p", {class: "field-error", hidden: true});
  const violations = h("fieldset", {class: "field violations", "aria-describedby": legendId},
    h("legend", {}, t("mod.blockViolations")),
    h("p", {class: "hint", id: legendId}, t("mod.blockRule", {n: VIOLATIONS_BEFORE_A_BLOCK + 1})),
    boxes.length ? boxes : h("p", {class: "muted"}, t("mod.noUncited")), count, violationsError);
  violations.setError = (message) => {
    violationsError.textContent = message || "";
    violationsError.hidden = !message;
  };
  const now = new Date();
  const latest = latestUntil(now);
  const until = h("input", {type: "datetime-local", name: "until", required: true, min: toLocalInput(now),
    max: toLocalInput(latest), value: toLocalInput(new Date(now.getTime() + 7 * 86400000))});
  const preset = (label, moment) => h("button", {type: "button", class: "link", onclick: () => {
    until.value = toLocalInput(moment());
    until.dispatchEvent(new Event("input"));
  }}, label);
  const untilField = field(t("mod.blockUntil"), until, t("mod.blockUntilHint", {latest: formatTime(latest.toISOString())}));
  const presets = h("div", {class: "row presets", role: "group", "aria-label": t("mod.blockPresets")},
    preset(t("mod.blockDay"), () => new Date(Date.now() + 86400000)),
    preset(t("mod.blockWeek"), () => new Date(Date.now() + 7 * 86400000)),
    preset(t("mod.blockMonth"), () => latestUntil(new Date())));
  const {note, wrap} = noteField();
  const blocked = await formDialog(t("mod.blockTitle", {name: person.display_name || t("person.noName")}), [
    h("p", {class: "muted"}, t("mod.blockLead")), violations, untilField, presets, wrap], {
    submitLabel: t("mod.blockSend"), submitKind: "danger",
    check: () => {
      const refusal = whyNotBlock(chosen().length, fromLocalInput(until.value), new Date());
      if (!refusal) return null;
      if (refusal.field === "violation_ids") violations.setError(t("mod.refusal.not_enough_violations"));
      else untilField.setError(t(`mod.refusal.${refusal.code}`));
      return t(`mod.refusal.${refusal.code}`);
    },
    submit: () => api.create(`/chats/${chatId}/blocks`, {user_id: userId,
      until: fromLocalInput(until.value).toISOString(), violation_ids: chosen(), note: note.value.trim()}),
  });
  if (blocked) announce(t("mod.blocked", {until: formatTime(blocked.until)}));
  return blocked;
}

// 2.7: the blocked member apologises to the chat and asks to be unblocked early.
export async function apologise(chatId) {
  const apology = h("textarea", {name: "apology", rows: 4, maxlength: 2000, required: true});
  const opened = await formDialog(t("mod.apologyTitle"), [h("p", {class: "muted"}, t("mod.apologyLead")),
    field(t("mod.apology"), apology)], {
    submitLabel: t("mod.apologySend"),
    check: () => (apology.value.trim() ? null : t("mod.apologyNeeded")),
    submit: () => api.create(`/chats/${chatId}/unblock-requests`, {apology: apology.value.trim()}),
  });
  if (opened) announce(t("mod.apologySent"));
  return opened;
}

export async function objectTo(request) {
  const reason = h("textarea", {name: "reason", rows: 3, maxlength: 1000});
  const objected = await formDialog(t("mod.objectTitle", {name: request.user.display_name || t("person.noName")}), [
    quote(request.apology), h("p", {class: "muted"}, t("mod.objectLead")),
    field(t("mod.objectReason"), reason, t("mod.objectReasonHint"))], {
    submitLabel: t("mod.objectSend"),
    submit: () => api.create(`/unblock-requests/${request.id}/objections`, {reason: reason.value.trim()}),
  });
  if (objected) announce(t("mod.objected"));
  return objected;
}

// 2.8: a member who believes the block was not for breaking the rules asks the school.
export async function appeal(block) {
  const text = h("textarea", {name: "text", rows: 5, maxlength: 4000, required: true});
  const filed = await formDialog(t("mod.appealTitle"), [h("p", {class: "muted"}, t("mod.appealLead")),
    field(t("mod.appealText"), text)], {
    submitLabel: t("mod.appealSend"),
    check: () => (text.value.trim() ? null : t("mod.appealNeeded")),
    submit: () => api.create(`/blocks/${block.id}/appeals`, {text: text.value.trim()}),
  });
  if (filed) announce(t("mod.appealSent"));
  return filed;
}

// A moderator's (or the school's) decision on a report.
export async function resolveReport(report, rules, action) {
  const rule = ruleControl(rules, {selected: report.rule});
  const {note, wrap} = noteField();
  const citing = action !== "dismiss";
  const decided = await formDialog(t(`mod.resolve.${action}`), [quote(report.excerpt || ""),
    h("p", {class: "muted"}, t(`mod.resolveLead.${action}`)), citing ? field(t("mod.ruleBroken"), rule) : null, wrap], {
    submitLabel: t(`mod.resolveSend.${action}`), submitKind: action === "removal" ? "danger" : "primary",
    check: () => (citing ? needsRules(rules) || (ruleOf(rule) ? null : t("mod.ruleNeeded")) : null),
    submit: () => api.post(`/reports/${report.id}/resolve`, {action, rule: citing ? ruleOf(rule) : null,
      note: note.value.trim()}),
  });
  if (decided) announce(t(`mod.resolved.${action}`));
  return decided;
}

function flagsText(flags) {
  return Object.keys(flags || {}).map((name) => t(`mod.flag.${name}`)).join(", ");
}

// One report as its deciders see it; `decide(report, action)` is theirs to wire.
export function reportCard(report, decide, {showChat = false} = {}) {
  const open = report.status === "open";
  const from = report.source === "filter"
    ? h("span", {}, t("mod.byFilter", {flags: flagsText(report.flags)}))
    : h("span", {}, t("mod.byMember"), " ", personName(report.reporter, {badge: false}));
  const actions = open ? h("div", {class: "actions"},
    h("button", {type: "button", class: "secondary", onclick: () => decide(report, "dismiss")},
      report.held ? t("mod.release") : t("mod.dismiss")),
    h("button", {type: "button", class: "secondary", onclick: () => decide(report, "violation")},
      t("mod.violationButton")),
    h("button", {type: "button", class: "danger", onclick: () => decide(report, "removal")}, t("mod.removeByRule")))
    : h("p", {class: "outcome"}, t(`mod.outcome.${report.outcome}`), report.note ? ` — ${report.note}` : "");
  return h("li", {class: ["report", report.held && "held"], dataset: {reportId: report.id, messageId: report.message_id}},
    h("div", {class: "meta"}, from, h("time", {datetime: report.created_at}, formatTime(report.created_at)),
      showChat && report.chat_title ? h("span", {class: "tag"}, report.chat_title) : null,
      report.held ? h("span", {class: "tag held"}, t("mod.heldTag")) : null),
    h("p", {}, t("mod.aboutMessageOf"), " ", personName(report.author, {badge: false})),
    quote(report.excerpt || ""),
    report.rule ? h("p", {}, ruleText(report.rule, report.rule_text)) : null,
    report.reason ? h("p", {class: "reason"}, t("mod.reason"), " ", report.reason) : null,
    actions);
}

function logPerson(person) {
  return person ? (person.display_name || t("person.noName")) : t("mod.platform");
}

export function logTable(entries, {showChat = false} = {}) {
  const headers = [t("mod.log.when"), t("mod.log.action"), showChat ? t("mod.log.chat") : null, t("mod.log.who"),
    t("mod.log.whom"), t("mod.log.rules"), t("mod.log.note")].filter(Boolean);
  const rows = entries.map((entry) => h("tr", {dataset: {action: entry.action}},
    h("td", {}, h("time", {datetime: entry.at}, `${formatDate(entry.at)}, ${formatTime(entry.at)}`)),
    h("td", {}, t(`mod.action.${entry.action}`)),
    showChat ? h("td", {}, entry.chat_title || "") : null,
    h("td", {class: "actor"}, logPerson(entry.actor)),
    h("td", {}, entry.subject ? logPerson(entry.subject) : ""),
    h("td", {}, citedRules(entry.rules)),
    h("td", {}, entry.note || "")));
  return h("div", {class: "table-wrap"}, h("table", {class: "log-table"},
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {scope: "col"}, name)))), h("tbody", {}, rows)));
}

// The tabs of a moderation page: `hrefOf(name)` and `labelOf(name)` for each section.
export function sectionTabs(names, shown, hrefOf, labelOf) {
  return h("nav", {"aria-label": t("mod.sections")}, h("ul", {class: "tabs"}, names.map((name) => h("li", {},
    h("a", {href: hrefOf(name), "aria-current": name === shown ? "page" : null}, labelOf(name))))));
}

// Draws the shown section into `box` (its refusal, if any, in its place) and
// draws it again after a resync; answers the page's cleanup.
export async function drawSection(draw, view, box, offs) {
  const fresh = h("div", {});
  try {
    await draw(view, fresh);
    box.replaceChildren(...fresh.childNodes);
  } catch (error) {
    box.replaceChildren(h("p", {class: "error", role: "alert"}, errorText(error)));
  }
  view.live("stream.resync", () => view.reload().catch(() => {}));
  return () => offs.forEach((off) => off());
}
