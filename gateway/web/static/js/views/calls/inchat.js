// Calls inside an open chat: start a call (a direct call rings the other
// person; elsewhere a group call), plan a lesson or a meeting with its date,
// time and title, the planned calls with joining, moving and cancelling, and
// the call going on now. Kept current by call.updated frames; read again on
// stream.resync.
import {formatTime, t} from "../../i18n.js";
import {api} from "../../api.js";
import {announce, busy, button, confirmAction, errorText, field, formDialog, h} from "../../dom.js";
import {navigate} from "../../router.js";
import {store} from "../../store.js";
import {callTitle} from "./names.js";

const PLANNERS = {lesson: ["teacher", "admin", "director", "deputy"], meeting: ["admin", "director"]};

function pad(number) {
  return String(number).padStart(2, "0");
}

// <input type=datetime-local> speaks the device's local time; the API speaks UTC.
function localValue(iso) {
  const when = new Date(iso);
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:${
    pad(when.getMinutes())}`;
}

function plannable(chat) {
  const org = store.orgs.find((item) => item.org_id === chat.org_id);
  const roles = (org && org.roles) || [];
  if (chat.kind === "direct") return [];
  // A lesson is for the chat of a class or a group.
  return Object.keys(PLANNERS).filter((kind) => (kind !== "lesson" || chat.unit_id)
    && PLANNERS[kind].some((role) => roles.includes(role)));
}

// The form that plans a call or moves one: kind (when new), title, date and time.
function planDialog(chat, kinds, existing) {
  const kind = h("select", {name: "kind"}, kinds.map((value) => h("option", {value}, t(`call.kind.${value}`))));
  const title = h("input", {type: "text", name: "title", maxlength: 200, required: true,
    value: existing ? existing.title : ""});
  const soon = new Date(Date.now() + 60 * 60 * 1000);
  soon.setMinutes(0, 0, 0);
  const when = h("input", {type: "datetime-local", name: "scheduled_at", required: true,
    value: localValue(existing ? existing.scheduled_at : soon.toISOString())});
  const fields = [existing ? null : field(t("call.planKind"), kind), field(t("call.planTitle"), title),
    field(t("call.planWhen"), when, t("call.planWhenHint"))];
  return formDialog(existing ? t("call.editTitle") : t("call.planTitleDialog"), fields, {
    submitLabel: existing ? t("common.save") : t("call.plan"),
    check: () => {
      if (!title.value.trim()) return t("call.planNeedsTitle");
      if (!when.value || Number.isNaN(new Date(when.value).getTime())) return t("call.planNeedsTime");
      return null;
    },
    submit: () => {
      const body = {title: title.value.trim(), scheduled_at: new Date(when.value).toISOString()};
      if (existing) return api.patch(`/calls/${existing.id}`, body);
      return api.create("/calls", {...body, org_id: chat.org_id, kind: kind.value, chat_id: chat.id});
    },
  });
}

export function attachCalls({chat, tools, notices}) {
  const kinds = plannable(chat);
  const live = h("div", {class: "call-live", role: "status", hidden: true});
  const planned = h("ul", {class: "calls-planned"});
  const plannedBox = h("section", {class: "calls-planned-box", hidden: true, "aria-labelledby": `planned-${chat.id}`},
    h("h3", {id: `planned-${chat.id}`}, t("call.plannedTitle")), planned);
  notices.prepend(live, plannedBox);
  let calls = new Map();
  let closed = false;

  async function start(event) {
    await busy(event.currentTarget, async () => {
      try {
        const made = await api.create("/calls", {org_id: chat.org_id, kind: chat.kind === "direct" ? "direct" : "group",
          chat_id: chat.id});
        navigate(`/call/${made.id}`);
      } catch (error) {
        // One call at a time in a chat: the one going on is joined instead.
        if (error.code === "call_in_progress" && error.details.call_id) navigate(`/call/${error.details.call_id}`);
        else throw error;
      }
    });
  }

  async function plan() {
    const made = await planDialog(chat, kinds);
    if (!made) return;
    calls.set(made.id, made);
    draw();
    announce(t("call.planned", {when: formatTime(made.scheduled_at)}));
  }

  async function edit(found) {
    const moved = await planDialog(chat, kinds, found);
    if (!moved) return;
    calls.set(moved.id, moved);
    draw();
  }

  async function cancel(found) {
    if (!await confirmAction(t("call.cancelTitle"), t("call.cancelConfirm", {title: callTitle(found)}),
      t("call.cancelCall"))) return;
    const done = await api.post(`/calls/${found.id}/cancel`);
    calls.set(done.id, done);
    draw();
  }

  tools.prepend(button(chat.kind === "direct" ? t("call.call") : t("call.startGroup"), start, "secondary call-start"));
  if (kinds.length) tools.prepend(button(t("call.planButton"), () => plan(), "secondary call-plan"));

  function draw() {
    const sorted = [...calls.values()];
    const going = sorted.find((item) => item.status === "active" || item.status === "ringing");
    live.hidden = !going;
    live.replaceChildren(...(going ? [h("span", {}, t("call.goingIn", {title: callTitle(going)})), " ",
      h("a", {class: "button primary", href: `/call/${going.id}`}, t("call.join"))] : []));
    const ahead = sorted.filter((item) => item.status === "scheduled")
      .sort((a, b) => a.scheduled_at.localeCompare(b.scheduled_at));
    plannedBox.hidden = !ahead.length;
    planned.replaceChildren(...ahead.map((item) => {
      const mine = item.host && item.host.id === store.me?.id;
      return h("li", {class: "call-planned", dataset: {callId: item.id}},
        h("span", {class: "call-planned-title"}, callTitle(item)), " ",
        h("span", {class: "tag"}, t(`call.kind.${item.kind}`)), " ",
        h("time", {datetime: item.scheduled_at}, formatTime(item.scheduled_at)),
        h("span", {class: "call-planned-actions"},
          h("a", {class: "button secondary", href: `/call/${item.id}`}, t("call.open")),
          mine ? button(t("call.edit"), () => edit(item).catch((error) => announce(errorText(error), "error")),
            "link") : null,
          mine ? button(t("call.cancelCall"), (event) => busy(event.currentTarget, () => cancel(item)),
            "link danger-text") : null));
    }));
  }

  async function load() {
    const [going, ahead] = await Promise.all([api.get("/calls", {chat_id: chat.id, status: "active", limit: 5}),
      api.get("/calls", {chat_id: chat.id, status: "scheduled", limit: 50})]);
    if (closed) return;
    calls = new Map([...going.items, ...ahead.items].map((item) => [item.id, item]));
    draw();
  }
  load().catch((error) => announce(errorText(error), "error"));

  const offs = [
    store.on("call.updated", (data) => {
      if (!data.call || data.call.chat_id !== chat.id) return;
      calls.set(data.call.id, {...(calls.get(data.call.id) || {}), ...data.call});
      draw();
    }),
    store.on("call.ringing", (data) => {
      if (data.call && data.call.chat_id === chat.id) {
        calls.set(data.call.id, data.call);
        draw();
      }
    }),
    store.on("stream.resync", () => { load().catch(() => {}); }),
  ];
  return () => {
    closed = true;
    offs.forEach((off) => off());
  };
}
