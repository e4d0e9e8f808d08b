// The chat-ethics regulation's limits as the forms apply them before asking
// the server, which decides (services/moderation/rules.py): plain functions
// of their inputs.

// 2.6: "более трёх раз" — a block cites more than three violations.
export const VIOLATIONS_BEFORE_A_BLOCK = 3;

// The same day and time of the next calendar month in UTC, or that month's
// last day when it is shorter: 31 January → 28 (29) February, 15 May → 15 June.
export function monthAfter(moment) {
  const year = moment.getUTCFullYear() + (moment.getUTCMonth() === 11 ? 1 : 0);
  const month = (moment.getUTCMonth() + 1) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(moment.getUTCDate(), lastDay), moment.getUTCHours(),
    moment.getUTCMinutes(), moment.getUTCSeconds(), moment.getUTCMilliseconds()));
}

// Why a block cannot be asked for, or null: the same order as the server's.
export function whyNotBlock(cited, until, now) {
  if (!until || Number.isNaN(until.getTime())) return {code: "until_missing", field: "until"};
  if (until <= now) return {code: "until_in_the_past", field: "until"};
  if (until > monthAfter(now)) return {code: "block_too_long", field: "until", latest: monthAfter(now)};
  if (cited <= VIOLATIONS_BEFORE_A_BLOCK) {
    return {code: "not_enough_violations", field: "violation_ids", needed: VIOLATIONS_BEFORE_A_BLOCK + 1};
  }
  return null;
}

// 2.7: an early unblock needs the member's open request whose objection
// window ended with no objection. Null when the moderator may unblock.
export function whyNotUnblockEarly(request, now) {
  if (!request || request.status !== "open") return {code: "no_unblock_request"};
  if (request.objections) return {code: "objected"};
  if (now < new Date(request.window_ends_at)) return {code: "objection_window_open"};
  return null;
}

export function mayObject(request, myId, now) {
  return request.status === "open" && !request.objected_by_me && request.user && request.user.id !== myId &&
    now < new Date(request.window_ends_at);
}

// A moment as a datetime-local control shows it: the browser's local time, to the minute.
export function toLocalInput(moment) {
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

export function fromLocalInput(value) {
  return value ? new Date(value) : null;
}

// The latest `until` a form offers: the month's limit, down to the minute the control can show.
export function latestUntil(now) {
  const latest = monthAfter(now);
  latest.setSeconds(0, 0);
  return latest;
}
