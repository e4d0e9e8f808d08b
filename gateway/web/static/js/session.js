// The browser's session. The refresh token lives in an httpOnly cookie that
// only /web/session can read; the page holds the short-lived access token in
// memory, never in storage, and asks for a new one before it runs out (and
// once on every page load). Calls to /web/session carry the CSRF token that
// the page reads from its own cookie.
import {ApiError, configure} from "./api.js";

const state = {token: null, user: null, claims: {}, expiresAt: 0};
const listeners = new Set();
let timer = 0;
let refreshing = null;
const channel = "BroadcastChannel" in window ? new BroadcastChannel("sferum-session") : null;

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

async function post(path, body) {
  const headers = {"X-CSRF-Token": cookie("sferum_csrf")};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {method: "POST", headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)});
  } catch {
    throw new ApiError(0, "network", "");
  }
  if (response.status === 204) return null;
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const error = (answer && answer.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message, error.details);
  }
  return answer;
}

function notify() {
  for (const listener of listeners) listener(session);
}

function accept(answer) {
  const changedUser = !state.user || !answer.user || state.user.id !== answer.user.id;
  state.token = answer.access_token;
  state.user = answer.user || state.user;
  state.claims = claimsOf(answer.access_token);
  state.expiresAt = Date.now() + (answer.expires_in || 900) * 1000;
  clearTimeout(timer);
  const wait = Math.max(10000, state.expiresAt - Date.now() - 60000);
  timer = setTimeout(() => { refresh(); }, wait);
  if (changedUser) notify();
}

function forget() {
  const had = state.token !== null;
  clearTimeout(timer);
  Object.assign(state, {token: null, user: null, claims: {}, expiresAt: 0});
  if (had) notify();
}

// Tabs take turns: a refresh token is used once, and a second use ends the session.
function exclusive(action) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request("sferum-session-refresh", action);
  }
  return action();
}

async function doRefresh() {
  try {
    accept(await post("/web/session/refresh"));
    return true;
  } catch (error) {
    if (error.status === 401 || error.status === 403) forget();
    return false;
  }
}

export function refresh() {
  if (!refreshing) refreshing = exclusive(doRefresh).finally(() => { refreshing = null; });
  return refreshing;
}

// Signs in; when a parent's address holds several children's accounts, answers
// the accounts to choose from instead (then sign in again with `account_id`).
export async function signIn(credentials) {
  const answer = await post("/web/session", credentials);
  if (answer && answer.choose_account) return answer;
  accept(answer);
  return null;
}

export async function logout() {
  try {
    await post("/web/session/logout");
  } finally {
    forget();
    if (channel) channel.postMessage("logout");
  }
}

if (channel) {
  channel.onmessage = (event) => {
    if (event.data === "logout") forget();
  };
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setUser(user) {
  state.user = {...state.user, ...user};
}

export const session = {
  get token() { return state.token; },
  get user() { return state.user; },
  get signedIn() { return state.token !== null; },
  get operator() { return Boolean(state.claims.op); },
};

configure({token: () => state.token, refresh});
