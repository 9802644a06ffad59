// The dashboard's entry point: a hash router over the views. Each view gets a fresh <main>
// content and an AbortSignal that stops its polling when the person navigates away.

import { certificatesView } from "./certificates-view.js";
import { errorMessage } from "./components.js";
import { h } from "./dom.js";
import { healthView } from "./health-view.js";
import { linkView, linksView } from "./links-view.js";
import { overviewView } from "./overview-view.js";

const ROUTES = [
  [/^#?\/?$/, "certificates", () => certificatesView],
  [/^#\/certificates\/([^/]+)$/, "overview", (m) => (main, opts) => overviewView(main, decodeURIComponent(m[1]), opts)],
  [/^#\/links\/?$/, "links", () => linksView],
  [/^#\/health\/?$/, "health", () => healthView],
  [/^#\/links\/([^/]+)$/, "link", (m) => (main, opts) => linkView(main, decodeURIComponent(m[1]), opts)],
];

const main = document.getElementById("main");
let current = null;
let first = true;

async function show() {
  const hash = location.hash.startsWith("#/") ? location.hash : "";
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const match = ROUTES.map(([re, name, view]) => [re.exec(hash), name, view]).find(([m]) => m);
  main.replaceChildren();
  main.setAttribute("aria-busy", "true");
  markNavigation(match ? match[1] : "");
  if (!match) {
    main.append(h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the certificates")));
  }
  const started = performance.now();
  try {
    if (match) {
      main.dataset.view = match[1];
      const view = match[2](match[0]);
      const heading = view(main, { signal: controller.signal });
      focusHeading();
      await heading;
    }
  } catch (err) {
    main.append(errorMessage(err));
  } finally {
    if (current === controller) {
      main.setAttribute("aria-busy", "false");
      main.dataset.renderMs = String(Math.round(performance.now() - started));
      document.title = `${main.querySelector("h1")?.firstChild?.textContent || "certsync"} · certsync`;
    }
  }
}

function focusHeading() {
  // On navigation, move focus to the new page's heading so keyboard and screen reader users
  // land on it; not on the first load (the browser's own start position is kept).
  if (first) {
    first = false;
    return;
  }
  main.querySelector("h1")?.focus();
}

function markNavigation(name) {
  for (const a of document.querySelectorAll("nav.main a")) {
    const active = a.dataset.nav === name || (a.dataset.nav === "certificates" && name === "overview") || (a.dataset.nav === "links" && name === "link");
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// The skip link moves focus without touching the hash (which is the route).
document.querySelector("a.skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", show);
show();
