// One chat: history paged as you scroll up, live messages, sending with
// replies and files (large ones in resumable parts), polls, editing and
// deleting, read state, the members, the chat's materials, the school's
// journal and diary, and moderation (./moderation/inchat.js). After the
// stream reconnects (or the platform says stream.resync) the newest history
// is read again to fill the gap.
import {formatDate, formatSize, t} from "../i18n.js";
import {PARTS_ABOVE, all, api, download, upload, uploadInParts} from "../api.js";
import {announce, busy, button, checkbox, confirmAction, copyText, errorText, field, h, modal, uid}
  from "../dom.js";
import {navigate} from "../router.js";
import {store} from "../store.js";
import {empty, personName, rulesList} from "./common.js";
import {messageView, snippet} from "./message.js";
import {attachModeration} from "./moderation/inchat.js";
import {attachCalls} from "./calls/inchat.js";

const PAGE = 50;

// A refusal that `lagging(error)` explains as a copy not yet caught up (a
// block that has just ended, which messaging hears of a moment after the
// member) is asked again shortly; a refused post created nothing.
async function retrying(action, lagging) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action();
    } catch (error) {
      if (attempt >= 4 || !lagging || !await lagging(error)) throw error;
      await new Promise((resolve) => { setTimeout(resolve, 400 * attempt); });
    }
  }
}

export async function openChat(chatId, pane, session) {
  let chat;
  // The chat and its newest history are asked for together.
  const firstPage = api.get(`/chats/${chatId}/messages`, {limit: PAGE});
  firstPage.catch(() => {});
  try {
    chat = await api.get(`/chats/${chatId}`);
  } catch (error) {
    pane.append(h("p", {class: "error", role: "alert"}, error.status === 404 ? t("chat.notFound") : errorText(error)),
      h("a", {href: "/chats"}, t("chat.back")));
    return null;
  }
  store.openChatId = chatId;
  const messages = new Map();   // id -> message
  const elements = new Map();   // id -> <li>
  let cursor = null;
  let loadingOlder = false;
  let lastSeq = 0;
  let markedSeq = 0;
  let replyTo = null;
  const attachments = [];       // {id?, name, size, element, done}
  const ctx = {
    myId: session.user && session.user.id,
    polls: new Map(),
    byId: (id) => messages.get(id),
    blocked: false,
    canPost: () => !chat.archived && !ctx.blocked && (chat.kind !== "channel" || chat.my_role === "moderator"),
    redraw: () => { for (const message of [...messages.values()]) place(message); },
    // A channel's administrators see how many read each post.
    seesReads: () => chat.kind === "channel" && chat.my_role === "moderator",
    showReads: (message) => showReads(message),
    reply: (message) => setReply(message),
    edit: (message) => startEdit(message),
    remove: (message) => removeMessage(message),
  };

  // The header.
  const membersButton = button(t("chat.members", {n: chat.member_count}), () => showMembers(), "secondary");
  const tools = h("div", {class: "chat-tools"}, membersButton,
    button(t("chat.materials"), () => showMaterials(), "secondary"));
  if (chat.org && chat.org.journal_url) {
    tools.append(h("a", {class: "button secondary", href: chat.org.journal_url, target: "_blank",
      rel: "noopener noreferrer"}, t("chat.journal")));
  }
  if (chat.org && chat.org.diary_url) {
    tools.append(h("a", {class: "button secondary", href: chat.org.diary_url, target: "_blank",
      rel: "noopener noreferrer"}, t("chat.diary")));
  }
  if (chat.my_role === "moderator" && chat.kind !== "direct") {
    tools.append(button(t("chat.link"), (event) => busy(event.currentTarget, makeLink), "secondary"));
  }
  tools.append(button(t("chat.rules"), () => modal(t("chat.rules"), rulesList(chat.rules),
    [[t("common.close"), null, "secondary"]]), "secondary"));
  tools.append(button(t("chat.leave"), (event) => busy(event.currentTarget, leave), "secondary"));
  const header = h("header", {class: "chat-head"},
    h("a", {class: "back", href: "/chats"}, t("chat.back")),
    h("div", {class: "chat-heading"}, h("h2", {class: "chat-title"}, chat.title),
      h("p", {class: "muted"}, [store.orgName(chat.org_id), chat.official ? ` · ${t("chats.official")}` : ""]),
      chat.description ? h("p", {class: "chat-description", "aria-label": t("chat.description")},
        chat.description) : null),
    tools);

  // The history.
  const list = h("ol", {class: "messages", "aria-label": t("chat.history")});
  const sentinel = h("li", {class: "sentinel", "aria-hidden": "true"});
  list.append(sentinel);
  const scroller = h("div", {class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    tabindex: "0", "aria-label": t("chat.history")}, list);
  const jump = h("button", {type: "button", class: "jump", hidden: true, onclick: () => toBottom()},
    t("chat.newBelow"));

  // The composer.
  const text = h("textarea", {rows: 2, maxlength: 4000, placeholder: t("chat.placeholder"),
    onkeydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      } else if (event.key === "Escape" && replyTo) {
        setReply(null);
      }
    }});
  const textId = uid("msg");
  text.id = textId;
  const replyBox = h("div", {class: "reply-box", hidden: true});
  const attachList = h("ul", {class: "attachments"});
  const fileInput = h("input", {type: "file", multiple: true, class: "visually-hidden", id: uid("file"),
    tabindex: "-1", "aria-hidden": "true", onchange: () => {
      for (const file of fileInput.files) addAttachment(file);
      fileInput.value = "";
    }});
  const sendButton = h("button", {type: "submit", class: "primary"}, t("chat.send"));
  const composer = h("form", {class: "composer", onsubmit: (event) => {
    event.preventDefault();
    send();
  }},
  replyBox, attachList,
  h("div", {class: "composer-row"},
    h("label", {for: textId, class: "visually-hidden"}, t("chat.messageLabel")), text,
    h("div", {class: "composer-buttons"},
      button(t("chat.attach"), () => fileInput.click(), "secondary", {"aria-label": t("chat.attachLabel")}),
      button(t("chat.poll"), () => createPoll(), "secondary"), sendButton)),
  fileInput);
  const readOnly = h("p", {class: "muted read-only"},
    chat.archived ? t("chat.archived") : t("chat.channelReadOnly"));
  // Why the composer is off (a block), read out with the message field.
  const blockedReason = h("p", {class: "blocked-reason", id: uid("blocked"), hidden: true});
  composer.prepend(blockedReason);
  const notices = h("div", {class: "chat-notices"});

  pane.replaceChildren(header, h("div", {class: "log-wrap"}, scroller, jump), notices,
    ctx.canPost() ? composer : readOnly);

  function setBlocked(reason) {
    if (ctx.blocked === Boolean(reason) && blockedReason.textContent === (reason || "")) return;
    ctx.blocked = Boolean(reason);
    blockedReason.textContent = reason || "";
    blockedReason.hidden = !reason;
    for (const control of composer.querySelectorAll("textarea, button")) control.disabled = ctx.blocked;
    if (reason) {
      text.setAttribute("aria-describedby", blockedReason.id);
      setReply(null);
    } else {
      text.removeAttribute("aria-describedby");
    }
    ctx.redraw();
  }
  // Before the first page is drawn: messages carry moderation's actions from the start.
  const detachModeration = attachModeration({chat, ctx, tools, notices, setBlocked});
  const detachCalls = chat.archived ? () => {} : attachCalls({chat, tools, notices});

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    jump.hidden = true;
    markRead();
  }

  function place(message) {
    const old = elements.get(message.id);
    const element = messageView(message, ctx);
    messages.set(message.id, message);
    elements.set(message.id, element);
    lastSeq = Math.max(lastSeq, message.seq || 0);
    if (old) {
      old.replaceWith(element);
      return element;
    }
    let before = null;
    for (const other of list.children) {
      if (other.dataset.seq && Number(other.dataset.seq) > message.seq) {
        before = other;
        break;
      }
    }
    list.insertBefore(element, before);
    return element;
  }

  function drop(id) {
    const element = elements.get(id);
    if (element) element.remove();
    elements.delete(id);
    messages.delete(id);
  }

  async function loadOlder() {
    if (loadingOlder || !cursor) return;
    loadingOlder = true;
    scroller.setAttribute("aria-busy", "true");
    try {
      const page = await api.get(`/chats/${chatId}/messages`, {limit: PAGE, cursor});
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      for (const message of page.items) place(message);
      cursor = page.next_cursor;
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
      if (!cursor) sentinel.replaceChildren(h("span", {class: "muted"}, t("chat.start")));
    } catch (error) {
      announce(errorText(error), "error");
    } finally {
      loadingOlder = false;
      scroller.removeAttribute("aria-busy");
    }
  }

  // The newest messages again, back to what we already have: after a reconnect
  // or a gap in the sequence. What vanished in that range was deleted meanwhile.
  async function catchUp() {
    const seen = new Set();
    let lowest = Infinity;
    let after = null;
    for (let pageNo = 0; pageNo < 20; pageNo += 1) {
      const page = await api.get(`/chats/${chatId}/messages`, {limit: 100, cursor: after});
      for (const message of page.items) {
        seen.add(message.id);
        lowest = Math.min(lowest, message.seq);
        const known = messages.get(message.id);
        if (!known || known.edited_at !== message.edited_at) place(message);
      }
      after = page.next_cursor;
      if (!after || lowest <= lastSeq) break;
    }
    for (const [id, message] of messages) {
      if (message.seq >= lowest && !seen.has(id)) drop(id);
    }
    if (nearBottom()) toBottom();
  }

  async function markRead() {
    if (document.visibilityState !== "visible" || !nearBottom()) return;
    const newest = [...messages.values()].reduce((a, b) => (!a || b.seq > a.seq ? b : a), null);
    if (!newest || newest.seq <= markedSeq) return;
    markedSeq = newest.seq;
    try {
      const state = await api.post(`/chats/${chatId}/read`, {message_id: newest.id});
      store.markRead(chatId, state.unread_count);
    } catch {
      markedSeq = 0;
    }
  }

  function setReply(message) {
    replyTo = message;
    replyBox.hidden = !message;
    if (!message) {
      replyBox.replaceChildren();
      return;
    }
    replyBox.replaceChildren(h("span", {}, t("chat.replyingTo"), " ",
      h("strong", {}, (message.author && message.author.display_name) || ""), ": ", snippet(message)),
    button(t("chat.cancelReply"), () => setReply(null), "link"));
    text.focus();
  }

  function addAttachment(file) {
    const progress = h("progress", {max: file.size || 1, value: 0,
      "aria-label": t("chat.uploading", {name: file.name})});
    const percent = h("span", {class: "upload-percent muted", "aria-hidden": "true"});
    const item = {name: file.name, size: file.size, done: false, id: null};
    const remove = button(t("common.remove"), () => {
      attachments.splice(attachments.indexOf(item), 1);
      item.element.remove();
    }, "link", {"aria-label": t("chat.removeFile", {name: file.name})});
    const failure = h("span", {class: "field-error"});
    item.element = h("li", {class: "attachment", dataset: {parts: file.size > PARTS_ABOVE ? "1" : ""}},
      h("span", {}, `${file.name} (${formatSize(file.size)})`), progress, percent, remove, failure);
    attachments.push(item);
    attachList.append(item.element);
    const onProgress = (loaded, total) => {
      progress.max = total;
      progress.value = loaded;
      percent.textContent = `${Math.floor((loaded / (total || 1)) * 100)}%`;
    };
    // A video lesson goes in parts: a broken connection costs a part, and "Continue" resumes it.
    const parts = {};
    const start = () => {
      item.failed = false;
      item.element.classList.remove("failed");
      failure.replaceChildren();
      item.promise = (file.size > PARTS_ABOVE ? uploadInParts(file, onProgress, parts) : upload("/files", file,
        onProgress)).then((stored) => {
        item.id = stored.id;
        item.done = true;
        progress.value = progress.max;
        percent.textContent = "100%";
        item.element.classList.add("uploaded");
      }, (error) => {
        item.failed = true;
        item.element.classList.add("failed");
        failure.replaceChildren(errorText(error), parts.upload && error.code === "network"
          ? [" ", button(t("chat.resumeUpload"), () => start(), "link")] : null);
      });
    };
    start();
  }

  async function send() {
    const value = text.value.trim();
    const pending = attachments.filter((item) => !item.failed);
    if (!value && !pending.length) return;
    sendButton.disabled = true;
    try {
      await Promise.all(pending.map((item) => item.promise));
      const fileIds = pending.filter((item) => item.id).map((item) => item.id);
      if (!value && !fileIds.length) return;
      const body = {text: value, file_ids: fileIds, reply_to: replyTo ? replyTo.id : null};
      const posted = await retrying(() => api.create(`/chats/${chatId}/messages`, body), ctx.lagging);
      text.value = "";
      attachments.splice(0);
      attachList.replaceChildren();
      setReply(null);
      if (!messages.has(posted.id)) place(posted);
      toBottom();
    } catch (error) {
      announce(errorText(error), "error");
    } finally {
      sendButton.disabled = ctx.blocked;
      if (!ctx.blocked) text.focus();
    }
  }

  function startEdit(message) {
    const element = elements.get(message.id);
    if (!element) return;
    const area = h("textarea", {rows: 3, maxlength: 4000, value: message.text});
    const form = h("form", {class: "edit-form", onsubmit: async (event) => {
      event.preventDefault();
      await busy(form.querySelector("button[type=submit]"), async () => {
        place(await api.patch(`/messages/${message.id}`, {text: area.value}));
      });
    }}, field(t("msg.editLabel"), area),
    h("div", {class: "row"}, h("button", {type: "submit", class: "primary"}, t("common.save")),
      button(t("common.cancel"), () => place(messages.get(message.id)), "secondary")));
    const body = element.querySelector(".msg-body");
    body.replaceChildren(form);
    area.focus();
  }

  async function removeMessage(message) {
    if (!await confirmAction(t("msg.deleteTitle"), t("msg.deleteConfirm"), t("msg.delete"))) return;
    try {
      await api.del(`/messages/${message.id}`);
      drop(message.id);
      announce(t("msg.deleted"));
    } catch (error) {
      announce(errorText(error), "error");
    }
  }

  async function createPoll() {
    const question = h("input", {type: "text", maxlength: 300, required: true});
    const options = h("div", {class: "poll-inputs"});
    const addOption = () => {
      if (options.childElementCount >= 12) return;
      options.append(field(t("poll.option", {n: options.childElementCount + 1}),
        h("input", {type: "text", maxlength: 200})));
    };
    addOption();
    addOption();
    const multiple = checkbox(t("poll.allowMultiple"));
    const anonymous = checkbox(t("poll.makeAnonymous"));
    const answer = await modal(t("poll.create"), [field(t("poll.question"), question), options,
      button(t("poll.addOption"), addOption, "link"), multiple, anonymous],
    [[t("common.cancel"), null, "secondary"], [t("poll.publish"), "ok", "primary"]]);
    if (answer !== "ok") return;
    const texts = [...options.querySelectorAll("input")].map((input) => input.value.trim()).filter(Boolean);
    if (!question.value.trim() || texts.length < 2) {
      announce(t("poll.incomplete"), "error");
      return;
    }
    try {
      const poll = await api.create(`/chats/${chatId}/polls`, {question: question.value.trim(), options: texts,
        multiple: multiple.input.checked, anonymous: anonymous.input.checked});
      ctx.polls.set(poll.id, poll);
      toBottom();
    } catch (error) {
      announce(errorText(error), "error");
    }
  }

  async function showMembers() {
    const items = h("ul", {class: "members"}, h("li", {}, t("common.loading")));
    const shown = modal(t("chat.membersTitle"), items, [[t("common.close"), null, "secondary"]]);
    try {
      const members = await all(`/chats/${chatId}/members`);
      items.replaceChildren(...members.map((member) => h("li", {class: "member"}, personName(member),
        member.role === "moderator" ? h("span", {class: "tag"}, t("chat.moderator")) : null)));
      if (!members.length) items.replaceChildren(h("li", {}, empty(t("chat.noMembers"))));
    } catch (error) {
      items.replaceChildren(h("li", {}, errorText(error)));
    }
    await shown;
  }

  async function makeLink() {
    // A link for the whole school, or for the people of one class or group.
    const units = (await all(`/orgs/${chat.org_id}/units`)).filter((unit) => unit.kind !== "staff_room");
    const forUnit = h("select", {name: "unit_id"}, h("option", {value: ""}, t("chat.linkForAll")),
      units.map((unit) => h("option", {value: unit.id, selected: unit.id === chat.unit_id}, unit.name)));
    const answer = await modal(t("chat.linkTitle"), [field(t("chat.linkFor"), forUnit, t("chat.linkForHint"))],
      [[t("common.cancel"), null, "secondary"], [t("chat.linkMake"), "ok", "primary"]]);
    if (answer !== "ok") return;
    const link = await api.create(`/chats/${chatId}/invites`, {unit_id: forUnit.value || null});
    const input = h("input", {type: "text", readonly: true, value: link.url});
    await modal(t("chat.linkTitle"), [h("p", {}, forUnit.value ? t("chat.linkLeadUnit",
      {unit: forUnit.selectedOptions[0].textContent}) : t("chat.linkLead")), field(t("chat.linkLabel"), input),
    button(t("common.copy"), () => copyText(link.url, input), "secondary")], [[t("common.close"), null, "secondary"]]);
  }

  // The chat's materials: every file of its messages, newest first.
  async function showMaterials() {
    const items = h("ul", {class: "materials"}, h("li", {}, t("common.loading")));
    const shown = modal(t("chat.materialsTitle"), items, [[t("common.close"), null, "secondary"]]);
    try {
      const found = await all(`/chats/${chatId}/files`);
      items.replaceChildren(...found.map((file) => h("li", {class: "material", dataset: {fileId: file.id}},
        h("button", {type: "button", class: "file", "aria-label": t("msg.download", {name: file.name,
          size: formatSize(file.size)}), onclick: (event) => busy(event.currentTarget,
          () => download(`/files/${file.id}`, file.name))},
        h("span", {class: "file-icon", "aria-hidden": "true"}, "⬇"), " ", file.name,
        h("span", {class: "file-size"}, ` (${formatSize(file.size)})`)),
        h("span", {class: "muted"}, " ", personName(file.author), " · ", formatDate(file.posted_at)))));
      if (!found.length) items.replaceChildren(h("li", {}, empty(t("chat.noMaterials"))));
    } catch (error) {
      items.replaceChildren(h("li", {}, errorText(error)));
    }
    await shown;
  }

  // Who read a post: how many, and by name in the staff channel.
  async function showReads(message) {
    const body = h("div", {}, h("p", {}, t("common.loading")));
    const shown = modal(t("msg.readsTitle"), body, [[t("common.close"), null, "secondary"]]);
    try {
      const reads = await api.get(`/messages/${message.id}/reads`);
      body.replaceChildren(h("p", {class: "reads-total"}, t("msg.readsOf", {n: reads.read, total: reads.members})),
        reads.readers ? h("ul", {class: "readers"}, reads.readers.map((person) => h("li", {}, personName(person))))
          : h("p", {class: "muted"}, t("msg.readsCountsOnly")));
    } catch (error) {
      body.replaceChildren(h("p", {class: "error"}, errorText(error)));
    }
    await shown;
  }

  async function leave() {
    if (!await confirmAction(t("chat.leaveTitle"), t("chat.leaveConfirm"), t("chat.leave"))) return;
    await api.del(`/chats/${chatId}/members/me`);
    store.chats.delete(chatId);
    store.emit("chats");
    navigate("/chats");
  }

  // First page, newest first; the divider before what I have not read.
  const unread = (store.chats.get(chatId) || {}).unread_count || 0;
  try {
    const page = await firstPage;
    for (const message of page.items) place(message);
    cursor = page.next_cursor;
    if (!cursor) sentinel.replaceChildren(h("span", {class: "muted"}, t("chat.start")));
    if (!page.items.length) sentinel.replaceChildren(h("span", {class: "muted"}, t("chat.empty")));
  } catch (error) {
    announce(errorText(error), "error");
  }
  const ordered = [...messages.values()].sort((a, b) => a.seq - b.seq);
  let divider = null;
  if (unread > 0 && unread <= ordered.length) {
    divider = h("li", {class: "divider", role: "separator"}, t("chat.unreadBelow"));
    list.insertBefore(divider, elements.get(ordered[ordered.length - unread].id));
  }
  // Only the history scrolls, never the page around it.
  scroller.scrollTop = divider ? divider.offsetTop - 8 : scroller.scrollHeight;
  markRead();

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadOlder();
  }, {root: scroller, rootMargin: "200px 0px 0px 0px"});
  observer.observe(sentinel);
  const onScroll = () => {
    if (nearBottom()) {
      jump.hidden = true;
      markRead();
    }
  };
  scroller.addEventListener("scroll", onScroll, {passive: true});
  const onVisible = () => markRead();
  document.addEventListener("visibilitychange", onVisible);

  const offs = [
    store.on("message.created", (message) => {
      if (message.chat_id !== chatId || messages.has(message.id)) return;
      const gap = lastSeq && message.seq > lastSeq + 1;
      const follow = nearBottom() || (message.author && message.author.id === ctx.myId);
      place(message);
      if (gap) catchUp().catch(() => {});
      if (follow) toBottom();
      else jump.hidden = false;
    }),
    store.on("message.updated", (message) => {
      if (message.chat_id === chatId && messages.has(message.id)) place(message);
    }),
    store.on("message.deleted", (data) => {
      if (data.chat_id === chatId) drop(data.id);
    }),
    store.on("poll.updated", (poll) => {
      if (poll.chat_id !== chatId) return;
      const known = ctx.polls.get(poll.id);
      const merged = {...poll, my_option_ids: known ? known.my_option_ids : poll.my_option_ids};
      ctx.polls.set(poll.id, merged);
      for (const card of list.querySelectorAll(`.poll[data-poll-id="${CSS.escape(poll.id)}"]`)) card.redraw(merged);
    }),
    store.on("chat.updated", (updated) => {
      if (updated.id !== chatId) return;
      Object.assign(chat, updated);
      header.querySelector(".chat-title").textContent = chat.title;
    }),
    store.on("chat.member.joined", (data) => {
      if (data.chat_id === chatId) membersButton.textContent = t("chat.members", {n: ++chat.member_count});
    }),
    store.on("chat.member.removed", (data) => {
      if (data.chat_id !== chatId) return;
      if (data.user_id === ctx.myId) {
        announce(t("chat.removed"), "error");
        navigate("/chats");
        return;
      }
      chat.member_count = Math.max(0, chat.member_count - 1);
      membersButton.textContent = t("chat.members", {n: chat.member_count});
    }),
    store.on("stream.resync", () => { catchUp().catch(() => {}); }),
  ];
  return () => {
    store.openChatId = null;
    detachModeration();
    detachCalls();
    observer.disconnect();
    scroller.removeEventListener("scroll", onScroll);
    document.removeEventListener("visibilitychange", onVisible);
    offs.forEach((off) => off());
  };
}
