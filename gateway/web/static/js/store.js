// What the screens share: who I am, my schools, my chats and invitations,
// kept current by the realtime stream. Screens listen with store.on(type, fn);
// every stream frame is also passed on under its own type, so screens added
// later (moderation, calls) listen to theirs without changes here.
import {all, api} from "./api.js";
import {session} from "./session.js";

const listeners = new Map();

export const store = {
  me: null,
  orgs: [],
  chats: new Map(),
  invitations: [],
  online: false,
  openChatId: null,

  on(type, listener) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(listener);
    return () => listeners.get(type).delete(listener);
  },

  emit(type, data) {
    for (const listener of listeners.get(type) || []) {
      try {
        listener(data);
      } catch (error) {
        console.error(error);
      }
    }
  },

  reset() {
    this.me = null;
    this.orgs = [];
    this.chats = new Map();
    this.invitations = [];
  },

  async load() {
    const [me, orgs] = await Promise.all([api.get("/me"), all("/me/orgs"), this.loadChats(),
      this.loadInvitations()]);
    this.me = me;
    this.orgs = orgs;
    this.emit("me", me);
  },

  async loadOrgs() {
    this.orgs = await all("/me/orgs");
    this.emit("orgs", this.orgs);
  },

  async loadChats() {
    const chats = await all("/chats", {}, 10);
    this.chats = new Map(chats.map((chat) => [chat.id, chat]));
    this.emit("chats");
  },

  async loadInvitations() {
    this.invitations = await all("/me/chat-invitations", {}, 5);
    this.emit("invitations");
  },

  sortedChats() {
    const stamp = (chat) => (chat.last_message ? chat.last_message.created_at : chat.created_at) || "";
    return [...this.chats.values()].sort((a, b) => stamp(b).localeCompare(stamp(a)));
  },

  openReports() {
    return [...this.chats.values()].reduce((sum, chat) => sum + (chat.open_reports || 0), 0);
  },

  // What a moderator's queue holds now, which messaging's count learns a moment later.
  setOpenReports(chatId, open) {
    const chat = this.chats.get(chatId);
    if (chat && chat.open_reports !== null && chat.open_reports !== undefined && chat.open_reports !== open) {
      chat.open_reports = open;
      this.emit("chats");
    }
  },

  adminOrgs() {
    return this.orgs.filter((org) => org.roles.includes("admin") || org.roles.includes("director"));
  },

  orgName(orgId) {
    const org = this.orgs.find((item) => item.org_id === orgId);
    return org ? org.name : "";
  },

  markRead(chatId, unread = 0) {
    const chat = this.chats.get(chatId);
    if (chat && chat.unread_count !== unread) {
      chat.unread_count = unread;
      this.emit("chats");
    }
  },

  handle(frame) {
    const data = frame.data || {};
    const myId = session.user && session.user.id;
    switch (frame.type) {
      case "message.created": {
        const chat = this.chats.get(data.chat_id);
        if (chat) {
          chat.last_message = data;
          const mine = data.author && data.author.id === myId;
          const looking = this.openChatId === data.chat_id && document.visibilityState === "visible";
          if (!mine && !looking) chat.unread_count = (chat.unread_count || 0) + 1;
          this.emit("chats");
        } else {
          this.loadChats();
        }
        break;
      }
      case "message.updated":
      case "message.deleted": {
        const chat = this.chats.get(data.chat_id);
        if (chat && chat.last_message && chat.last_message.id === data.id) {
          if (frame.type === "message.updated") chat.last_message = data;
          else this.loadChats();
          this.emit("chats");
        }
        break;
      }
      case "chat.invitation":
        this.invitations = [data, ...this.invitations.filter((item) => item.id !== data.id)];
        this.emit("invitations");
        break;
      case "chat.member.joined":
        if (data.user && data.user.id === myId) {
          this.invitations = this.invitations.filter((item) => item.chat.id !== data.chat_id);
          this.emit("invitations");
          this.loadChats();
        } else if (this.chats.has(data.chat_id)) {
          this.chats.get(data.chat_id).member_count += 1;
          this.emit("chats");
        }
        break;
      case "chat.member.removed":
        if (data.user_id === myId || (data.user && data.user.id === myId)) {
          this.chats.delete(data.chat_id);
          this.emit("chats");
        }
        break;
      case "chat.updated":
        if (this.chats.has(data.id)) {
          Object.assign(this.chats.get(data.id), data);
          this.emit("chats");
        }
        break;
      case "moderation.report.filed": {
        // The moderators' count of reports waiting (GET /chats answers it too).
        const chat = this.chats.get(data.chat_id);
        if (chat && chat.open_reports !== null && chat.open_reports !== undefined) {
          chat.open_reports += 1;
          this.emit("chats");
        }
        break;
      }
      case "stream.resync":
        this.loadChats();
        this.loadInvitations();
        break;
      default:
        break;
    }
    this.emit(frame.type, data);
  },
};
