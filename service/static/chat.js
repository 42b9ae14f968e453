// The chat view: the conversation, the composer (question box, scope, send/stop), the list of
// past chats and the sources panel. One answer streams at a time; its AbortController is the
// stop button.

import { askStream, exportCitations } from "./api.js";
import {
  citedPaperIds,
  plainText,
  renderAssistant,
  renderSources,
  renderUser,
  updateAssistant,
} from "./answer.js";
import { close as closePopover, reposition as repositionPopover } from "./popover.js";
import { announce, el, setChildren, truncate } from "./dom.js";
import * as store from "./store.js";

let active = null; // the answer being streamed: {controller, chat, message}
let shownAnswerId = null; // the answer whose papers the sources panel lists
let ui = {};

const actions = {
  onCopy: copyAnswer,
  onRetry: (message) => {
    shownAnswerId = message.id;
    run(chatOf(message), message);
  },
  onShowSources: (message) => {
    shownAnswerId = message.id;
    refreshSources();
    openDrawer("sources");
  },
  onAskAbout: (papers) => setScope(papers),
  onExportCitations: downloadCitations,
  citationFormat: () => store.loadSettings().citationFormat || "bibtex",
  onCitationFormat: (format) => saveSetting({ citationFormat: format }),
  isBusy: () => active !== null,
};

function saveSetting(change) {
  store.saveSettings({ ...store.loadSettings(), ...change });
}

export function initChat() {
  ui = {
    messages: document.getElementById("messages"),
    empty: document.getElementById("empty-state"),
    form: document.getElementById("composer"),
    question: document.getElementById("question"),
    send: document.getElementById("send"),
    stop: document.getElementById("stop"),
    backend: document.getElementById("backend"),
    scope: document.getElementById("scope"),
    chatList: document.getElementById("chat-list"),
    sources: document.getElementById("sources"),
    sourcesToggle: document.getElementById("toggle-sources"),
  };
  ui.backend.value = store.loadSettings().backend || "";
  ui.backend.addEventListener("change", () => saveSetting({ backend: ui.backend.value }));
  ui.form.addEventListener("submit", onSubmit);
  ui.question.addEventListener("keydown", onQuestionKey);
  ui.stop.addEventListener("click", stop);
  document.getElementById("new-chat").addEventListener("click", () => {
    store.newChat();
    renderAll();
    closeDrawers();
    ui.question.focus();
  });
  renderAll();
}

function chatOf(message) {
  return store.chats().find((c) => c.messages.includes(message)) || store.ensureCurrent();
}

// -- asking ---------------------------------------------------------------------------------

// Enter sends, Shift+Enter is a new line; an IME composition's Enter only confirms the text.
function onQuestionKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
}

function onSubmit(event) {
  event.preventDefault();
  const question = ui.question.value.trim();
  if (active) {
    announce("An answer is still being written: wait for it, or stop it first.");
    return;
  }
  if (!question) return;
  ui.question.value = "";
  ask(question);
}

/** Add the question and an empty answer to the current chat, then stream the answer into it. */
export function ask(question) {
  const chat = store.ensureCurrent();
  const scope = [...chat.scope];
  chat.messages.push({ id: store.newId(), role: "user", text: question, scope });
  const message = {
    id: store.newId(),
    role: "assistant",
    question,
    scope,
    backend: ui.backend.value || null,
  };
  chat.messages.push(message);
  if (!chat.title) chat.title = truncate(question, 60);
  shownAnswerId = message.id;
  return run(chat, message);
}

/** Stream the answer to `message.question` into `message` (a retry starts it afresh). */
async function run(chat, message) {
  if (active) return;
  Object.assign(message, {
    status: "streaming", text: "", sources: [], abstained: false, related: [],
    response: null, error: null, backendUsed: null,
  });
  const controller = new AbortController();
  active = { controller, chat, message };
  store.touch(chat);
  store.save();
  renderAll();
  setBusy(true);

  const body = { question: message.question };
  if (message.scope.length) body.paper_ids = message.scope.map((p) => p.paper_id);
  if (message.backend) body.backend = message.backend;
  try {
    await askStream(body, {
      signal: controller.signal,
      onEvent: (name, data) => onEvent(message, name, data),
    });
    if (message.status === "streaming") {
      fail(message, "incomplete", "The answer stream ended before the answer was complete.");
    }
  } catch (error) {
    if (controller.signal.aborted) message.status = "stopped";
    else fail(message, error.code || "error", error.message || String(error));
  } finally {
    active = null;
    store.save();
    setBusy(false);
    renderAll();
    announce(summary(message));
  }
}

function fail(message, code, text) {
  message.status = "error";
  message.error = { code, message: text };
}

/** Apply one SSE event to the answer and redraw it. */
function onEvent(message, name, data) {
  switch (name) {
    case "sources":
      message.sources = data.sources;
      message.abstained = data.abstained;
      message.related = data.related;
      message.backendUsed = data.backend;
      break;
    case "delta":
      message.text += data.text;
      break;
    case "citations":
      // The verified answer replaces what streamed: verification may have removed markers,
      // and a degraded LLM answer is replaced by the extractive one.
      message.response = storedResponse(data);
      message.text = data.answer;
      message.status = "done";
      message.sources = [];
      message.related = [];
      break;
    case "done":
      if (message.status === "streaming") message.status = "done";
      break;
    case "error":
      fail(message, data.code, data.message);
      break;
    default:
      return; // an event this page does not know: ignore it
  }
  if (name !== "delta") store.save();
  refreshMessage(message);
  if (name === "sources" || name === "citations") refreshSources();
}

/** The final response without what the page never shows, to keep localStorage small. */
function storedResponse(data) {
  const keep = [
    "answer", "citations", "abstained", "related", "sentences", "unsupported_sentences",
    "backend", "degraded", "degraded_reason",
  ];
  return Object.fromEntries(keep.map((key) => [key, data[key]]));
}

function summary(message) {
  if (message.status === "stopped") return "Answer stopped.";
  if (message.status === "error") return `The answer failed: ${message.error.message}`;
  if (message.response && message.response.abstained) {
    return "No answer: the indexed papers do not cover this question. Related papers are listed.";
  }
  const n = message.response ? message.response.citations.length : 0;
  return `Answer ready, citing ${n} paper${n === 1 ? "" : "s"}.`;
}

function stop() {
  if (active) active.controller.abort();
  ui.question.focus();
}

function setBusy(busy) {
  // Send and Stop share the place; Stop exists only while an answer streams.
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.form.setAttribute("aria-busy", busy ? "true" : "false");
  if (!busy && document.activeElement === document.body) ui.question.focus();
}

async function copyAnswer(message, button) {
  const text = plainText(message);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No async clipboard (plain http on another host): the older selection-based copy.
    const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  announce("Answer copied to the clipboard.");
  window.setTimeout(() => {
    if (button.isConnected) button.textContent = "Copy";
  }, 1500);
}

/** Fetch the cited papers' citation file (with the API key, as every request) and download it
 * through a link to a blob URL: the file name is the server's. */
async function downloadCitations(message, format, button) {
  button.disabled = true;
  try {
    const { blob, filename } = await exportCitations(citedPaperIds(message), format);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, class: "offscreen" });
    document.body.append(link);
    link.click();
    link.remove();
    // The download has started from the click; the URL is no longer needed after it.
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    announce(`Citations downloaded as ${filename}.`);
  } catch (error) {
    announce(`The citations could not be exported: ${error.message}`);
    button.title = error.message;
  } finally {
    if (button.isConnected) button.disabled = false;
  }
}

// -- scope ----------------------------------------------------------------------------------

/** Limit the next questions of the current chat to these papers ("ask about this paper"). */
export function setScope(papers) {
  const chat = store.ensureCurrent();
  chat.scope = papers.map((p) => ({ paper_id: p.paper_id, title: p.title }));
  store.save();
  renderScope();
  closeDrawers();
  ui.question.focus();
  announce(`The next questions are about ${papers.length} paper${papers.length === 1 ? "" : "s"}.`);
}

function removeFromScope(paperId) {
  const chat = store.ensureCurrent();
  chat.scope = chat.scope.filter((p) => p.paper_id !== paperId);
  store.save();
  renderScope();
  ui.question.focus();
}

function renderScope() {
  const chat = store.current();
  const scope = chat ? chat.scope : [];
  ui.scope.hidden = !scope.length;
  ui.question.placeholder = scope.length
    ? `Ask about ${scope.length === 1 ? "this paper" : `these ${scope.length} papers`}…`
    : "Ask a question about the indexed papers…";
  setChildren(
    ui.scope,
    el("span", { class: "scope-label", id: "scope-label" }, "Asking about:"),
    el(
      "ul",
      { class: "scope-papers", "aria-labelledby": "scope-label" },
      scope.map((paper) =>
        el(
          "li",
          { class: "scope-paper" },
          el("span", { class: "scope-title", title: paper.title }, truncate(paper.title, 48)),
          el("button", {
            type: "button", class: "scope-remove",
            "aria-label": `Remove “${paper.title}” from the scope`,
            onclick: () => removeFromScope(paper.paper_id),
          }, "×")
        )
      )
    ),
    scope.length > 1
      ? el("button", {
          type: "button", class: "link-button",
          onclick: () => {
            chat.scope = [];
            store.save();
            renderScope();
            ui.question.focus();
          },
        }, "Clear all")
      : null
  );
}

// -- rendering ------------------------------------------------------------------------------

function renderAll() {
  renderChatList();
  renderConversation();
  renderScope();
  refreshSources();
}

function renderConversation() {
  closePopover();
  const chat = store.current();
  const messages = chat ? chat.messages : [];
  ui.empty.hidden = messages.length > 0;
  ui.messages.hidden = messages.length === 0;
  ui.messages.replaceChildren(
    ...messages.map((m) => (m.role === "user" ? renderUser(m) : renderAssistant(m, actions)))
  );
  scrollToEnd();
}

function refreshMessage(message) {
  const node = ui.messages.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
  if (!node) return; // streaming into a chat that is not shown
  const follow = nearEnd();
  updateAssistant(node, message, actions);
  if (follow) scrollToEnd();
  repositionPopover();
}

// Follow a streaming answer only while the reader is at the bottom, not after they scrolled up.
function nearEnd() {
  const box = ui.messages;
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/** The answer the panel shows: the one picked with "Sources", else the chat's latest. */
function shownAnswer() {
  const chat = store.current();
  if (!chat) return null;
  const answers = chat.messages.filter((m) => m.role === "assistant");
  return answers.find((m) => m.id === shownAnswerId) || answers[answers.length - 1] || null;
}

function refreshSources() {
  const message = shownAnswer();
  renderSources(ui.sources, message, actions);
  const n = message && message.response ? message.response.citations.length : 0;
  ui.sourcesToggle.textContent = n ? `Sources (${n})` : "Sources";
}

function renderChatList() {
  const current = store.current();
  ui.chatList.replaceChildren(
    ...store.chats().map((chat) =>
      el(
        "li",
        { class: "chat-item" },
        el(
          "button",
          {
            type: "button",
            class: "chat-open",
            "aria-current": current && chat.id === current.id ? "true" : null,
            onclick: () => openChat(chat.id),
          },
          el("span", { class: "chat-title" }, chat.title || "Untitled chat"),
          el("span", { class: "chat-date" }, new Date(chat.updatedAt).toLocaleString([], {
            month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
          }))
        ),
        el("button", {
          type: "button", class: "chat-delete",
          "aria-label": `Delete the chat “${chat.title}”`,
          onclick: () => deleteChat(chat.id),
        }, "×")
      )
    )
  );
}

function openChat(id) {
  store.select(id);
  shownAnswerId = null;
  renderAll();
  closeDrawers();
  ui.question.focus();
}

function deleteChat(id) {
  // The streaming answer's chat stays until its answer ends.
  if (active && active.chat.id === id) return;
  store.remove(id);
  renderAll();
  announce("Chat deleted.");
  ui.question.focus();
}

// -- drawers (past chats and sources on narrow screens) -------------------------------------

export function openDrawer(name) {
  const panel = document.getElementById(name === "sources" ? "sources" : "history");
  const toggle = document.getElementById(name === "sources" ? "toggle-sources" : "toggle-history");
  // Only narrow layouts show the toggles; on wide ones both panels are always visible.
  if (toggle.offsetParent === null) return;
  closeDrawers();
  panel.classList.add("open");
  toggle.setAttribute("aria-expanded", "true");
  document.body.classList.add("drawer-open");
  panel.querySelector("h2").focus();
}

export function closeDrawers() {
  for (const [panel, toggle] of [["history", "toggle-history"], ["sources", "toggle-sources"]]) {
    document.getElementById(panel).classList.remove("open");
    document.getElementById(toggle).setAttribute("aria-expanded", "false");
  }
  document.body.classList.remove("drawer-open");
}
