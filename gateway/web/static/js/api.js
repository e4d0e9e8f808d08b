// The platform's public API, /api/v1, with the access token the session holds
// in memory. A call answered 401 because the token ran out is retried once
// after the session refreshes it.
export class ApiError extends Error {
  constructor(status, code, message, details, retryAfter = 0) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.retryAfter = retryAfter;
  }

  // The first message of a field-level validation error, if any.
  fieldErrors() {
    return (this.details && this.details.fields) || {};
  }
}

const hooks = {token: () => null, refresh: async () => false};

export function configure({token, refresh}) {
  hooks.token = token;
  hooks.refresh = refresh;
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return `/api/v1${path}${text ? `?${text}` : ""}`;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = (body && body.error) || {};
  const retryAfter = Number(response.headers.get("Retry-After")) || 0;
  return new ApiError(response.status, error.code || `http_${response.status}`, error.message, error.details,
    retryAfter);
}

// A fact on its way between services (a message posted a moment ago that
// moderation has not heard of yet) answers 409 not_ready: a refusal that
// changed nothing, so asking again after Retry-After is safe.
const NOT_READY_TRIES = 4;
const pause = (seconds) => new Promise((resolve) => { setTimeout(resolve, seconds * 1000); });

function expired(error) {
  return error.status === 401 && ["token_expired", "invalid_token", "unauthorized", "session_revoked"]
    .includes(error.code);
}

export async function call(method, path, {body, query, idempotent = false, form, raw = false, retried = false,
  waited = 0} = {}) {
  const headers = {};
  const token = hooks.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotent) headers["Idempotency-Key"] = typeof idempotent === "string" ? idempotent : uuid();
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), {method, headers, body: payload, credentials: "same-origin"});
  } catch {
    throw new ApiError(0, "network", "");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (!retried && token && expired(error) && await hooks.refresh()) {
      return call(method, path, {body, query, form, raw, retried: true, waited,
        idempotent: idempotent && headers["Idempotency-Key"]});
    }
    if (error.code === "not_ready" && waited < NOT_READY_TRIES) {
      await pause(Math.min(Math.max(error.retryAfter, 1), 5));
      return call(method, path, {body, query, form, raw, retried, waited: waited + 1,
        idempotent: idempotent && headers["Idempotency-Key"]});
    }
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response;
}

export const api = {
  get: (path, query) => call("GET", path, {query}),
  post: (path, body, options = {}) => call("POST", path, {body, ...options}),
  create: (path, body) => call("POST", path, {body, idempotent: true}),
  patch: (path, body) => call("PATCH", path, {body}),
  put: (path, body) => call("PUT", path, {body}),
  del: (path) => call("DELETE", path),
};

// Every item of a paged list, following next_cursor (bounded).
export async function all(path, query = {}, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await api.get(path, {...query, limit: 100, cursor});
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// A request whose body's sending is reported (fetch reports none), retried
// once after the session refreshes an expired token.
function send(method, path, body, onProgress, headers = {}, retried = false) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `/api/v1${path}`);
    const token = hooks.token();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "network", ""));
    xhr.onload = async () => {
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText || "null");
      } catch {
        answer = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(answer);
        return;
      }
      const error = (answer && answer.error) || {};
      const failure = new ApiError(xhr.status, error.code || `http_${xhr.status}`, error.message, error.details);
      if (!retried && expired(failure) && await hooks.refresh()) {
        send(method, path, body, onProgress, headers, true).then(resolve, reject);
      } else {
        reject(failure);
      }
    };
    xhr.send(body);
  });
}

// A file upload with progress: multipart field `file`.
export function upload(path, file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name);
  return send("POST", path, form, onProgress);
}

// Files larger than this (video lessons) go in parts, each a request of its own.
export const PARTS_ABOVE = 5 * 1024 * 1024;
const PART_TRIES = 5;

// A large file in parts: each part retried where the connection broke, the
// upload resumed at the part the platform expects next. `state.upload` keeps
// where it stands, so that a later call (after "Continue") goes on from there.
export async function uploadInParts(file, onProgress, state = {}) {
  if (!state.upload) {
    state.upload = await call("POST", "/uploads", {body: {name: file.name, size: file.size,
      content_type: file.type || null}, idempotent: true});
  } else {
    state.upload = await api.get(`/uploads/${state.upload.id}`);
  }
  const upload = state.upload;
  let tries = 0;
  while (state.upload.next_part) {
    const number = state.upload.next_part;
    const start = (number - 1) * upload.part_size;
    const part = file.slice(start, Math.min(start + upload.part_size, file.size));
    try {
      state.upload = await send("PUT", `/uploads/${upload.id}/parts/${number}`, part,
        (loaded) => onProgress && onProgress(start + loaded, file.size),
        {"Content-Type": "application/octet-stream"});
      tries = 0;
    } catch (error) {
      // Refusals (the wrong kind of file, an upload gone) end it; a broken connection is tried again.
      const lost = error.code === "network" || error.status >= 500 || error.status === 429;
      tries += 1;
      if (!lost || tries >= PART_TRIES) throw error;
      await pause(0.5 * 2 ** tries);
      state.upload = await api.get(`/uploads/${upload.id}`);
    }
  }
  if (onProgress) onProgress(file.size, file.size);
  return call("POST", `/uploads/${upload.id}/complete`);
}

// Downloads with the access token (a plain link could not carry it) and hands
// the file to the browser under its own name.
export async function download(path, name) {
  const response = await call("GET", path, {raw: true});
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = name || "file";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
}
