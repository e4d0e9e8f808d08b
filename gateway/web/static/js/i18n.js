// Every text the client shows comes from a dictionary in texts/: t("key", {vars}).
// Another language is one more file there, registered in LOCALES.
import ru from "./texts/ru.js";

const LOCALES = {ru};
let lang = "ru";
let texts = ru;
let rules = new Intl.PluralRules(lang);

export function setLocale(name) {
  if (!LOCALES[name]) return false;
  lang = name;
  texts = LOCALES[name];
  rules = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
  return true;
}

export function locale() {
  return lang;
}

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// A text may be a string with {placeholders}, an object of plural forms chosen
// by vars.n ({one, few, many, other}), or a function of vars.
export function t(key, vars = {}) {
  const value = key in texts ? texts[key] : ru[key];
  if (value === undefined) {
    console.warn("no text for", key);
    return key;
  }
  if (typeof value === "function") return value(vars);
  if (typeof value === "object") return fill(value[rules.select(Number(vars.n) || 0)] ?? value.other, vars);
  return fill(value, vars);
}

export function has(key) {
  return key in texts || key in ru;
}

const timeFormat = () => new Intl.DateTimeFormat(lang, {hour: "2-digit", minute: "2-digit"});
const dateFormat = () => new Intl.DateTimeFormat(lang, {day: "numeric", month: "long", year: "numeric"});
const shortFormat = () => new Intl.DateTimeFormat(lang, {day: "numeric", month: "short"});

export function formatTime(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  const today = new Date();
  if (when.toDateString() === today.toDateString()) return timeFormat().format(when);
  return `${shortFormat().format(when)}, ${timeFormat().format(when)}`;
}

export function formatDate(iso) {
  return iso ? dateFormat().format(new Date(iso)) : "";
}

export function formatSize(bytes) {
  const units = ["size.b", "size.kb", "size.mb", "size.gb"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : value.toLocaleString(lang, {maximumFractionDigits: 1});
  return t(units[unit], {n: shown});
}
