// The citation popover: hovering, focusing or clicking a citation chip (or a "show abstract"
// button of the sources panel) shows the paper's title, its abstract with the quoted
// sentence(s) highlighted, and its link.
//
// Hover and keyboard focus show a preview; a click (or Enter/Space) pins it open and moves
// focus into it so keyboard users can reach its link; Escape closes it and returns focus to
// the chip. Listeners are delegated to the document because answers re-render while they
// stream, replacing their chips.

import { getPaper } from "./api.js";
import { authorLine, el, paperLink, safeUrl, srOnly } from "./dom.js";

const OPEN_DELAY_MS = 120;
const CLOSE_DELAY_MS = 250;

// anchor element -> what it cites: {n, paper_id, title, url, sentence_indices, quote}
const anchors = new WeakMap();
let popover = null;
let current = null; // {anchor, pinned}
let openTimer = 0;
let closeTimer = 0;
let restoringFocus = false; // focus returning to a chip after Escape must not reopen it

/** Make `anchor` (a button) open the popover for `cite`. */
export function citationAnchor(anchor, cite) {
  anchors.set(anchor, cite);
  anchor.dataset.cite = "";
  anchor.setAttribute("aria-haspopup", "dialog");
  anchor.setAttribute("aria-expanded", "false");
  anchor.setAttribute("aria-controls", "citation-popover");
  return anchor;
}

function anchorOf(node) {
  const anchor = node instanceof Element ? node.closest("[data-cite]") : null;
  return anchor && anchors.has(anchor) ? anchor : null;
}

function inPopover(node) {
  return Boolean(popover && node instanceof Node && popover.contains(node));
}

export function initPopover() {
  popover = document.getElementById("citation-popover");
  document.addEventListener("mouseover", onMouseOver);
  document.addEventListener("mouseout", onMouseOut);
  document.addEventListener("focusin", onFocusIn);
  document.addEventListener("focusout", onFocusOut);
  document.addEventListener("click", onClick);
  document.addEventListener("pointerdown", onPointerDown);
  document.addEventListener("keydown", onKeyDown);
  // Keep the popover next to its chip while the conversation scrolls or the window resizes.
  window.addEventListener("resize", place);
  document.addEventListener("scroll", place, true);
}

function onMouseOver(event) {
  const anchor = anchorOf(event.target);
  if (anchor || inPopover(event.target)) window.clearTimeout(closeTimer);
  if (anchor && (!current || current.anchor !== anchor) && !(current && current.pinned)) {
    window.clearTimeout(openTimer);
    openTimer = window.setTimeout(() => open(anchor, { pinned: false }), OPEN_DELAY_MS);
  }
}

function onMouseOut(event) {
  const from = anchorOf(event.target) || (inPopover(event.target) ? popover : null);
  if (!from) return;
  window.clearTimeout(openTimer);
  const to = event.relatedTarget;
  if (to && (from.contains(to) || inPopover(to) || (current && current.anchor.contains(to)))) {
    return;
  }
  if (current && !current.pinned) {
    closeTimer = window.setTimeout(() => {
      // Keyboard focus on the chip keeps the preview open after the mouse leaves.
      if (current && !current.pinned && document.activeElement !== current.anchor) close();
    }, CLOSE_DELAY_MS);
  }
}

function onFocusIn(event) {
  const anchor = anchorOf(event.target);
  if (anchor && !restoringFocus && !(current && current.anchor === anchor)) {
    open(anchor, { pinned: false });
  }
  if (anchor || inPopover(event.target)) window.clearTimeout(closeTimer);
}

function onFocusOut(event) {
  if (!current) return;
  const to = event.relatedTarget;
  const leaving = anchorOf(event.target) === current.anchor || inPopover(event.target);
  if (leaving && !(to && (inPopover(to) || to === current.anchor))) {
    // Tabbing away from the chip or out of the popover closes it, pinned or not.
    if (!current.pinned || to) close();
  }
}

function onClick(event) {
  if (event.target instanceof Element && event.target.closest(".popover-close")) {
    close({ restoreFocus: true });
    return;
  }
  const anchor = anchorOf(event.target);
  if (!anchor) return;
  if (current && current.anchor === anchor && current.pinned) {
    close({ restoreFocus: true });
  } else {
    open(anchor, { pinned: true });
    // Into the dialog, so that Tab reaches its link; Escape comes back to the chip.
    popover.focus({ preventScroll: true });
  }
}

function onPointerDown(event) {
  if (current && !inPopover(event.target) && !current.anchor.contains(event.target)) close();
}

function onKeyDown(event) {
  if (event.key !== "Escape" || !current) return;
  const focused = document.activeElement;
  const focusInside = inPopover(focused) || focused === current.anchor;
  close({ restoreFocus: focusInside });
  event.preventDefault();
}

function open(anchor, { pinned }) {
  window.clearTimeout(openTimer);
  window.clearTimeout(closeTimer);
  if (current && current.anchor !== anchor) current.anchor.setAttribute("aria-expanded", "false");
  if (current && current.anchor === anchor) {
    current.pinned = current.pinned || pinned;
    return;
  }
  current = { anchor, pinned };
  anchor.setAttribute("aria-expanded", "true");
  fill(anchors.get(anchor));
  popover.hidden = false;
  place();
}

export function close({ restoreFocus = false } = {}) {
  window.clearTimeout(openTimer);
  window.clearTimeout(closeTimer);
  if (!current) return;
  const { anchor } = current;
  current = null;
  anchor.setAttribute("aria-expanded", "false");
  popover.hidden = true;
  popover.replaceChildren();
  if (restoreFocus && anchor.isConnected) {
    restoringFocus = true;
    anchor.focus();
    restoringFocus = false;
  }
}

/** Title and link at once (the answer knows them); the abstract once /v1/papers/{id} answers. */
function fill(cite) {
  const abstract = el("div", {
    class: "popover-abstract",
    tabindex: "0",
    role: "region",
    "aria-label": "Abstract",
  });
  abstract.append(el("p", { class: "muted" }, "Loading the abstract…"));
  const quoted = cite.sentence_indices && cite.sentence_indices.length;
  popover.replaceChildren(
    el(
      "div",
      { class: "popover-head" },
      cite.n ? el("span", { class: "popover-n", "aria-hidden": "true" }, String(cite.n)) : null,
      el(
        "h3",
        { id: "popover-title" },
        cite.n ? srOnly(`Source ${cite.n}: `) : null,
        cite.title
      ),
      el("button", { type: "button", class: "popover-close", "aria-label": "Close" }, "×")
    ),
    el("p", { class: "popover-meta" }),
    el(
      "p",
      { class: "popover-note" },
      quoted === 1
        ? "The highlighted sentence is the one the answer quotes."
        : quoted
          ? "The highlighted sentences are the ones the answer quotes; those between are left out of the quote."
          : "The answer's quote is chosen when the answer is checked."
    ),
    abstract,
    el("p", { class: "popover-foot" })
  );
  getPaper(cite.paper_id).then(
    (paper) => current && anchors.get(current.anchor) === cite && showPaper(cite, paper),
    (error) => {
      if (current && anchors.get(current.anchor) === cite) {
        const message = `Abstract unavailable: ${error.message}`;
        abstract.replaceChildren(el("p", { class: "error" }, message));
      }
    }
  );
}

function showPaper(cite, paper) {
  const meta = popover.querySelector(".popover-meta");
  meta.textContent = [authorLine(paper.authors), paper.published].filter(Boolean).join(" · ");
  const abstract = popover.querySelector(".popover-abstract");
  abstract.replaceChildren(abstractWithQuote(paper, cite));
  const foot = popover.querySelector(".popover-foot");
  const url = safeUrl(paper.url || cite.url);
  foot.replaceChildren(
    url
      ? paperLink("Open the paper ↗", url, { class: "popover-link" })
      : el("span", { class: "muted" }, `Paper id: ${paper.paper_id}`)
  );
  // Bring the first highlighted sentence into view inside the scrolling abstract.
  const mark = abstract.querySelector("mark");
  // One line of context above it. (The abstract is the mark's offsetParent: it is
  // positioned, see app.css.)
  if (mark) {
    const line = Number.parseFloat(getComputedStyle(abstract).lineHeight) || 22;
    abstract.scrollTop = Math.max(0, mark.offsetTop - line);
  }
  place();
}

/** The abstract as its sentences, those the citation quotes wrapped in <mark>. */
function abstractWithQuote(paper, cite) {
  const sentences = paper.sentences && paper.sentences.length ? paper.sentences : [paper.abstract];
  const quoted = new Set(cite.sentence_indices || []);
  const body = el("p");
  if (![...quoted].every((i) => i >= 0 && i < sentences.length)) {
    // The index changed since the answer: show the quote itself rather than mark wrong text.
    body.append(el("mark", { class: "quoted" }, cite.quote || ""), " ", sentences.join(" "));
    return body;
  }
  sentences.forEach((sentence, i) => {
    if (i) body.append(" ");
    if (quoted.has(i)) {
      body.append(srOnly("Quoted: "), el("mark", { class: "quoted" }, sentence));
    } else {
      body.append(sentence);
    }
  });
  if (!sentences.join("").trim()) body.textContent = "This paper has no abstract.";
  return body;
}

/** Follow the chip after the page changed (an answer re-rendered while streaming replaces its
 * chips: the popover of a chip that is gone closes). */
export function reposition() {
  place();
}

/** Below the chip when it fits, else above; when neither fits, on the roomier side with its
 * height limited to that room, so the popover never covers its own chip. Always inside the
 * viewport (phones included). */
function place() {
  if (!current) return;
  if (!current.anchor.isConnected) {
    close();
    return;
  }
  const margin = 8;
  const rect = current.anchor.getBoundingClientRect();
  const width = Math.min(460, window.innerWidth - 2 * margin);
  popover.style.width = `${width}px`;
  popover.style.maxHeight = ""; // back to the stylesheet's limit before measuring
  const left = Math.min(
    Math.max(margin, rect.left + rect.width / 2 - width / 2),
    window.innerWidth - width - margin
  );
  const below = window.innerHeight - rect.bottom - 2 * margin;
  const above = rect.top - 2 * margin;
  const height = popover.offsetHeight;
  const onTop = height > below && (height <= above || above > below);
  if (height > (onTop ? above : below)) {
    popover.style.maxHeight = `${Math.max(120, onTop ? above : below)}px`;
  }
  const top = onTop ? rect.top - margin - popover.offsetHeight : rect.bottom + margin;
  popover.style.left = `${left}px`;
  popover.style.top = `${Math.max(margin, top)}px`;
}
