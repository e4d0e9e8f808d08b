// The links the platform hands out: a school invite (/join/<token>) and a
// chat link (/chat/<token>). Both work in a fresh browser: sign in on the spot.
import {t} from "../i18n.js";
import {api} from "../api.js";
import {errorText, h} from "../dom.js";
import {navigate} from "../router.js";
import {session} from "../session.js";
import {store} from "../store.js";
import {loading, roleName, rulesConsent} from "./common.js";
import {signInForm} from "./signin.js";

function redraw() {
  window.dispatchEvent(new Event("sferum:redraw"));
}

function signInHere(card, lead) {
  const form = signInForm(() => redraw());
  card.append(h("h2", {}, t("join.signInFirst")), h("p", {}, lead), form);
  return form.cleanup;
}

export async function invitePage({token}, main) {
  document.title = t("join.inviteTitle");
  const card = h("section", {class: "card narrow"}, h("h1", {}, t("join.inviteTitle")));
  main.append(card);
  const wait = loading();
  card.append(wait);
  let preview;
  try {
    preview = await api.get(`/invites/${encodeURIComponent(token)}`);
  } catch (error) {
    wait.remove();
    card.append(h("p", {class: "error", role: "alert"},
      error.status === 404 || error.status === 410 ? t("join.inviteGone") : errorText(error)));
    return null;
  }
  wait.remove();
  card.append(h("dl", {class: "facts"},
    h("dt", {}, t("join.school")), h("dd", {class: "org-name"}, preview.org_name),
    h("dt", {}, t("join.role")), h("dd", {class: "role-name"}, roleName(preview.role)),
    preview.unit_name ? [h("dt", {}, t("join.unit")), h("dd", {class: "unit-name"}, preview.unit_name)] : null),
  preview.requires_approval ? h("p", {class: "muted"}, t("join.needsApproval")) : "");
  if (!session.signedIn) return signInHere(card, t("join.signInLead"));
  const result = h("div", {role: "status"});
  const join = h("button", {type: "button", class: "primary", onclick: async () => {
    join.disabled = true;
    try {
      const answer = await api.post(`/invites/${encodeURIComponent(token)}/accept`);
      join.remove();
      if (answer.status === "pending") {
        result.replaceChildren(h("p", {class: "notice"}, t("join.pending", {org: preview.org_name})));
      } else {
        await store.loadOrgs();
        result.replaceChildren(h("p", {class: "notice"}, t("join.joined", {org: preview.org_name})),
          h("p", {}, t("join.joinedNext")), h("a", {class: "button primary", href: "/chats"}, t("join.toChats")));
      }
    } catch (error) {
      join.disabled = false;
      result.replaceChildren(h("p", {class: "error"}, errorText(error)));
    }
  }}, t("join.accept"));
  card.append(h("p", {}, t("join.signedInAs", {name: (session.user && session.user.display_name) || ""})),
    join, result);
  return null;
}

export async function chatLinkPage({token}, main) {
  document.title = t("join.chatTitle");
  const card = h("section", {class: "card narrow"}, h("h1", {}, t("join.chatTitle")));
  main.append(card);
  if (!session.signedIn) return signInHere(card, t("join.chatSignInLead"));
  const wait = loading();
  card.append(wait);
  let preview;
  try {
    preview = await api.get(`/chat-invites/${encodeURIComponent(token)}`);
  } catch (error) {
    wait.remove();
    const text = error.status === 404 ? t("join.chatRefused") : error.status === 410 ? t("join.chatGone")
      : errorText(error);
    card.append(h("div", {class: "error", role: "alert"}, h("p", {}, text),
      error.status === 404 ? h("p", {}, t("join.chatRefusedHelp")) : null));
    return null;
  }
  wait.remove();
  card.append(h("h2", {class: "chat-title"}, preview.title),
    h("p", {class: "muted"}, t("chat.memberCount", {n: preview.member_count})));
  if (preview.already_member) {
    card.append(h("p", {}, t("join.alreadyMember")),
      h("a", {class: "button primary", href: `/chats/${preview.id}`}, t("join.openChat")));
    return null;
  }
  let version = preview.rules_version;
  const accept = async () => {
    try {
      const chat = await api.post(`/chat-invites/${encodeURIComponent(token)}/accept`,
        {accepted_rules_version: version});
      await store.loadChats();
      navigate(`/chats/${chat.id}`);
    } catch (error) {
      if (error.code === "rules_changed") {
        version = error.details.rules_version;
        const fresh = rulesConsent(error.details.rules, accept);
        consent.replaceWith(fresh);
        consent = fresh;
      }
      throw error;
    }
  };
  let consent = rulesConsent(preview.rules, accept);
  card.append(consent);
  return null;
}
