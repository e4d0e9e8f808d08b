// What calls tell a person wherever they are in the client: a direct call
// ringing (answer or decline), a planned call beginning, a call started in
// one of their chats. The notice stays until it is answered, dismissed or
// the call stops ringing; on the call's own page none is shown.
import {t} from "../../i18n.js";
import {api} from "../../api.js";
import {announce, button, errorText, h} from "../../dom.js";
import {navigate} from "../../router.js";
import {store} from "../../store.js";
import {callTitle} from "./names.js";

export function callAlerts() {
  const box = h("div", {class: "call-alerts", "aria-live": "assertive"});
  document.body.append(box);
  const shown = new Map();   // call id -> notice

  function dismiss(callId) {
    const notice = shown.get(callId);
    if (notice) notice.remove();
    shown.delete(callId);
  }

  function show(call, text, actions) {
    if (location.pathname === `/call/${call.id}`) return;
    dismiss(call.id);
    const notice = h("div", {class: "call-alert", role: "alertdialog", "aria-label": text, dataset: {callId: call.id}},
      h("p", {}, text), h("div", {class: "actions"}, actions,
        button(t("call.dismiss"), () => dismiss(call.id), "link")));
    shown.set(call.id, notice);
    box.append(notice);
    notice.querySelector("button, a").focus();
  }

  function open(call, query = "") {
    dismiss(call.id);
    navigate(`/call/${call.id}${query}`);
  }

  const offs = [
    store.on("call.ringing", (data) => {
      const caller = (data.caller && data.caller.display_name) || t("person.noName");
      show(data.call, t("call.incoming", {name: caller}), [
        button(t("call.answer"), () => open(data.call, "?answer=1"), "primary"),
        button(t("call.decline"), async (event) => {
          event.currentTarget.disabled = true;
          try {
            await api.post(`/calls/${data.call.id}/decline`);
          } catch (error) {
            announce(errorText(error), "error");
          }
          dismiss(data.call.id);
        }, "danger")]);
    }),
    store.on("call.updated", (data) => {
      const call = data.call;
      if (!call) return;
      if (call.status !== "ringing" && shown.has(call.id) && data.change !== "reminder" && data.change !== "started") {
        dismiss(call.id);
      }
      if (data.change === "reminder" || (data.change === "started" && call.kind !== "direct")) {
        show(call, t(data.change === "reminder" ? "call.reminder" : "call.startedAlert", {title: callTitle(call)}),
          [button(t("call.join"), () => open(call), "primary")]);
      }
    }),
  ];
  return () => {
    offs.forEach((off) => off());
    box.remove();
  };
}
