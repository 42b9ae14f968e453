// The papers view: browse and search the indexed papers (/v1/papers with q and paging), read an
// abstract, and ask about one paper or a selection of them (checkboxes, kept across pages).

import { getPaper, listPapers } from "./api.js";
import { announce, authorLine, el, paperLink } from "./dom.js";

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;

let ui = {};
let query = "";
let offset = 0;
let total = 0;
let loading = null; // AbortController of the page request in flight
let searchTimer = 0;
const selected = new Map(); // paper_id -> {paper_id, title, url}
let askAbout = () => {};

/** `onAsk(papers)` scopes the chat to the papers and shows it. */
export function initPapers({ onAsk }) {
  askAbout = onAsk;
  ui = {
    form: document.getElementById("papers-search"),
    q: document.getElementById("papers-q"),
    count: document.getElementById("papers-count"),
    list: document.getElementById("papers-list"),
    prev: document.getElementById("papers-prev"),
    next: document.getElementById("papers-next"),
    page: document.getElementById("papers-page"),
    bar: document.getElementById("selection-bar"),
    barCount: document.getElementById("selection-count"),
  };
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  // Results follow the typing, after a pause so each keystroke is not a request.
  ui.q.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(search, SEARCH_DELAY_MS);
  });
  ui.prev.addEventListener("click", () => load(Math.max(0, offset - PAGE_SIZE)));
  ui.next.addEventListener("click", () => load(offset + PAGE_SIZE));
  document.getElementById("ask-selection").addEventListener("click", () => {
    askAbout([...selected.values()]);
  });
  document.getElementById("clear-selection").addEventListener("click", () => {
    selected.clear();
    for (const box of ui.list.querySelectorAll("input[type=checkbox]")) box.checked = false;
    renderSelection();
  });
}

/** Called when the view is shown: the first time, load the first page. */
export function showPapers() {
  if (!ui.list.childElementCount && !loading) load(0);
}

function search() {
  window.clearTimeout(searchTimer);
  if (ui.q.value.trim() === query && ui.list.childElementCount) return;
  query = ui.q.value.trim();
  load(0);
}

async function load(newOffset) {
  if (loading) loading.abort();
  const controller = new AbortController();
  loading = controller;
  ui.list.setAttribute("aria-busy", "true");
  try {
    const request = { q: query, offset: newOffset, limit: PAGE_SIZE };
    const page = await listPapers(request, controller.signal);
    offset = newOffset;
    total = page.total;
    ui.list.replaceChildren(...page.papers.map(paperItem));
    renderCount(page.papers.length);
  } catch (error) {
    if (controller.signal.aborted) return;
    ui.count.textContent = `The papers could not be loaded: ${error.message}`;
  } finally {
    if (loading === controller) {
      loading = null;
      ui.list.setAttribute("aria-busy", "false");
    }
  }
}

function renderCount(shown) {
  const range = shown ? `${offset + 1}–${offset + shown} of ${total}` : `0 of ${total}`;
  const what = query ? `papers matching “${query}”` : "papers";
  ui.count.textContent = total ? `${range} ${what}` : `No ${what}.`;
  ui.prev.disabled = offset === 0;
  ui.next.disabled = offset + shown >= total;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  ui.page.textContent = `Page ${Math.floor(offset / PAGE_SIZE) + 1} of ${pages}`;
}

function paperItem(paper) {
  const checkbox = el("input", {
    type: "checkbox",
    class: "paper-select",
    "aria-label": `Select “${paper.title}”`,
    checked: selected.has(paper.paper_id),
  });
  checkbox.addEventListener("change", () => {
    if (checkbox.checked) selected.set(paper.paper_id, summary(paper));
    else selected.delete(paper.paper_id);
    renderSelection();
  });
  const meta = [authorLine(paper.authors), paper.published].filter(Boolean).join(" · ");
  return el(
    "li",
    { class: "paper", dataset: { paperId: paper.paper_id } },
    checkbox,
    el(
      "div",
      { class: "paper-main" },
      el("h3", { class: "paper-title" }, paperLink(paper.title, paper.url)),
      meta ? el("p", { class: "paper-meta" }, meta) : null,
      abstractDetails(paper)
    ),
    el("button", {
      type: "button",
      class: "ask-about",
      "aria-label": `Ask about this paper: ${paper.title}`,
      onclick: () => askAbout([summary(paper)]),
    }, "Ask about this paper")
  );
}

function summary(paper) {
  return { paper_id: paper.paper_id, title: paper.title, url: paper.url };
}

/** A collapsed "Abstract" that fetches the paper the first time it is opened. */
function abstractDetails(paper) {
  const body = el("p", { class: "paper-abstract" }, "Loading…");
  const details = el("details", { class: "paper-details" }, el("summary", {}, "Abstract"), body);
  details.addEventListener("toggle", () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    getPaper(paper.paper_id).then(
      (full) => {
        body.textContent = full.abstract || "This paper has no abstract.";
      },
      (error) => {
        body.textContent = `The abstract could not be loaded: ${error.message}`;
        delete details.dataset.loaded;
      }
    );
  });
  return details;
}

function renderSelection() {
  const n = selected.size;
  ui.bar.hidden = n === 0;
  ui.barCount.textContent = `${n} paper${n === 1 ? "" : "s"} selected`;
  if (n) announce(ui.barCount.textContent);
}
