// The API key of a service that requires one: asked for when the service answers 401/403, kept
// in this browser's localStorage (api.js sends it with every request), changed or forgotten
// from the "API key" button of the top bar, which shows once a key is saved.

import { apiKey, onKeyNeeded, saveApiKey } from "./api.js";
import { announce } from "./dom.js";

let ui = {};
let waiting = []; // resolvers of the prompts the open dialog answers: true when a key was saved

export function initKey() {
  ui = {
    dialog: document.getElementById("key-dialog"),
    form: document.getElementById("key-form"),
    input: document.getElementById("key-input"),
    reason: document.getElementById("key-reason"),
    forget: document.getElementById("key-forget"),
    cancel: document.getElementById("key-cancel"),
    button: document.getElementById("key-button"),
  };
  onKeyNeeded(ask);
  ui.button.hidden = !apiKey();
  ui.button.addEventListener("click", () => {
    open("Enter a new API key for this service, or forget the one saved in this browser.");
  });
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = ui.input.value.trim();
    if (!key) return;
    saveApiKey(key);
    ui.button.hidden = false;
    close(true);
    announce("API key saved in this browser.");
  });
  ui.cancel.addEventListener("click", () => close(false));
  // Escape closes the dialog as Cancel does.
  ui.dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close(false);
  });
  ui.forget.addEventListener("click", () => {
    saveApiKey("");
    ui.button.hidden = true;
    close(false);
    announce("API key forgotten.");
  });
}

/** A request was refused (401: no key, 403: a wrong one): ask for a key. */
function ask(status) {
  return open(
    status === 403
      ? "The service did not accept the API key. Enter a valid key to continue."
      : "This service needs an API key. Enter the key you were given to continue."
  );
}

function open(reason) {
  ui.reason.textContent = reason;
  ui.input.value = "";
  ui.forget.hidden = !apiKey();
  if (!ui.dialog.open) ui.dialog.showModal();
  ui.input.focus();
  return new Promise((resolve) => waiting.push(resolve));
}

function close(saved) {
  if (ui.dialog.open) ui.dialog.close();
  const resolvers = waiting;
  waiting = [];
  for (const resolve of resolvers) resolve(saved);
}
