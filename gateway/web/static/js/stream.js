// The realtime stream: one WebSocket, opened with a single-use ticket (never
// the access token in the URL), reopened with backoff when it drops. Every
// reopening after the first is reported as a `stream.resync` frame, so the
// screens read history again and nothing missed while away stays missing.
import {api} from "./api.js";
import {refresh} from "./session.js";

export class Stream {
  constructor(onFrame, onState) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.socket = null;
    this.stopped = true;
    this.attempt = 0;
    this.everReady = false;
    this.timer = 0;
    this.online = () => this.reconnectSoon(0);
    // The browser knows the network is gone before the socket finds out.
    this.offline = () => {
      if (this.socket) this.socket.close(4000, "offline");
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.online);
    window.addEventListener("offline", this.offline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener("online", this.online);
    window.removeEventListener("offline", this.offline);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  async connect() {
    clearTimeout(this.timer);
    if (this.stopped || (this.socket && this.socket.readyState <= 1)) return;
    let ticket;
    try {
      ({ticket} = await api.post("/stream/ticket"));
    } catch {
      this.reconnectSoon();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "stream.ready") {
        this.attempt = 0;
        this.onState(true);
        if (this.everReady) this.onFrame({type: "stream.resync", data: {reason: "reconnected"}});
        this.everReady = true;
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = async (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onState(false);
      if (this.stopped) return;
      if (event.code === 4001) await refresh();  // the access token ran out
      this.reconnectSoon(event.code === 4001 ? 0 : undefined);
    };
  }

  reconnectSoon(delay) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const backoff = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 6);
    this.timer = setTimeout(() => this.connect(), delay === undefined ? backoff : delay);
  }
}
