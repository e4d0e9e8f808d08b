// Building the page. Every text goes in as a text node or an attribute value,
// never as markup: what users write is shown as the characters they wrote.
import {has, t} from "./i18n.js";

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "multiple", "required",
  "readOnly", "open", "indeterminate"]);

export function h(tag, props, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "style" || name === "innerHTML" || name === "outerHTML") {
      throw new Error(`${name} is not allowed`);
    } else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (PROPERTIES.has(name) && !svg) {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let nextId = 0;
export function uid(prefix = "f") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A labelled form field: <label for> and the control, with an optional hint
// and a place for its error, both tied to it by aria-describedby.
export function field(label, control, hint) {
  control.id = control.id || uid();
  const hintEl = hint ? h("p", {class: "hint", id: `${control.id}-hint`}, hint) : null;
  const error = h("p", {class: "field-error", id: `${control.id}-error`, hidden: true});
  control.setAttribute("aria-describedby", [hintEl && hintEl.id, error.id].filter(Boolean).join(" "));
  const wrap = h("div", {class: "field"}, h("label", {for: control.id}, label), control, hintEl, error);
  wrap.setError = (message) => {
    error.textContent = message || "";
    error.hidden = !message;
    control.setAttribute("aria-invalid", message ? "true" : "false");
  };
  return wrap;
}

export function checkbox(label, props = {}) {
  const input = h("input", {type: "checkbox", ...props, id: props.id || uid("c")});
  const wrap = h("div", {class: "check"}, input, h("label", {for: input.id}, label));
  wrap.input = input;
  return wrap;
}

// The status line read out by screen readers and shown briefly on screen.
let statusEl = null;
let statusTimer = 0;
export function announce(message, kind = "info") {
  if (!statusEl) {
    statusEl = h("div", {class: "toast", role: "status", "aria-live": "polite", hidden: true});
    document.body.append(statusEl);
  }
  statusEl.textContent = message;
  statusEl.dataset.kind = kind;
  statusEl.hidden = false;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { statusEl.hidden = true; }, kind === "error" ? 8000 : 4000);
}

// A modal dialog (the browser's own <dialog>: focus stays inside, Esc closes).
export function modal(title, body, actions) {
  return new Promise((resolve) => {
    const titleId = uid("d");
    const dialog = h("dialog", {class: "dialog", "aria-labelledby": titleId});
    const done = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const buttons = actions.map(([label, value, kind]) =>
      h("button", {type: "button", class: kind || "secondary", onclick: () => done(value)}, label));
    dialog.append(h("h2", {id: titleId}, title), ...(Array.isArray(body) ? body : [body]),
      h("div", {class: "actions"}, buttons));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (dialog.querySelector("input, textarea, select") || buttons[buttons.length - 1]).focus();
  });
}

export async function confirmAction(title, message, confirmLabel) {
  const answer = await modal(title, h("p", {}, message),
    [[t("common.cancel"), false, "secondary"], [confirmLabel || t("common.confirm"), true, "danger"]]);
  return answer === true;
}

export async function askText(title, label, {multiline = false, required = true} = {}) {
  const control = multiline ? h("textarea", {rows: 4, required}) : h("input", {type: "text", required});
  const answer = await modal(title, field(label, control),
    [[t("common.cancel"), null, "secondary"], [t("common.ok"), "ok", "primary"]]);
  if (answer !== "ok") return null;
  const value = control.value.trim();
  return value || (required ? null : "");
}

// Copies text; where the clipboard is not allowed (plain http), selects it to copy by hand.
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t("common.copied"));
  } catch {
    if (input) {
      input.focus();
      input.select();
    }
    announce(t("common.copyByHand"));
  }
}

export function button(label, onclick, kind = "secondary", props = {}) {
  return h("button", {type: "button", class: kind, onclick, ...props}, label);
}

// Runs an action from a button: the button waits, an error is announced.
export async function busy(buttonEl, action) {
  if (buttonEl) buttonEl.disabled = true;
  try {
    return await action();
  } catch (error) {
    announce(errorText(error), "error");
    return undefined;
  } finally {
    if (buttonEl) buttonEl.disabled = false;
  }
}

export function errorText(error) {
  if (error && error.code) {
    if (has(`error.${error.code}`)) return t(`error.${error.code}`);
    return t("error.generic", {status: error.status || ""});
  }
  console.error(error);
  return t("error.network");
}

// A dialog holding a form that stays open until its action succeeds: the
// server's refusal is shown in it, next to the field it names when it names
// one. `submit(form)` returns the result, or throws; `check(form)` may return
// a text that refuses before anything is sent.
export function formDialog(title, body, {submitLabel, submitKind = "primary", submit, check}) {
  return new Promise((resolve) => {
    const titleId = uid("d");
    const alert = h("p", {class: "field-error form-error", role: "alert", hidden: true});
    const send = h("button", {type: "submit", class: submitKind}, submitLabel);
    const dialog = h("dialog", {class: "dialog", "aria-labelledby": titleId});
    const done = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const showError = (message) => {
      alert.textContent = message || "";
      alert.hidden = !message;
    };
    const form = h("form", {novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      showError("");
      for (const wrap of form.querySelectorAll(".field")) if (wrap.setError) wrap.setError("");
      const refusal = check ? check(form) : null;
      if (refusal) {
        showError(refusal);
        return;
      }
      send.disabled = true;
      try {
        done(await submit(form));
      } catch (error) {
        // The server words its field messages for developers: the person reads ours.
        for (const name of Object.keys((error && error.details && error.details.fields) || {})) {
          const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
          const wrap = control && control.closest(".field");
          if (wrap && wrap.setError) wrap.setError(t("error.fieldRefused"));
        }
        showError(errorText(error));
      } finally {
        send.disabled = false;
      }
    }}, h("h2", {id: titleId}, title), ...(Array.isArray(body) ? body : [body]), alert,
    h("div", {class: "actions"}, h("button", {type: "button", class: "secondary", onclick: () => done(null)},
      t("common.cancel")), send));
    form.showError = showError;
    dialog.append(form);
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (form.querySelector("input:not([type=hidden]):not([disabled]), textarea, select") || send).focus();
  });
}
