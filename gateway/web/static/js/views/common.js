// Pieces several screens share.
import {t} from "../i18n.js";
import {checkbox, errorText, h} from "../dom.js";

export function personName(person, {badge = true} = {}) {
  const name = (person && person.display_name) || t("person.noName");
  return h("span", {class: "person"}, name,
    badge && person && person.teacher_verified
      ? h("span", {class: "teacher-badge", title: t("person.teacherBadgeTitle")}, t("person.teacherBadge"))
      : null);
}

export function roleName(role) {
  return t(`role.${role}`);
}

export function rulesList(rules) {
  if (!rules || !rules.length) return h("p", {class: "muted"}, t("rules.none"));
  return h("ol", {class: "rules"}, rules.map((rule) => h("li", {}, rule)));
}

// The chat's rules and the consent to them (rules 2.3, 2.4): joining needs the tick.
export function rulesConsent(rules, onAccept, {joinLabel, extra} = {}) {
  const consent = checkbox(t("rules.consent"), {required: true});
  const join = h("button", {type: "submit", class: "primary", disabled: true}, joinLabel || t("rules.join"));
  const error = h("p", {class: "field-error", role: "alert", hidden: true});
  consent.input.addEventListener("change", () => { join.disabled = !consent.input.checked; });
  return h("form", {class: "consent", onsubmit: async (event) => {
    event.preventDefault();
    if (!consent.input.checked) return;
    join.disabled = true;
    try {
      await onAccept();
    } catch (error_) {
      error.textContent = errorText(error_);
      error.hidden = false;
      join.disabled = false;
    }
  }}, h("h3", {}, t("rules.title")), rulesList(rules), consent, error, h("div", {class: "actions"}, join, extra));
}

export function table(headers, rows, caption) {
  return h("div", {class: "table-wrap"}, h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {scope: "col"}, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

export function empty(text) {
  return h("p", {class: "muted empty"}, text);
}

export function loading() {
  return h("p", {class: "muted", role: "status"}, t("common.loading"));
}
