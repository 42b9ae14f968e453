// Rendering one answer: its text with [n] markers as citation chips, unsupported sentences
// marked, the backend and degraded badges, an abstention with its related papers; and the
// sources panel listing the papers the answer cites.

import { citationAnchor } from "./popover.js";
import { el, paperLink, setChildren, srOnly } from "./dom.js";

// The markers the service writes and verifies: [1], [1, 2], [1; 3].
const MARKER = /\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]/g;
// What a quote has between sentences that are not adjacent in the abstract.
const GAP = " … ";

/** What a chip for [n] points to: the verified citation once the answer is final, before that
 * the numbered source announced by the `sources` event (no quote yet). */
function citeFor(message, n) {
  const response = message.response;
  const citation = response && response.citations.find((c) => c.n === n);
  if (citation) return citation;
  const source = (message.sources || []).find((s) => s.n === n);
  return source ? { ...source, sentence_indices: [], quote: "" } : null;
}

function chip(cite) {
  const weak = cite.supported === false;
  const label = `Source ${cite.n}: ${cite.title}${weak ? " (weakly supported)" : ""}`;
  const button = el(
    "button",
    { type: "button", class: weak ? "chip weak" : "chip", "aria-label": label },
    String(cite.n)
  );
  return citationAnchor(button, cite);
}

/** Append `text` to `parent`, each [n] marker becoming chips (left as text if n is unknown). */
function appendWithChips(parent, text, message) {
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    parent.append(text.slice(last, match.index));
    const numbers = match[1].split(/[,;]/).map((x) => Number.parseInt(x, 10));
    const cites = numbers.map((n) => citeFor(message, n));
    if (cites.every(Boolean)) {
      parent.append(el("span", { class: "chips" }, cites.map(chip)));
    } else {
      parent.append(match[0]);
    }
    last = match.index + match[0].length;
  }
  parent.append(text.slice(last));
}

/**
 * The answer text into `container`. With the verified sentences, each sentence is located in
 * the answer (in order) and wrapped, unsupported ones marked; the text between them is kept as
 * is, so the shown text is always exactly the final `answer`.
 */
export function renderAnswerText(container, message) {
  container.replaceChildren();
  const text = message.text || "";
  const sentences = (message.response && message.response.sentences) || [];
  let cursor = 0;
  for (const sentence of sentences) {
    const start = text.indexOf(sentence.text, cursor);
    if (start === -1) continue;
    appendWithChips(container, text.slice(cursor, start), message);
    const span = el("span", { class: sentence.supported ? "sentence" : "sentence unsupported" });
    appendWithChips(span, sentence.text, message);
    if (!sentence.supported) {
      span.title = "No cited abstract states this sentence.";
      span.append(srOnly(" (not supported by the cited abstracts)"));
    }
    container.append(span);
    cursor = start + sentence.text.length;
  }
  appendWithChips(container, text.slice(cursor), message);
}

/** The papers offered instead of an answer, each with "ask about this paper". */
function relatedList(papers, actions) {
  return el(
    "ul",
    { class: "related" },
    papers.map((paper) =>
      el(
        "li",
        {},
        paperLink(paper.title, paper.url, { class: "related-title" }),
        el(
          "button",
          {
            type: "button",
            class: "link-button",
            "aria-label": `Ask about this paper: ${paper.title}`,
            onclick: () => actions.onAskAbout([paper]),
          },
          "Ask about this paper"
        )
      )
    )
  );
}

function badges(message) {
  const response = message.response;
  const backend = (response && response.backend) || message.backendUsed;
  const list = el("div", { class: "badges" });
  if (message.status === "streaming") {
    list.append(el("span", { class: "badge live" }, "Writing…"));
  }
  if (backend) {
    list.append(
      el("span", { class: "badge", title: "The answer backend that wrote this answer" },
        `backend: ${backend}`)
    );
  }
  if (response && response.degraded) list.append(el("span", { class: "badge warn" }, "Degraded"));
  if (message.status === "stopped") list.append(el("span", { class: "badge muted" }, "Stopped"));
  if (message.status === "error") list.append(el("span", { class: "badge bad" }, "Error"));
  return list;
}

function isAbstention(message) {
  return message.response ? message.response.abstained : Boolean(message.abstained);
}

/** The notes under the text: degraded reason, unsupported sentences, related papers, errors. */
function notes(message, actions) {
  const response = message.response;
  const out = [];
  if (response && response.degraded) {
    out.push(
      el(
        "p",
        { class: "note warn" },
        el("strong", {}, "Degraded answer. "),
        `The requested backend failed (${response.degraded_reason || "no reason given"}), so `,
        "this is the extractive answer."
      )
    );
  }
  if (response && response.unsupported_sentences > 0) {
    const n = response.unsupported_sentences;
    out.push(
      el(
        "p",
        { class: "note unsupported-note" },
        `${n} sentence${n === 1 ? " is" : "s are"} not supported by the cited abstracts `,
        "(underlined)."
      )
    );
  }
  const related = (response ? response.related : message.related) || [];
  if (isAbstention(message) && related.length) {
    out.push(el("h4", { class: "related-heading" }, "Related papers"));
    out.push(relatedList(related, actions));
  }
  if (message.status === "error" && message.error) {
    out.push(el("p", { class: "note bad", role: "alert" }, message.error.message));
  }
  return out;
}

// The formats of POST /v1/citations/export, as the export menu offers them.
const CITATION_FORMATS = [
  ["bibtex", "BibTeX"],
  ["ris", "RIS"],
  ["csl-json", "CSL-JSON"],
];

/** The cited papers' ids, each once, in the order of their [n] markers. */
export function citedPaperIds(message) {
  const citations = (message.response && message.response.citations) || [];
  const sorted = [...citations].sort((a, b) => a.n - b.n);
  return [...new Set(sorted.map((c) => c.paper_id))];
}

/** A format choice and the "Export citations" button that downloads the cited papers in it. */
function exportControl(message, actions) {
  const papers = citedPaperIds(message).length;
  const chosen = actions.citationFormat();
  const select = el(
    "select",
    { class: "export-format", "aria-label": "Citation format",
      onchange: (e) => actions.onCitationFormat(e.currentTarget.value) },
    CITATION_FORMATS.map(([value, label]) =>
      el("option", { value, selected: value === chosen }, label))
  );
  const button = el("button", {
    type: "button", class: "action export-citations",
    "aria-label": `Export the ${papers} cited paper${papers === 1 ? "" : "s"} as a citation file`,
    onclick: (e) => actions.onExportCitations(message, select.value, e.currentTarget),
  }, "Export citations");
  return el("span", { class: "export" }, select, button);
}

function actionButtons(message, actions) {
  const busy = message.status === "streaming";
  const cited = message.response ? message.response.citations.length : 0;
  return [
    el("button", {
      type: "button", class: "action", disabled: busy || !message.text,
      "aria-label": "Copy the answer", onclick: (e) => actions.onCopy(message, e.currentTarget),
    }, "Copy"),
    el("button", {
      type: "button", class: "action", disabled: actions.isBusy(),
      "aria-label": "Retry this question", onclick: () => actions.onRetry(message),
    }, "Retry"),
    cited
      ? el("button", {
          type: "button", class: "action show-sources",
          "aria-label": `Show the ${cited} cited paper${cited === 1 ? "" : "s"} in the panel`,
          onclick: () => actions.onShowSources(message),
        }, `Sources (${cited})`)
      : null,
    cited ? exportControl(message, actions) : null,
  ];
}

/** A new answer element; `updateAssistant` refreshes it in place as events arrive. */
export function renderAssistant(message, actions) {
  const root = el(
    "article",
    { class: "message assistant", dataset: { id: message.id }, "aria-label": "Answer" },
    el("div", { class: "message-head" }),
    // Polite live region; aria-busy holds announcements back until the answer is final, so a
    // screen reader reads the finished answer once instead of every streamed word.
    el("div", { class: "answer-text", "aria-live": "polite" }),
    el("div", { class: "notes" }),
    el("div", { class: "actions" })
  );
  updateAssistant(root, message, actions);
  return root;
}

export function updateAssistant(root, message, actions) {
  const abstained = isAbstention(message);
  root.classList.toggle("abstained", abstained);
  root.classList.toggle("streaming", message.status === "streaming");
  root.querySelector(".message-head").replaceChildren(
    el("span", { class: "message-kind" }, abstained ? "No answer in the indexed papers" : "Answer"),
    badges(message)
  );
  const text = root.querySelector(".answer-text");
  text.setAttribute("aria-busy", message.status === "streaming" ? "true" : "false");
  renderAnswerText(text, message);
  if (message.status === "streaming" && !message.text) {
    text.append(el("span", { class: "muted" }, "Searching the papers…"));
  }
  root.querySelector(".notes").replaceChildren(...notes(message, actions));
  setChildren(
    root.querySelector(".actions"),
    message.status === "streaming" ? [] : actionButtons(message, actions)
  );
}

export function renderUser(message) {
  const scope = message.scope || [];
  return el(
    "article",
    { class: "message user", dataset: { id: message.id }, "aria-label": "Your question" },
    el("p", { class: "question" }, message.text),
    scope.length
      ? el("p", { class: "scope-line" }, `About: ${scope.map((p) => p.title).join(" · ")}`)
      : null
  );
}

/** The answer as plain text with a numbered sources list, for the clipboard. */
export function plainText(message) {
  const citations = (message.response && message.response.citations) || [];
  if (!citations.length) return message.text;
  const lines = citations.map((c) => `[${c.n}] ${c.title}${c.url ? ` — ${c.url}` : ""}`);
  return `${message.text}\n\nSources:\n${lines.join("\n")}`;
}

/** The sources panel: the papers the given answer cites (while streaming: those retrieved). */
export function renderSources(panel, message, actions) {
  const hint = panel.querySelector(".sources-hint");
  const list = panel.querySelector(".sources-list");
  list.replaceChildren();
  if (!message) {
    hint.textContent = "The papers an answer cites are listed here.";
    return;
  }
  const response = message.response;
  if (isAbstention(message)) {
    hint.textContent = "No paper answers this question; the answer lists related papers.";
    return;
  }
  if (!response) {
    hint.textContent = message.sources && message.sources.length
      ? "Papers retrieved for the answer being written:"
      : "No sources yet.";
    for (const source of message.sources || []) list.append(sourceItem(source, null, actions));
    return;
  }
  const citations = [...response.citations].sort((a, b) => a.n - b.n);
  hint.textContent = citations.length
    ? `Cited in the answer to “${message.question}”:`
    : "This answer cites no paper.";
  for (const citation of citations) list.append(sourceItem(citation, citation, actions));
}

/** A quote as text (never parsed for markers), each gap between non-adjacent sentences a
 * visible "…" of its own; the text stays exactly the quote. */
function quoteParts(quote) {
  const gap = () => el("span", { class: "gap", title: "Sentences of the abstract left out" }, "…");
  return quote.split(GAP).flatMap((part, i) => (i ? [" ", gap(), " ", part] : [part]));
}

function sourceItem(source, citation, actions) {
  return el(
    "li",
    { class: "source" },
    el("span", { class: "source-n", "aria-hidden": "true" }, String(source.n)),
    el(
      "div",
      { class: "source-body" },
      el("h3", { class: "source-title" }, srOnly(`Source ${source.n}: `),
        paperLink(source.title, source.url)),
      citation && citation.quote
        ? el("blockquote", { class: "quote" }, srOnly("Quote: "), quoteParts(citation.quote))
        : null,
      citation && !citation.supported
        ? el("p", { class: "note unsupported-note" }, "The quote only weakly supports the answer.")
        : null,
      el(
        "div",
        { class: "source-actions" },
        citationAnchor(
          el("button", {
            type: "button", class: "link-button",
            "aria-label": `Show the abstract of ${source.title}`,
          }, "Show abstract"),
          citation || { ...source, sentence_indices: [], quote: "" }
        ),
        el("button", {
          type: "button", class: "link-button",
          "aria-label": `Ask about this paper: ${source.title}`,
          onclick: () => actions.onAskAbout([source]),
        }, "Ask about this paper")
      )
    )
  );
}
