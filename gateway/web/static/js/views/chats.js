// My chats: the list with unread counts and last messages, the invitations
// waiting for my consent, and the open chat beside them (one at a time on a phone).
import {formatTime, t} from "../i18n.js";
import {all, api} from "../api.js";
import {announce, button, errorText, field, h, modal} from "../dom.js";
import {navigate} from "../router.js";
import {session} from "../session.js";
import {store} from "../store.js";
import {empty, personName, rulesConsent} from "./common.js";

function preview(message) {
  if (!message) return t("chats.noMessages");
  const author = message.author ? `${message.author.display_name || t("person.noName")}: ` : "";
  const text = message.kind === "poll" ? t("chats.pollPreview", {q: message.text})
    : message.text || (message.files && message.files.length ? t("chats.filePreview") : "");
  return author + text;
}

function chatItem(chat, openId) {
  const unread = chat.unread_count || 0;
  return h("li", {}, h("a", {class: ["chat-item", chat.id === openId && "open"], href: `/chats/${chat.id}`,
    "aria-current": chat.id === openId ? "page" : null, dataset: {chatId: chat.id}},
  h("span", {class: "chat-line"},
    h("span", {class: "chat-name"}, chat.title || t("chats.untitled")),
    h("span", {class: "chat-time"}, formatTime(chat.last_message ? chat.last_message.created_at : ""))),
  h("span", {class: "chat-line"},
    h("span", {class: "chat-last"}, preview(chat.last_message)),
    unread ? h("span", {class: "unread", "aria-label": t("chats.unread", {n: unread})}, String(unread)) : null)));
}

function invitationItem(invitation) {
  const chat = invitation.chat;
  const accept = async () => {
    const joined = await api.post(`/chat-invitations/${invitation.id}/accept`,
      {accepted_rules_version: chat.rules_version});
    store.invitations = store.invitations.filter((item) => item.id !== invitation.id);
    await store.loadChats();
    store.emit("invitations");
    navigate(`/chats/${joined.id}`);
  };
  const decline = h("button", {type: "button", class: "secondary", onclick: async () => {
    decline.disabled = true;
    await api.post(`/chat-invitations/${invitation.id}/decline`);
    store.invitations = store.invitations.filter((item) => item.id !== invitation.id);
    store.emit("invitations");
  }}, t("invitations.decline"));
  return h("li", {class: "invitation", dataset: {chatId: chat.id}},
    h("details", {},
      h("summary", {}, h("span", {class: "chat-name"}, chat.title),
        chat.official ? h("span", {class: "tag"}, t("chats.official")) : null),
      h("p", {class: "muted"}, store.orgName(chat.org_id),
        invitation.invited_by ? [" · ", t("invitations.by"), " ", personName(invitation.invited_by)] : null,
        " · ", t("chat.memberCount", {n: chat.member_count})),
      rulesConsent(chat.rules, accept, {extra: decline})));
}

const CREATORS = ["teacher", "admin", "director", "deputy"];

// A teacher's or an admin's new chat: named people are invited, not added (rule 2.3).
async function newChat() {
  const orgs = store.orgs.filter((org) => org.roles.some((role) => CREATORS.includes(role)));
  const org = h("select", {name: "org_id"}, orgs.map((item) => h("option", {value: item.org_id}, item.name)));
  const kind = h("select", {name: "kind"}, h("option", {value: "group"}, t("newChat.group")),
    h("option", {value: "channel"}, t("newChat.channel")));
  const title = h("input", {type: "text", name: "title", maxlength: 200, required: true});
  const rules = h("textarea", {name: "rules", rows: 4});
  const unit = h("select", {name: "unit_id"});
  // The whole class in one step: its students, their parents or both are invited.
  const audience = h("select", {name: "audience", disabled: true}, ["", "students", "parents", "both"].map((value) =>
    h("option", {value}, t(`newChat.audience.${value || "none"}`))));
  unit.addEventListener("change", () => {
    audience.disabled = !unit.value;
    if (!unit.value) audience.value = "";
  });
  const people = h("select", {name: "invite_user_ids", multiple: true, size: 8});
  const fill = async () => {
    const [units, members] = await Promise.all([all(`/orgs/${org.value}/units`),
      all(`/orgs/${org.value}/members`)]);
    unit.replaceChildren(h("option", {value: ""}, t("newChat.noUnit")), ...units.filter((u) => u.kind !== "staff_room")
      .map((u) => h("option", {value: u.id}, u.name)));
    people.replaceChildren(...members.filter((m) => m.user_id !== (session.user && session.user.id))
      .map((m) => h("option", {value: m.user_id}, `${m.display_name || t("person.noName")} — ${
        m.roles.map((role) => t(`role.${role}`)).join(", ")}`)));
  };
  org.addEventListener("change", fill);
  await fill();
  const answer = await modal(t("newChat.title"), [orgs.length > 1 ? field(t("newChat.org"), org) : "",
    field(t("newChat.kind"), kind), field(t("newChat.name"), title), field(t("newChat.rules"), rules,
      t("newChat.rulesHint")), field(t("newChat.unit"), unit, t("newChat.unitHint")),
    field(t("newChat.audience"), audience, t("newChat.audienceHint")),
    field(t("newChat.people"), people, t("newChat.peopleHint"))],
  [[t("common.cancel"), null, "secondary"], [t("newChat.create"), "ok", "primary"]]);
  if (answer !== "ok") return;
  if (!title.value.trim()) {
    announce(t("newChat.needsTitle"), "error");
    return;
  }
  try {
    const chat = await api.create("/chats", {org_id: org.value, kind: kind.value, title: title.value.trim(),
      rules: rules.value.split("\n").map((line) => line.trim()).filter(Boolean),
      unit_id: unit.value || null, audience: audience.value || null,
      invite_user_ids: [...people.selectedOptions].map((o) => o.value)});
    await store.loadChats();
    navigate(`/chats/${chat.id}`);
  } catch (error) {
    announce(error.code === "not_teaching_this_class" ? t("newChat.notTeaching")
      : error.status === 403 ? t("newChat.forbidden") : errorText(error), "error");
  }
}

export async function chatsPage({chatId}, main) {
  const chatModule = chatId ? import("./chat.js") : null;
  document.title = t("chats.title");
  const list = h("ul", {class: "chat-list", "aria-label": t("chats.listLabel")});
  const invitations = h("ul", {class: "invitations"});
  const invitationsBox = h("section", {class: "invitations-box", "aria-labelledby": "inv-h", hidden: true},
    h("h2", {id: "inv-h"}, t("invitations.title")), h("p", {class: "muted"}, t("invitations.lead")), invitations);
  const canCreate = store.orgs.some((org) => org.roles.some((role) => CREATORS.includes(role)));
  const side = h("aside", {class: ["chats-side", chatId && "has-open"]},
    h("div", {class: "row side-head"}, h("h1", {class: "side-title"}, t("chats.title")),
      canCreate ? button(t("newChat.button"), () => newChat().catch((error) => announce(errorText(error), "error")),
        "secondary") : null),
    invitationsBox, list);
  const pane = h("section", {class: ["chat-pane", !chatId && "empty-pane"]});
  main.classList.add("chats-main");
  main.append(h("div", {class: "chats-layout"}, side, pane));

  const drawList = () => {
    const chats = store.sortedChats();
    list.replaceChildren(...(chats.length ? chats.map((chat) => chatItem(chat, chatId))
      : [h("li", {}, empty(store.orgs.length ? t("chats.none") : t("chats.noSchool")))]));
  };
  const drawInvitations = () => {
    const open = new Set([...invitations.querySelectorAll("details[open]")]
      .map((el) => el.parentElement.dataset.chatId));
    invitations.replaceChildren(...store.invitations.map(invitationItem));
    for (const item of invitations.children) {
      if (open.has(item.dataset.chatId)) item.querySelector("details").open = true;
    }
    invitationsBox.hidden = store.invitations.length === 0;
  };
  drawList();
  drawInvitations();
  const offs = [store.on("chats", drawList), store.on("invitations", drawInvitations)];

  if (!chatId) {
    pane.append(h("p", {class: "muted"}, store.chats.size ? t("chats.pick") : ""));
    if (!store.orgs.length) {
      pane.append(h("p", {}, t("chats.noSchoolHelp")), h("a", {href: "/profile"}, t("profile.applyLink")));
    }
    return () => offs.forEach((off) => off());
  }
  const {openChat} = await chatModule;
  const closeChat = await openChat(chatId, pane, session);
  return () => {
    offs.forEach((off) => off());
    if (closeChat) closeChat();
  };
}
