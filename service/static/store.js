// Conversations kept in the browser's localStorage, so they survive a reload. One JSON document
// holds every chat; it is small (answers are a few KB) and written after each change.
//
// A chat:     {id, title, createdAt, updatedAt, scope: [{paper_id, title}], messages: [...]}
// A question: {id, role: "user", text, scope}
// An answer:  {id, role: "assistant", question, scope, backend, status, text, sources, abstained,
//              related, response, error}  status: streaming | done | stopped | error

const KEY = "abstractqa.chats.v1";
const SETTINGS_KEY = "abstractqa.settings.v1";
const MAX_CHATS = 50;

let state = { chats: [], currentId: null };

/** A unique enough id; crypto.randomUUID exists only in secure contexts (not on http://LAN-IP). */
export function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function load() {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) || "null");
    if (parsed && Array.isArray(parsed.chats)) state = parsed;
  } catch {
    // Unreadable storage (corrupt JSON, storage disabled): start with no chats.
  }
  // A stream cut by a reload never finishes: what had arrived is kept as a stopped answer.
  for (const chat of state.chats) {
    for (const message of chat.messages) {
      if (message.status === "streaming") message.status = "stopped";
    }
  }
}

/** Write everything; when storage is full, the oldest chats make room. */
export function save() {
  state.chats = state.chats.filter((c) => c.messages.length || c.id === state.currentId);
  for (;;) {
    try {
      localStorage.setItem(KEY, JSON.stringify(state));
      return;
    } catch (error) {
      const oldest = oldestOtherChat();
      if (!oldest) {
        console.warn("conversations could not be saved", error);
        return;
      }
      state.chats = state.chats.filter((c) => c !== oldest);
    }
  }
}

function oldestOtherChat() {
  const others = state.chats.filter((c) => c.id !== state.currentId);
  return others.sort((a, b) => a.updatedAt - b.updatedAt)[0];
}

/** Chats that have messages, most recently used first (the sidebar's list). */
export function chats() {
  return state.chats.filter((c) => c.messages.length).sort((a, b) => b.updatedAt - a.updatedAt);
}

export function current() {
  return state.chats.find((c) => c.id === state.currentId) || null;
}

/** The current chat, created when there is none (e.g. on the first visit). */
export function ensureCurrent() {
  return current() || newChat();
}

export function newChat(scope = []) {
  const now = Date.now();
  const chat = { id: newId(), title: "", createdAt: now, updatedAt: now, scope, messages: [] };
  state.chats.push(chat);
  state.currentId = chat.id;
  // Unused chats would pile up; keep at most MAX_CHATS, dropping the least recently used.
  while (state.chats.length > MAX_CHATS) {
    state.chats = state.chats.filter((c) => c !== oldestOtherChat());
  }
  save();
  return chat;
}

export function select(id) {
  if (state.chats.some((c) => c.id === id)) state.currentId = id;
  save();
  return current();
}

export function remove(id) {
  state.chats = state.chats.filter((c) => c.id !== id);
  if (state.currentId === id) state.currentId = null;
  save();
}

export function touch(chat) {
  chat.updatedAt = Date.now();
}

export function loadSettings() {
  try {
    return JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

export function saveSettings(settings) {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Settings are a convenience; losing them is harmless.
  }
}
