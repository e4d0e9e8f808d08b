// One message as it is shown: author (with the teacher badge), time, the
// message it answers, its text (as text, never markup), files, a poll.
import {formatSize, formatTime, t} from "../i18n.js";
import {api, download} from "../api.js";
import {announce, busy, errorText, h} from "../dom.js";
import {personName} from "./common.js";

export function snippet(message) {
  if (!message) return t("msg.replyUnknown");
  const text = message.kind === "poll" ? t("chats.pollPreview", {q: message.text})
    : message.text || (message.files && message.files.length ? t("chats.filePreview") : "");
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function fileList(files) {
  if (!files || !files.length) return null;
  return h("ul", {class: "files"}, files.map((file) => h("li", {},
    h("button", {type: "button", class: "file", dataset: {fileId: file.id},
      "aria-label": t("msg.download", {name: file.name, size: formatSize(file.size)}),
      onclick: (event) => busy(event.currentTarget, () => download(`/files/${file.id}`, file.name))},
    h("span", {class: "file-icon", "aria-hidden": "true"}, "⬇"), " ", file.name,
    h("span", {class: "file-size"}, ` (${formatSize(file.size)})`)))));
}

// A poll: options to vote for and the results so far, redrawn when votes change.
export function pollCard(pollId, ctx) {
  const card = h("div", {class: "poll", dataset: {pollId}}, h("p", {class: "muted"}, t("common.loading")));
  const draw = (poll) => {
    const voted = poll.my_option_ids && poll.my_option_ids.length > 0;
    // A member blocked in the chat reads the results but does not vote.
    const shut = poll.closed || Boolean(ctx.blocked);
    const total = poll.total_voters || 0;
    const name = `poll-${poll.id}`;
    const inputs = [];
    const options = poll.options.map((option) => {
      const input = h("input", {type: poll.multiple ? "checkbox" : "radio", name, value: option.id,
        id: `${name}-${option.id}`, checked: (poll.my_option_ids || []).includes(option.id),
        disabled: shut});
      inputs.push(input);
      const share = total ? Math.round((option.votes / total) * 100) : 0;
      return h("li", {class: "poll-option"},
        h("div", {class: "poll-choice"}, input, h("label", {for: input.id}, option.text)),
        h("div", {class: "poll-result"},
          h("progress", {max: Math.max(total, 1), value: option.votes, "aria-hidden": "true"}),
          h("span", {class: "poll-votes", dataset: {optionId: option.id}},
            t("poll.votes", {n: option.votes, percent: share}))),
        option.voters && option.voters.length
          ? h("p", {class: "voters muted"}, option.voters.map((v) => v.display_name).join(", ")) : null);
    });
    const submit = h("button", {type: "submit", class: "secondary", disabled: shut},
      voted ? t("poll.revote") : t("poll.vote"));
    const form = h("form", {onsubmit: async (event) => {
      event.preventDefault();
      const chosen = inputs.filter((input) => input.checked).map((input) => input.value);
      if (!chosen.length) {
        announce(t("poll.chooseOne"), "error");
        return;
      }
      await busy(submit, async () => {
        const updated = await api.create(`/polls/${poll.id}/votes`, {option_ids: chosen});
        ctx.polls.set(poll.id, updated);
        draw(updated);
        announce(t("poll.thanks"));
      });
    }},
    h("fieldset", {}, h("legend", {class: "poll-question"}, poll.question),
      h("p", {class: "muted"}, [poll.multiple ? t("poll.multiple") : t("poll.single"),
        poll.anonymous ? ` · ${t("poll.anonymous")}` : "", poll.closed ? ` · ${t("poll.closed")}` : ""]),
      h("ul", {class: "poll-options"}, options)),
    h("div", {class: "row"}, poll.closed ? null : submit,
      h("span", {class: "muted poll-total"}, t("poll.total", {n: total}))));
    card.replaceChildren(form);
  };
  card.redraw = draw;
  const known = ctx.polls.get(pollId);
  if (known) {
    draw(known);
  } else {
    api.get(`/polls/${pollId}`).then((poll) => {
      ctx.polls.set(pollId, poll);
      draw(poll);
    }, (error) => card.replaceChildren(h("p", {class: "muted"}, errorText(error))));
  }
  return card;
}

export function messageView(message, ctx) {
  const mine = message.author && message.author.id === ctx.myId;
  const notice = message.kind === "notice";
  const actions = h("div", {class: "msg-actions"});
  if (!notice && ctx.canPost()) {
    actions.append(h("button", {type: "button", class: "link", onclick: () => ctx.reply(message)}, t("msg.reply")));
  }
  if (mine && message.kind === "text" && ctx.canPost()) {
    actions.append(h("button", {type: "button", class: "link", onclick: () => ctx.edit(message)}, t("msg.edit")));
  }
  // Authors delete their own; a moderator removes others' messages only by citing a rule (moderation).
  if (!notice && mine) {
    actions.append(h("button", {type: "button", class: "link danger-text", onclick: () => ctx.remove(message)},
      t("msg.delete")));
  }
  // A notice about a call (planned, started) leads to it.
  if (notice && message.call_id) {
    actions.append(h("a", {class: "button secondary call-link", href: `/call/${message.call_id}`}, t("msg.toCall")));
  }
  if (ctx.extraActions) actions.append(...ctx.extraActions(message));
  const replied = message.reply_to ? ctx.byId(message.reply_to) : null;
  const body = h("div", {class: "msg-body"});
  if (message.kind === "poll" && message.poll_id) {
    body.append(pollCard(message.poll_id, ctx));
  } else if (message.text) {
    body.append(h("p", {class: "text"}, message.text));
  }
  const files = fileList(message.files);
  const reads = !notice && ctx.seesReads() && typeof message.read_count === "number"
    ? h("button", {type: "button", class: "link reads", onclick: () => ctx.showReads(message)},
      t("msg.reads", {n: message.read_count})) : null;
  return h("li", {class: ["msg", mine && "mine", notice && "notice", message.held && "held"],
    dataset: {id: message.id, seq: message.seq}},
    notice ? null : h("div", {class: "meta"}, personName(message.author),
      h("time", {datetime: message.created_at}, formatTime(message.created_at)),
      message.edited_at ? h("span", {class: "edited"}, t("msg.edited")) : null, reads,
      message.held ? h("span", {class: "tag held", title: t("msg.heldTitle")}, t("msg.held")) : null),
    message.reply_to ? h("blockquote", {class: "reply-quote"},
      replied ? [h("span", {class: "reply-author"}, (replied.author && replied.author.display_name) || ""), " ",
        snippet(replied)] : t("msg.replyUnknown")) : null,
    body, files, actions.childElementCount ? actions : null);
}
