// Screens by path, with the browser's history. A route is a pattern such as
// "/chats/:chatId" and a function that draws the screen into the page and
// may return a function that undoes what it set up.
const routes = [];
let render = null;

export function route(pattern, view, options = {}) {
  const names = [];
  const regex = new RegExp(`^${pattern.replace(/:(\w+)\*?/g, (whole, name) => {
    names.push(name);
    return whole.endsWith("*") ? "(.*)" : "([^/]+)";
  })}/?$`);
  routes.push({regex, names, view, options});
}

export function match(path) {
  for (const item of routes) {
    const found = item.regex.exec(path);
    if (found) {
      const params = {};
      item.names.forEach((name, index) => { params[name] = decodeURIComponent(found[index + 1]); });
      return {...item, params};
    }
  }
  return null;
}

export function navigate(path, {replace = false} = {}) {
  if (path === location.pathname + location.search) {
    if (render) render();
    return;
  }
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  if (render) render();
}

export function start(draw) {
  render = draw;
  window.addEventListener("popstate", () => render());
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
    const target = new URL(link.href, location.href);
    if (target.origin !== location.origin || target.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(target.pathname + target.search);
  });
  render();
}
