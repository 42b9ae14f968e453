// The page's entry point: loads the saved chats, wires the chat and papers views, switches
// between them by the URL hash (#chat, #papers) and shows whether the index is ready.
//
// Plain ES modules served by the app: no framework, no build step, nothing from a CDN.

import { readiness } from "./api.js";
import { closeDrawers, initChat, openDrawer, setScope } from "./chat.js";
import { initPapers, showPapers } from "./papers.js";
import { initKey } from "./key.js";
import { initPopover } from "./popover.js";
import * as store from "./store.js";

const READY_POLL_MS = 2000;

function showView(name, { moveFocus }) {
  const papers = name === "papers";
  document.getElementById("chat-view").hidden = papers;
  document.getElementById("papers-view").hidden = !papers;
  document.body.dataset.view = papers ? "papers" : "chat";
  for (const link of document.querySelectorAll(".views a")) {
    const current = link.getAttribute("href") === `#${papers ? "papers" : "chat"}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  closeDrawers();
  if (papers) showPapers();
  // After a user's navigation, screen readers start at the new view's heading.
  if (moveFocus) document.getElementById(papers ? "papers-title" : "question").focus();
}

function route(moveFocus) {
  showView(location.hash === "#papers" ? "papers" : "chat", { moveFocus });
}

/** "224 papers" once the index is loaded; polls while the service is still loading it. */
async function showStatus() {
  const status = document.getElementById("status");
  try {
    const ready = await readiness();
    if (ready.status === "ready") {
      status.textContent = `${ready.papers} papers`;
      status.title = `Index ${ready.index_version}`;
      return;
    }
    if (ready.status === "failed") {
      status.textContent = "Index failed to load";
      return;
    }
    status.textContent = "Loading the index…";
  } catch {
    status.textContent = "Service unreachable";
  }
  window.setTimeout(showStatus, READY_POLL_MS);
}

function wireDrawers() {
  for (const name of ["history", "sources"]) {
    document.getElementById(`toggle-${name}`).addEventListener("click", (event) => {
      const open = event.currentTarget.getAttribute("aria-expanded") === "true";
      if (open) closeDrawers();
      else openDrawer(name);
    });
  }
  document.getElementById("backdrop").addEventListener("click", closeDrawers);
  document.addEventListener("keydown", (event) => {
    // The popover handles Escape first (and marks it handled): one Escape closes one thing.
    const drawerOpen = document.body.classList.contains("drawer-open");
    if (event.key === "Escape" && !event.defaultPrevented && drawerOpen) closeDrawers();
  });
}

function main() {
  store.load();
  initKey();
  initPopover();
  initChat();
  initPapers({
    onAsk: (papers) => {
      setScope(papers);
      location.hash = "#chat";
    },
  });
  wireDrawers();
  window.addEventListener("hashchange", () => route(true));
  route(false);
  showStatus();
  document.body.dataset.ready = "true"; // tests wait for this before typing
}

main();
