// The web client: screens by path, the session, the realtime stream.
import {setLocale, t} from "./i18n.js";
import {announce, h} from "./dom.js";
import {match, navigate, route, start} from "./router.js";
import {logout, onChange, refresh, session} from "./session.js";
import {store} from "./store.js";
import {Stream} from "./stream.js";
import {moderationAlerts} from "./views/moderation/alerts.js";
import {callAlerts} from "./views/calls/alerts.js";

const root = document.getElementById("app");
// A screen's module is fetched when first shown; preload() starts that early.
const lazy = (path, name) => {
  const view = async (...args) => (await import(path))[name](...args);
  view.preload = () => import(path).catch(() => {});
  return view;
};

// Screens.
route("/", async () => navigate(session.signedIn ? "/chats" : "/signin", {replace: true}), {public: true});
route("/signin", lazy("./views/signin.js", "signInPage"), {public: true});
route("/join/:token", lazy("./views/join.js", "invitePage"), {public: true});
route("/chat/:token", lazy("./views/join.js", "chatLinkPage"), {public: true});
route("/chats", lazy("./views/chats.js", "chatsPage"));
route("/chats/:chatId", lazy("./views/chats.js", "chatsPage"));
route("/profile", lazy("./views/profile.js", "profilePage"));
route("/admin", lazy("./views/admin.js", "adminPage"));
route("/admin/:orgId", lazy("./views/admin.js", "adminPage"));
route("/admin/:orgId/:section", lazy("./views/admin.js", "adminPage"));
route("/operator", lazy("./views/operator.js", "operatorPage"));
route("/moderation", lazy("./views/moderation/mine.js", "myModerationPage"));
route("/moderation/chats/:chatId", lazy("./views/moderation/chat.js", "chatModerationPage"));
route("/moderation/chats/:chatId/:section", lazy("./views/moderation/chat.js", "chatModerationPage"));
route("/moderation/schools/:orgId", lazy("./views/moderation/school.js", "schoolModerationPage"));
route("/moderation/schools/:orgId/:section", lazy("./views/moderation/school.js", "schoolModerationPage"));
route("/call/:callId", lazy("./views/calls/room.js", "callPage"));

const stream = new Stream((frame) => store.handle(frame), (online) => {
  store.online = online;
  // On the page too: whoever drives it (a test, an assistive tool) can tell when it is live.
  document.documentElement.dataset.online = online ? "1" : "0";
  store.emit("online", online);
});

let cleanup = null;
let generation = 0;
let lastPath = null;

function shell() {
  const nav = h("nav", {class: "nav", "aria-label": t("nav.label")});
  const main = h("main", {id: "main", tabindex: "-1"});
  const header = h("header", {class: "top"},
    h("a", {class: "skip", href: "#main", onclick: (event) => {
      event.preventDefault();
      main.focus();
    }}, t("nav.skip")),
    h("a", {class: "brand", href: session.signedIn ? "/chats" : "/"}, t("app.name")),
    nav);
  if (session.signedIn) {
    const unread = h("span", {class: "badge", hidden: true});
    const offline = h("span", {class: "offline", role: "status", hidden: store.online}, t("nav.offline"));
    const reports = h("span", {class: "badge", hidden: true});
    const updateUnread = () => {
      const total = [...store.chats.values()].reduce((sum, chat) => sum + (chat.unread_count || 0), 0);
      unread.textContent = total ? String(total) : "";
      unread.hidden = !total;
      unread.setAttribute("aria-label", t("chats.unread", {n: total}));
      const open = store.openReports();
      reports.textContent = open ? String(open) : "";
      reports.hidden = !open;
      reports.setAttribute("aria-label", t("mod.openReports", {n: open}));
    };
    updateUnread();
    const links = [h("a", {href: "/chats"}, t("nav.chats"), " ", unread),
      h("a", {href: "/moderation"}, t("nav.moderation"), " ", reports)];
    for (const org of store.adminOrgs()) {
      links.push(h("a", {href: `/admin/${org.org_id}`}, t("nav.school")));
      break;
    }
    if (session.operator) links.push(h("a", {href: "/operator"}, t("nav.operator")));
    links.push(h("a", {href: "/profile"}, t("nav.profile")));
    links.push(h("button", {type: "button", class: "link", onclick: async () => {
      await logout();
      navigate("/signin");
    }}, t("nav.logout")));
    nav.append(offline, ...links);
    for (const link of links) {
      if (link.getAttribute && link.getAttribute("href") &&
          location.pathname.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    }
    const offs = [store.on("chats", updateUnread), store.on("online", (online) => { offline.hidden = online; })];
    header.cleanup = () => offs.forEach((off) => off());
  }
  root.replaceChildren(header, main);
  return {main, header};
}

async function draw() {
  const mine = ++generation;
  const found = match(location.pathname);
  if (cleanup) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
    cleanup = null;
  }
  if (found && found.view.preload) found.view.preload();
  if (session.signedIn && !store.me) {
    try {
      await store.load();
    } catch (error) {
      console.error(error);
    }
    if (mine !== generation) return;
  }
  const {main, header} = shell();
  const undo = [header.cleanup];
  const pathChanged = lastPath !== location.pathname;
  lastPath = location.pathname;
  try {
    if (!found) {
      document.title = t("app.title");
      main.append(h("h1", {}, t("page.notFound")), h("p", {}, h("a", {href: "/"}, t("page.home"))));
    } else if (!found.options.public && !session.signedIn) {
      const {signInPage} = await import("./views/signin.js");
      undo.push(await signInPage({}, main));
    } else {
      undo.push(await found.view(found.params, main));
    }
  } catch (error) {
    console.error(error);
    main.append(h("p", {class: "error", role: "alert"}, t("error.page")));
  }
  if (mine !== generation) {
    undo.forEach((fn) => typeof fn === "function" && fn());
    return;
  }
  cleanup = () => undo.forEach((fn) => typeof fn === "function" && fn());
  if (pathChanged) {
    const heading = main.querySelector("h1");
    if (heading && document.activeElement === document.body) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({preventScroll: true});
    }
  }
  document.documentElement.dataset.ready = "1";
  performance.mark("sferum:interactive");
}

export function redraw() {
  draw();
}

moderationAlerts();
callAlerts();

onChange(() => {
  if (session.signedIn) {
    stream.start();
  } else {
    stream.stop();
    store.reset();
    draw();
  }
});

window.addEventListener("sferum:redraw", () => draw());

async function boot() {
  setLocale("ru");
  document.title = t("app.title");
  await refresh();
  if (session.signedIn) stream.start();
  start(draw);
}

boot().catch((error) => {
  console.error(error);
  announce(t("error.page"), "error");
});
