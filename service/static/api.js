// The service's HTTP API as the page uses it: /v1/ask streamed as Server-Sent Events, the paper
// list and paper details, citation files, readiness. EventSource cannot POST, so the stream is read with fetch
// and a ReadableStream reader, and the SSE framing is parsed here.
//
// When the service has API keys, every /v1 request carries the key kept in this browser
// (localStorage) as "Authorization: Bearer"; a 401 or 403 asks the user for a key (through the
// handler set with onKeyNeeded) and the request is sent again with it.

const KEY_STORAGE = "abstractqa.apiKey.v1";
const MAX_KEY_PROMPTS = 3; // a request gives up after this many refused keys

let keyNeeded = null; // (status, message) -> Promise<boolean>: true when a new key was saved
let pendingPrompt = null; // one prompt at a time, shared by the requests refused meanwhile

/** An API failure with the service's {error: {code, message}} fields. */
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) {
      return new ApiError(body.error.code || "http_error", body.error.message, response.status);
    }
  } catch {
    // Not JSON (a proxy's error page, say): fall through to the status line.
  }
  const status = `HTTP ${response.status} ${response.statusText}`;
  return new ApiError("http_error", status, response.status);
}

/** The API key saved in this browser, or "" when there is none. */
export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Save the key (trimmed) for the next requests; an empty key forgets it. */
export function saveApiKey(key) {
  try {
    if (key.trim()) localStorage.setItem(KEY_STORAGE, key.trim());
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key cannot be kept, and the next request asks again.
  }
}

/** handler(status, message) -> Promise<boolean>: asks for a key after a 401/403. */
export function onKeyNeeded(handler) {
  keyNeeded = handler;
}

function askForKey(status, message) {
  if (!keyNeeded) return Promise.resolve(false);
  if (!pendingPrompt) {
    pendingPrompt = keyNeeded(status, message).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

/**
 * fetch with the saved API key. A 401/403 asks for a key and sends the request again; the
 * refusal is returned when the user declines. Network failures become an ApiError.
 */
async function apiFetch(url, init = {}) {
  for (let prompts = 0; ; prompts++) {
    const headers = new Headers(init.headers);
    const key = apiKey();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    let response;
    try {
      response = await fetch(url, { ...init, headers });
    } catch (error) {
      if (init.signal && init.signal.aborted) throw error;
      throw new ApiError("network_error", "The service could not be reached.");
    }
    const refused = response.status === 401 || response.status === 403;
    if (!refused || prompts >= MAX_KEY_PROMPTS) return response;
    const error = await errorOf(response);
    if (!(await askForKey(response.status, error.message))) throw error;
  }
}

async function getJson(url, signal) {
  const response = await apiFetch(url, { headers: { Accept: "application/json" }, signal });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** One SSE event block ("event: x\ndata: {...}") -> [name, parsed data], or null. */
export function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (!line || line.startsWith(":")) continue; // comments keep connections alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return [name, JSON.parse(data.join("\n"))];
}

/**
 * POST /v1/ask with stream: true and call onEvent(name, data) for each event as it arrives
 * (sources, delta..., citations, done; or error). Resolves when the stream ends; rejects with
 * an ApiError when the request is refused, or with the AbortError when `signal` aborts.
 */
export async function askStream(body, { signal, onEvent }) {
  const response = await apiFetch("/v1/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!response.ok) throw await errorOf(response);

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    // Events end with a blank line; a network chunk may hold several events or part of one.
    let blank;
    while ((blank = /\r?\n\r?\n/.exec(buffer)) !== null) {
      const block = buffer.slice(0, blank.index);
      buffer = buffer.slice(blank.index + blank[0].length);
      const event = parseEvent(block);
      if (event) onEvent(...event);
    }
  }
  const last = parseEvent(buffer);
  if (last) onEvent(...last);
}

const papers = new Map(); // paper_id -> Promise of the paper: a chip hovered twice fetches once

/** GET /v1/papers/{id}: title, authors, url, abstract and its sentences (cached). */
export function getPaper(paperId) {
  if (!papers.has(paperId)) {
    const request = getJson(`/v1/papers/${encodeURIComponent(paperId)}`);
    // A failed request is forgotten so that the next hover tries again.
    request.catch(() => papers.delete(paperId));
    papers.set(paperId, request);
  }
  return papers.get(paperId);
}

/** GET /v1/papers?q&offset&limit -> {total, papers: [...]} */
export function listPapers({ q = "", offset = 0, limit = 20 }, signal) {
  const params = new URLSearchParams({ offset: String(offset), limit: String(limit) });
  if (q.trim()) params.set("q", q.trim());
  return getJson(`/v1/papers?${params}`, signal);
}

/**
 * POST /v1/citations/export: the papers (in this order) as a citation file in `format`
 * (bibtex, ris or csl-json) -> {blob, filename}, the name the server gives it.
 */
export async function exportCitations(paperIds, format) {
  const response = await apiFetch("/v1/citations/export", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ paper_ids: paperIds, format }),
  });
  if (!response.ok) throw await errorOf(response);
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename="([^"]+)"/.exec(disposition);
  return { blob: await response.blob(), filename: named ? named[1] : "citations.txt" };
}

/** GET /readyz -> {status: "ready"|"loading"|"failed", papers, index_version, error}. */
export async function readiness() {
  const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
  return response.json();
}
