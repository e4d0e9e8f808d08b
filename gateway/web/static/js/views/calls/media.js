// A call's media in this browser: the camera, microphone and screen, and
// the connections that carry them. Through the platform's media server
// (mode "sfu") the calls service is the other side of every exchange: one
// sending connection answered through POST /calls/{id}/signal, and one
// receiving connection to which the others' media are added one participant
// at a time. Peer-to-peer (mode "p2p") this device connects to every other
// participant; offers, answers and ICE candidates go through the same
// endpoint and arrive as call.signal frames. The newcomer offers.
import {api} from "../../api.js";

const KINDS = ["audio", "video"];

// The m-sections of an SDP by their mid: what each carries (msid) and whether it is on.
function sections(sdp) {
  const found = new Map();
  for (const part of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /\na=mid:(\S+)/.exec(part);
    if (!mid) continue;
    const msid = /\na=msid:([^\r\n]+)/.exec(part);
    const off = /^\w+ 0 /.test(part) || /\na=inactive/.test(part);
    found.set(mid[1], off ? null : `${msid ? msid[1] : ""}|${/\na=ssrc:(\d+)/.exec(part)?.[1] || ""}`);
  }
  return found;
}

function candidatePayload(candidate) {
  return candidate ? {candidate: candidate.candidate, sdpMid: candidate.sdpMid,
    sdpMLineIndex: candidate.sdpMLineIndex} : {};
}

export class CallMedia {
  // `answer` is what POST /calls/{id}/join answered; `on` has remote(id, stream),
  // gone(id), failed(error) for what the screen shows.
  constructor(callId, answer, on) {
    this.callId = callId;
    this.answer = answer;
    this.mode = answer.media.mode;
    this.me = answer.participant_id;
    this.sends = answer.role !== "viewer";
    this.iceServers = answer.ice_servers || [];
    this.on = on;
    this.tracks = {audio: null, video: null};
    this.camera = null;          // kept while the screen is shared in its place
    this.sharing = false;
    this.forced = {audio: false, video: false};   // muted by the host
    this.preview = new MediaStream();
    this.closed = false;
    // Peer-to-peer: participant id -> {pc, stream, queued candidates}.
    this.peers = new Map();
    // Through the SFU.
    this.publisher = null;
    this.receiver = null;
    this.receiving = new Map();  // mid -> participant id
    this.offered = new Map();    // mid -> what the last offer carried there
    this.streams = new Map();    // participant id -> MediaStream
    this.subscribed = new Set();
    this.chain = Promise.resolve();
  }

  signal(to, type, payload) {
    return api.post(`/calls/${this.callId}/signal`, {to, type, payload});
  }

  // The device's camera and microphone, as far as the person allows them.
  async acquire(audio, video) {
    if (!this.sends) return;
    for (const kind of KINDS) {
      if ((kind === "audio" ? audio : video) && !this.forced[kind]) await this.setTrack(kind, true);
    }
  }

  async device(kind) {
    const stream = await navigator.mediaDevices.getUserMedia(kind === "audio"
      ? {audio: {echoCancellation: true, noiseSuppression: true}}
      : {video: {width: {ideal: 640}, height: {ideal: 480}}});
    return stream.getTracks()[0];
  }

  // Turning a device off stops it (its light goes out), not only its sending.
  async setTrack(kind, on) {
    if (on && this.forced[kind]) return false;
    const old = this.tracks[kind];
    if (!on) {
      if (kind === "video" && this.sharing) this.stopSharing(false);
      if (old) old.stop();
      this.tracks[kind] = null;
      if (kind === "video") this.camera = null;
    } else if (!old) {
      this.tracks[kind] = await this.device(kind);
      if (kind === "video") this.camera = this.tracks.video;
    }
    this.refreshPreview();
    await this.replace(kind);
    return Boolean(this.tracks[kind]);
  }

  async shareScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({video: true, audio: false});
    const screen = stream.getVideoTracks()[0];
    screen.addEventListener("ended", () => this.stopSharing(true));
    if (this.camera) this.camera.enabled = false;
    this.tracks.video = screen;
    this.sharing = true;
    this.refreshPreview();
    await this.replace("video");
  }

  // Back to the camera, if it was on, when sharing stops.
  stopSharing(backToCamera) {
    if (!this.sharing) return;
    this.sharing = false;
    this.tracks.video.stop();
    this.tracks.video = backToCamera && this.camera && !this.forced.video ? this.camera : null;
    if (this.tracks.video) this.tracks.video.enabled = true;
    this.refreshPreview();
    this.replace("video").catch(() => {});
    if (this.on.changed) this.on.changed();
  }

  // The host muted or let this participant's audio or video again.
  async force(kind, muted) {
    this.forced[kind] = muted;
    if (muted) await this.setTrack(kind, false);
  }

  refreshPreview() {
    for (const track of this.preview.getTracks()) this.preview.removeTrack(track);
    if (this.tracks.video) this.preview.addTrack(this.tracks.video);
  }

  senders(kind) {
    const pcs = this.mode === "sfu" ? [this.publisher] : [...this.peers.values()].map((peer) => peer.pc);
    return pcs.filter(Boolean).flatMap((pc) => pc.getTransceivers())
      .filter((transceiver) => transceiver.sender && transceiver.receiver.track.kind === kind)
      .map((transceiver) => transceiver.sender);
  }

  async replace(kind) {
    await Promise.all(this.senders(kind).map((sender) => sender.replaceTrack(this.tracks[kind])));
  }

  newConnection() {
    return new RTCPeerConnection({iceServers: this.iceServers});
  }

  // Fresh TURN credentials (POST /calls/{id}/presence) for connections made from now on and ICE restarts.
  useIceServers(servers) {
    this.iceServers = servers || this.iceServers;
    const pcs = [this.publisher, this.receiver, ...[...this.peers.values()].map((peer) => peer.pc)];
    for (const pc of pcs.filter(Boolean)) {
      try {
        pc.setConfiguration({...pc.getConfiguration(), iceServers: this.iceServers});
      } catch (error) {
        console.warn(error);
      }
    }
  }

  remote(id) {
    if (!this.streams.has(id)) this.streams.set(id, new MediaStream());
    return this.streams.get(id);
  }

  addRemoteTrack(id, track) {
    const stream = this.remote(id);
    for (const old of stream.getTracks()) {
      if (old.kind === track.kind && old !== track) stream.removeTrack(old);
    }
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    this.on.remote(id, stream);
  }

  // Starting: publish and receive (SFU), or offer to everyone present (p2p).
  async start() {
    if (this.mode === "sfu") {
      if (this.sends) await this.publish();
      for (const publisher of this.answer.media.publishers || []) this.subscribe(publisher.id);
    } else {
      await Promise.all((this.answer.media.peers || []).map((peer) => this.offerTo(peer.id)));
    }
  }

  // Candidates found before the other side can take them wait for it.
  trickle(pc, send) {
    const queue = [];
    let ready = false;
    pc.addEventListener("icecandidate", (event) => {
      if (ready) send(event.candidate).catch(() => {});
      else queue.push(event.candidate);
    });
    return () => {
      ready = true;
      for (const candidate of queue.splice(0)) send(candidate).catch(() => {});
    };
  }

  async publish() {
    const pc = this.newConnection();
    this.publisher = pc;
    for (const kind of KINDS) pc.addTransceiver(this.tracks[kind] || kind, {direction: "sendonly"});
    const flush = this.trickle(pc, (candidate) => this.signal("sfu", "ice",
      {...candidatePayload(candidate), target: "publisher"}));
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await this.signal("sfu", "offer", {sdp: pc.localDescription.sdp});
    await pc.setRemoteDescription({type: "answer", sdp: reply.payload.sdp});
    flush();
  }

  // Another participant's media, added to the one receiving connection; one
  // participant per exchange, so that what the offer adds is theirs.
  subscribe(id) {
    if (this.mode !== "sfu" || id === this.me || this.subscribed.has(id)) return this.chain;
    this.subscribed.add(id);
    this.chain = this.chain.then(() => this.receive(id)).catch((error) => {
      this.subscribed.delete(id);
      // Not publishing yet: its `published` frame brings it back here.
      if (error.code !== "feed_not_ready" && !this.closed) this.on.failed(error);
    });
    return this.chain;
  }

  async receive(id) {
    if (this.closed) return;
    const reply = await this.signal("sfu", "subscribe", {feeds: [id]});
    if (reply.type !== "offer") return;
    let flush = null;
    if (!this.receiver) {
      this.receiver = this.newConnection();
      flush = this.trickle(this.receiver, (candidate) => this.signal("sfu", "ice",
        {...candidatePayload(candidate), target: "subscriber"}));
    }
    const pc = this.receiver;
    await pc.setRemoteDescription({type: "offer", sdp: reply.payload.sdp});
    const now = sections(reply.payload.sdp);
    for (const [mid, carries] of now) {
      if (carries && this.offered.get(mid) !== carries) this.receiving.set(mid, id);
    }
    this.offered = now;
    await pc.setLocalDescription(await pc.createAnswer());
    await this.signal("sfu", "answer", {sdp: pc.localDescription.sdp});
    if (flush) flush();
    for (const transceiver of pc.getTransceivers()) {
      if (this.receiving.get(transceiver.mid) === id) this.addRemoteTrack(id, transceiver.receiver.track);
    }
  }

  // A participant left or stopped publishing: what came from them is gone.
  forget(id) {
    this.subscribed.delete(id);
    this.streams.delete(id);
    const peer = this.peers.get(id);
    if (peer && peer.pc) peer.pc.close();
    this.peers.delete(id);
    this.on.gone(id);
  }

  // Peer-to-peer.

  peer(id) {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = {pc: null, queued: []};
      this.peers.set(id, peer);
    }
    if (!peer.pc) {
      const pc = this.newConnection();
      peer.pc = pc;
      pc.addEventListener("icecandidate", (event) => {
        this.signal(id, "ice", candidatePayload(event.candidate)).catch(() => {});
      });
      pc.addEventListener("track", (event) => this.addRemoteTrack(id, event.track));
    }
    return peer;
  }

  async offerTo(id) {
    const {pc} = this.peer(id);
    for (const kind of KINDS) {
      pc.addTransceiver(this.tracks[kind] || kind, {direction: this.sends ? "sendrecv" : "recvonly"});
    }
    await pc.setLocalDescription(await pc.createOffer());
    await this.signal(id, "offer", {sdp: pc.localDescription.sdp});
  }

  // A call.signal frame from another participant.
  async onSignal(frame) {
    if (this.closed || this.mode !== "p2p") return;
    const id = frame.from;
    const payload = frame.payload || {};
    if (frame.type === "offer") {
      const peer = this.peer(id);
      await peer.pc.setRemoteDescription({type: "offer", sdp: payload.sdp});
      for (const transceiver of peer.pc.getTransceivers()) {
        const kind = transceiver.receiver.track.kind;
        transceiver.direction = this.sends ? "sendrecv" : "recvonly";
        await transceiver.sender.replaceTrack(this.tracks[kind]);
      }
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      await this.signal(id, "answer", {sdp: peer.pc.localDescription.sdp});
      await this.drain(peer);
    } else if (frame.type === "answer") {
      const peer = this.peers.get(id);
      if (!peer || !peer.pc) return;
      await peer.pc.setRemoteDescription({type: "answer", sdp: payload.sdp});
      await this.drain(peer);
    } else if (frame.type === "ice") {
      const peer = this.peers.get(id) || this.peer(id);
      const candidate = payload.candidate ? payload : null;
      if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(candidate);
      else peer.queued.push(candidate);
    }
  }

  async drain(peer) {
    for (const candidate of peer.queued.splice(0)) await peer.pc.addIceCandidate(candidate);
  }

  close() {
    this.closed = true;
    for (const track of [this.tracks.audio, this.tracks.video, this.camera]) if (track) track.stop();
    this.tracks = {audio: null, video: null};
    this.camera = null;
    for (const pc of [this.publisher, this.receiver, ...[...this.peers.values()].map((peer) => peer.pc)]) {
      if (pc) pc.close();
    }
    this.peers.clear();
    this.publisher = null;
    this.receiver = null;
  }
}
