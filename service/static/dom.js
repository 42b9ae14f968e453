// Building the DOM from data. Every piece of text (abstracts, titles, model output) goes through
// textContent / Text nodes, never through an HTML parser, so "<script>" in an abstract is shown
// as the characters it is. The page's CSP (require-trusted-types-for 'script') makes the browser
// throw on any innerHTML assignment, so a slip would fail loudly rather than open a hole.

/**
 * el("a", {class: "x", href: url, onclick: fn}, "text", child) -> a new element.
 * Strings among the children become Text nodes; null/undefined/false children are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Replace the children of `node`; like el(), skipping null/undefined/false (which
 * replaceChildren would show as the text "null"). */
export function setChildren(node, ...children) {
  node.replaceChildren(
    ...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
  );
}

/** A link target only if it is an absolute http(s) URL: a paper's "url" is data, and a
 * "javascript:" URL in it must never become a clickable link. */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The paper's title as a link opening in a new tab when its URL is safe, else as text. */
export function paperLink(title, url, props = {}) {
  const href = safeUrl(url);
  if (!href) return el("span", props, title);
  return el("a", { ...props, href, target: "_blank", rel: "noopener noreferrer" }, title);
}

/** Text only screen readers read (e.g. "not supported" next to a coloured underline). */
export function srOnly(text) {
  return el("span", { class: "visually-hidden" }, text);
}

/** Announce a short status message to screen readers through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  // Clearing first makes a repeated identical message be announced again.
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function truncate(text, max) {
  const clean = text.replace(/\s+/g, " ").trim();
  return clean.length > max ? `${clean.slice(0, max - 1).trimEnd()}…` : clean;
}

/** "Ada Lovelace, Alan Turing et al." for at most `max` names. */
export function authorLine(authors, max = 3) {
  if (!authors || !authors.length) return "";
  const shown = authors.slice(0, max).join(", ");
  return authors.length > max ? `${shown} et al.` : shown;
}
