// The page of one call (/call/{id}, the join_url the platform hands out):
// before joining, the camera and microphone are chosen; in the call, a tile
// per participant with their video and name (never a phone number), the
// microphone, camera and screen, raising a hand and leaving; the host mutes
// and removes participants, admits from the waiting room, locks the call,
// ends it for everyone and reads the attendance. Kept current by call.updated
// and call.signal frames; the participants are read again on stream.resync.
import {formatTime, t} from "../../i18n.js";
import {api, download} from "../../api.js";
import {announce, busy, button, checkbox, confirmAction, errorText, h, modal} from "../../dom.js";
import {session} from "../../session.js";
import {store} from "../../store.js";
import {table} from "../common.js";
import {CallMedia} from "./media.js";
import {callTitle} from "./names.js";

const PRESENCE_MS = 30000;
const MEDIA_RETRIES = 3;

function minutes(seconds) {
  return t("call.minutes", {n: Math.round((seconds || 0) / 60)});
}

async function showAttendance(call) {
  const body = h("div", {class: "attendance"}, h("p", {}, t("common.loading")));
  const shown = modal(t("call.attendanceTitle"), body, [[t("common.close"), null, "secondary"]]);
  try {
    const report = await api.get(`/calls/${call.id}/attendance`);
    const rows = report.participants.map((row) => [row.display_name || t("person.noName"),
      row.intervals.map((stay) => `${formatTime(stay.joined_at)} – ${stay.left_at ? formatTime(stay.left_at)
        : t("call.stillIn")}`).join("; "), minutes(row.total_seconds), row.removed ? t("call.wasRemoved") : ""]);
    const absent = (report.roster || []).filter((entry) => !entry.attended);
    body.replaceChildren(
      table([t("call.attName"), t("call.attStays"), t("call.attTotal"), ""], rows, t("call.attendanceTitle")),
      report.roster && report.roster.length ? h("p", {class: "absent"}, absent.length
        ? t("call.absent", {names: absent.map((entry) => entry.display_name).join(", ")}) : t("call.noneAbsent"))
        : null,
      button(t("call.csv"), (event) => busy(event.currentTarget,
        () => download(`/calls/${call.id}/attendance?format=csv`, `attendance-${call.id}.csv`)), "secondary"));
  } catch (error) {
    body.replaceChildren(h("p", {class: "error", role: "alert"}, errorText(error)));
  }
  await shown;
}

export async function callPage({callId}, main) {
  const myId = session.user && session.user.id;
  const params = new URLSearchParams(location.search);
  let call;
  try {
    call = await api.get(`/calls/${callId}`);
  } catch (error) {
    main.append(h("h1", {}, t("call.title")), h("p", {class: "error", role: "alert"},
      error.status === 404 ? t("call.notFound") : errorText(error)), h("a", {href: "/chats"}, t("call.toChats")));
    return null;
  }
  document.title = `${callTitle(call)} — ${t("app.name")}`;
  const isHost = () => call.host && call.host.id === myId;
  const heading = h("h1", {class: "call-title"}, callTitle(call));
  const status = h("p", {class: "call-status", role: "status"});
  const alert = h("p", {class: "error", role: "alert", hidden: true});
  const stage = h("div", {class: "call-stage"});
  const back = call.chat_id ? h("a", {href: `/chats/${call.chat_id}`}, t("call.toChat")) : h("a", {href: "/chats"},
    t("call.toChats"));
  main.classList.add("call-main");
  main.append(h("div", {class: "call-head"}, heading, back), status, alert, stage);

  let media = null;
  let joined = false;
  let presenceTimer = 0;
  let waiting = false;
  const people = new Map();      // participant id -> participant view
  const tiles = new Map();       // participant id -> tile element

  function showError(message) {
    alert.textContent = message || "";
    alert.hidden = !message;
  }

  // A direct call nobody took says why: declined or not answered.
  function overText() {
    return t(["declined", "missed"].includes(call.outcome) ? `call.over.${call.outcome}` : `call.over.${call.status}`);
  }

  function describe() {
    if (call.status === "scheduled") return t("call.scheduledFor", {when: formatTime(call.scheduled_at)});
    if (call.status === "ringing") return t("call.ringing");
    if (call.status === "ended" || call.status === "cancelled") return overText();
    return joined ? t("call.inCall") : t("call.going");
  }

  // Before joining: which devices to bring.
  const useMic = checkbox(t("call.withMic"), {checked: true});
  const useCamera = checkbox(t("call.withCamera"), {checked: true});
  const joinButton = h("button", {type: "submit", class: "primary join-call"}, t("call.join"));
  const lobby = h("form", {class: "call-lobby card", onsubmit: (event) => {
    event.preventDefault();
    busy(joinButton, join);
  }}, h("p", {class: "muted"}, t("call.lobbyLead")), useMic, useCamera, h("div", {class: "actions"}, joinButton));

  function drawLobby() {
    status.textContent = describe();
    if (call.status === "ended" || call.status === "cancelled") {
      stage.replaceChildren();
      return;
    }
    joinButton.textContent = call.status === "ringing" && !isHost() ? t("call.answer") : t("call.join");
    stage.replaceChildren(lobby);
  }

  // In the call.
  const grid = h("ul", {class: "call-grid", "aria-label": t("call.participants")});
  const waitingBox = h("section", {class: "call-waiting", hidden: true, "aria-label": t("call.waitingRoom")});
  const toolbar = h("div", {class: "call-toolbar", role: "toolbar", "aria-label": t("call.controls")});
  const micButton = h("button", {type: "button", class: "secondary", "aria-pressed": "false"});
  const cameraButton = h("button", {type: "button", class: "secondary", "aria-pressed": "false"});
  const screenButton = h("button", {type: "button", class: "secondary", "aria-pressed": "false"},
    t("call.screen"));
  const handButton = h("button", {type: "button", class: "secondary", "aria-pressed": "false"}, t("call.hand"));
  const leaveButton = h("button", {type: "button", class: "danger"}, t("call.leave"));
  const hostTools = h("div", {class: "call-host-tools", role: "group", "aria-label": t("call.hostControls")});
  const lockButton = h("button", {type: "button", class: "secondary", "aria-pressed": "false"});

  function drawToolbar() {
    const me = people.get(media && media.me) || {};
    const sends = media && media.sends;
    micButton.hidden = cameraButton.hidden = screenButton.hidden = !sends;
    micButton.textContent = media && media.tracks.audio ? t("call.micOff") : t("call.micOn");
    micButton.setAttribute("aria-pressed", String(Boolean(media && media.tracks.audio)));
    micButton.disabled = Boolean(media && media.forced.audio);
    cameraButton.textContent = media && media.camera && !media.sharing ? t("call.cameraOff") : t("call.cameraOn");
    cameraButton.setAttribute("aria-pressed", String(Boolean(media && media.camera)));
    cameraButton.disabled = Boolean(media && media.forced.video);
    screenButton.textContent = media && media.sharing ? t("call.screenStop") : t("call.screen");
    screenButton.setAttribute("aria-pressed", String(Boolean(media && media.sharing)));
    screenButton.disabled = Boolean(media && media.forced.video) || !navigator.mediaDevices.getDisplayMedia;
    handButton.textContent = me.hand_raised ? t("call.handDown") : t("call.hand");
    handButton.setAttribute("aria-pressed", String(Boolean(me.hand_raised)));
    lockButton.textContent = call.locked ? t("call.unlock") : t("call.lock");
    lockButton.setAttribute("aria-pressed", String(Boolean(call.locked)));
    hostTools.hidden = !isHost();
  }

  function tileFor(person) {
    let tile = tiles.get(person.id);
    if (!tile) {
      const mine = media && person.id === media.me;
      const video = h("video", {autoplay: true, playsinline: true, class: "call-video",
        "aria-label": t("call.videoOf", {name: person.display_name || t("person.noName")})});
      video.muted = mine;  // never hear oneself
      tile = h("li", {class: ["call-tile", mine && "me"], dataset: {participantId: person.id, userId: person.user_id}},
        video, h("div", {class: "call-tile-info"}), h("div", {class: "call-tile-actions"}));
      tile.video = video;
      tiles.set(person.id, tile);
      grid.append(tile);
      if (mine) video.srcObject = media.preview;
      else if (media && media.streams.has(person.id)) video.srcObject = media.streams.get(person.id);
    }
    const mine = media && person.id === media.me;
    tile.querySelector(".call-tile-info").replaceChildren(
      h("span", {class: "call-name"}, mine ? t("call.you", {name: person.display_name || ""})
        : person.display_name || t("person.noName")),
      person.role === "host" ? h("span", {class: "tag"}, t("call.host")) : null,
      person.hand_raised ? h("span", {class: "tag hand", role: "img", "aria-label": t("call.handRaised")}, "✋")
        : null,
      person.audio_muted ? h("span", {class: "tag muted-tag"}, t("call.audioMuted")) : null,
      person.video_muted ? h("span", {class: "tag muted-tag"}, t("call.videoMuted")) : null);
    const actions = tile.querySelector(".call-tile-actions");
    actions.replaceChildren();
    if (isHost() && !mine && person.role !== "host") {
      const name = person.display_name || t("person.noName");
      actions.append(
        button(person.audio_muted ? t("call.allowAudio") : t("call.muteAudio"), (event) => busy(event.currentTarget,
          () => hostMute(person, {audio: !person.audio_muted})), "link", {"aria-label":
          t(person.audio_muted ? "call.allowAudioOf" : "call.muteAudioOf", {name})}),
        button(person.video_muted ? t("call.allowVideo") : t("call.muteVideo"), (event) => busy(event.currentTarget,
          () => hostMute(person, {video: !person.video_muted})), "link", {"aria-label":
          t(person.video_muted ? "call.allowVideoOf" : "call.muteVideoOf", {name})}),
        button(t("call.remove"), (event) => busy(event.currentTarget, () => hostRemove(person)), "link danger-text",
          {"aria-label": t("call.removeOf", {name})}));
    }
    return tile;
  }

  function dropTile(id) {
    const tile = tiles.get(id);
    if (tile) tile.remove();
    tiles.delete(id);
  }

  function drawWaiting(list) {
    waitingBox.hidden = !isHost() || !list.length;
    waitingBox.replaceChildren(h("h2", {}, t("call.waitingRoom")), h("ul", {}, list.map((person) =>
      h("li", {class: "waiting-person"}, person.display_name || t("person.noName"), " ",
        button(t("call.admit"), (event) => busy(event.currentTarget, async () => {
          await api.post(`/calls/${callId}/participants/${person.id}/admit`);
          await readParticipants();
        }), "secondary", {"aria-label": t("call.admitOf", {name: person.display_name || ""})})))));
  }

  // What the host muted stays off on this device, whatever order the frames came in.
  async function obey(person) {
    for (const kind of ["audio", "video"]) {
      const muted = Boolean(person[`${kind}_muted`]);
      if (muted === media.forced[kind]) continue;
      await media.force(kind, muted);
      announce(t(`call.host${muted ? "Muted" : "Allowed"}.${kind}`), muted ? "error" : "info");
    }
  }

  function place(person) {
    people.set(person.id, person);
    if (media && person.id === media.me) obey(person).then(drawToolbar, (error) => console.warn(error));
    if (person.state === "joined") tileFor(person);
    else dropTile(person.id);
  }

  async function readParticipants() {
    const answer = await api.get(`/calls/${callId}/participants`);
    const here = new Set();
    for (const person of answer.items.filter((item) => item.state === "joined")) {
      here.add(person.id);
      place(person);
      if (person.publishing && media) media.subscribe(person.id);
    }
    for (const id of [...tiles.keys()]) {
      if (!here.has(id)) {
        dropTile(id);
        if (media) media.forget(id);
      }
    }
    drawWaiting(answer.items.filter((item) => item.state === "waiting"));
    drawToolbar();
  }

  async function hostMute(person, change) {
    const updated = await api.post(`/calls/${callId}/participants/${person.id}/mute`, change);
    place(updated);
  }

  async function hostRemove(person) {
    if (!await confirmAction(t("call.removeTitle"), t("call.removeConfirm", {name: person.display_name || ""}),
      t("call.remove"))) return;
    place(await api.post(`/calls/${callId}/participants/${person.id}/remove`));
    if (media) media.forget(person.id);
  }

  function enterRoom(answer) {
    joined = true;
    call = answer.call || call;
    media = new CallMedia(callId, answer, {
      remote: (id, stream) => {
        const tile = tiles.get(id);
        if (tile && tile.video.srcObject !== stream) tile.video.srcObject = stream;
      },
      gone: (id) => {
        const tile = tiles.get(id);
        if (tile) tile.video.srcObject = null;
      },
      failed: (error) => showError(errorText(error)),
      changed: () => drawToolbar(),
    });
    micButton.onclick = () => busy(micButton, async () => {
      await media.setTrack("audio", !media.tracks.audio);
      drawToolbar();
    });
    cameraButton.onclick = () => busy(cameraButton, async () => {
      await media.setTrack("video", !(media.camera && !media.sharing));
      drawToolbar();
    });
    screenButton.onclick = () => busy(screenButton, async () => {
      if (media.sharing) media.stopSharing(true);
      else await media.shareScreen();
      drawToolbar();
    });
    handButton.onclick = () => busy(handButton, async () => {
      const me = people.get(media.me) || {};
      place(await api.post(`/calls/${callId}/hand`, {raised: !me.hand_raised}));
      drawToolbar();
    });
    leaveButton.onclick = () => busy(leaveButton, leave);
    lockButton.onclick = () => busy(lockButton, async () => {
      call = await api.post(`/calls/${callId}/lock`, {locked: !call.locked});
      drawToolbar();
    });
    hostTools.replaceChildren(lockButton,
      button(t("call.attendance"), () => showAttendance(call), "secondary"),
      button(t("call.endForAll"), (event) => busy(event.currentTarget, endForAll), "danger"));
    toolbar.replaceChildren(micButton, cameraButton, screenButton, handButton, leaveButton);
    stage.replaceChildren(waitingBox, grid, toolbar, hostTools);
    status.textContent = describe();
    presenceTimer = setInterval(async () => {
      try {
        const fresh = await api.post(`/calls/${callId}/presence`);
        media.useIceServers(fresh.ice_servers);
      } catch (error) {
        if (error.code === "not_in_call") finish(t("call.droppedOut"));
      }
    }, PRESENCE_MS);
    return media;
  }

  async function join() {
    showError("");
    let answer;
    for (let attempt = 1; ; attempt += 1) {
      try {
        answer = await api.post(`/calls/${callId}/join`);
        break;
      } catch (error) {
        // The media server may be a moment away (503 with Retry-After): asking again is safe.
        if (error.code !== "media_unavailable" || attempt >= MEDIA_RETRIES) {
          showError(error.code === "call_not_started" ? t("call.notStartedYet",
            {when: formatTime(error.details.scheduled_at)}) : errorText(error));
          return;
        }
        await new Promise((resolve) => { setTimeout(resolve, Math.max(error.retryAfter, 1) * 1000); });
      }
    }
    if (answer.status !== "joined") {
      waiting = true;
      status.textContent = answer.status === "waiting" ? t("call.inWaitingRoom") : t("call.waitForHost");
      return;
    }
    waiting = false;
    const entered = enterRoom(answer);
    place({id: answer.participant_id, user_id: myId, display_name: store.me ? store.me.display_name : "",
      role: answer.role, state: "joined"});
    try {
      await entered.acquire(useMic.input.checked, useCamera.input.checked);
    } catch (error) {
      console.warn(error);
      announce(t("call.noDevices"), "error");
    }
    drawToolbar();
    try {
      await entered.start();
    } catch (error) {
      showError(errorText(error));
    }
    await readParticipants();
  }

  function finish(message) {
    clearInterval(presenceTimer);
    if (media) media.close();
    media = null;
    joined = false;
    waiting = false;
    people.clear();
    tiles.clear();
    grid.replaceChildren();
    drawLobby();
    if (message) status.textContent = message;
  }

  async function leave() {
    try {
      await api.post(`/calls/${callId}/leave`);
    } finally {
      finish(t("call.youLeft"));
    }
  }

  async function endForAll() {
    if (!await confirmAction(t("call.endTitle"), t("call.endConfirm"), t("call.endForAll"))) return;
    call = await api.post(`/calls/${callId}/end`);
    finish(t("call.over.ended"));
  }

  async function onUpdated(data) {
    if (!data.call || data.call.id !== callId) return;
    call = {...call, ...data.call};
    const person = data.participant;
    const mine = person && person.user_id === myId;
    switch (data.change) {
      case "ended":
      case "cancelled":
        finish(overText());
        return;
      case "removed":
        if (mine) {
          finish(t("call.youWereRemoved"));
          showError(t("call.youWereRemoved"));
          return;
        }
        break;
      case "started":
      case "admitted":
        if (waiting && (data.change === "started" || mine)) await join();
        break;
      default:
        break;
    }
    if (!joined) {
      if (!waiting) drawLobby();
      return;
    }
    if (person) {
      place(person);
      if (person.state !== "joined" && media) media.forget(person.id);
      else if (data.change === "published" && media) media.subscribe(person.id);
    }
    if (data.change === "waiting") await readParticipants();
    status.textContent = describe();
    drawToolbar();
  }

  const offs = [
    store.on("call.updated", (data) => { onUpdated(data).catch((error) => showError(errorText(error))); }),
    store.on("call.signal", (frame) => {
      if (frame.call_id === callId && media) media.onSignal(frame).catch((error) => console.warn(error));
    }),
    store.on("stream.resync", () => {
      if (joined) readParticipants().catch(() => {});
    }),
  ];
  drawLobby();
  // Answering from the ringing notice goes straight in.
  if (params.get("answer") === "1" && call.status === "ringing") busy(joinButton, join);

  return () => {
    offs.forEach((off) => off());
    if (joined) api.post(`/calls/${callId}/leave`).catch(() => {});
    clearInterval(presenceTimer);
    if (media) media.close();
  };
}
