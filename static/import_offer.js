// streamchat import offer: once signed in, "Import 12 conversations kept in this browser"
// in the sidebar, with Import and Not now (importer.js does the moving).
//
// Shown at page start when this browser's localStorage holds conversations the person
// has not declined; Not now hides it and is remembered (per user, in localStorage).
// Imported: the list is looked at again (sync.js) so they show, from the server.
// Created by chat.js with the conversations on the server.

import { candidates, dismiss, dismissedIds, importConversations } from "./importer.js";

function countOf(n) {
  return n === 1 ? "1 conversation" : `${n} conversations`;
}

/**
 * Offer the import if there is anything to import.
 * @param {object} deps
 * @param {Storage|null} deps.storage window.localStorage
 * @param {string} deps.user the signed-in person's id, whose choice "Not now" is
 * @param {import("./storage.js").ConversationStore} deps.local this browser's store
 * @param {import("./server_api.js").ServerApi} deps.api
 * @param {import("./sync.js").ServerSync} deps.sync
 */
export function offerImport({ storage, user, local, api, sync }) {
  const box = document.getElementById("import-offer");
  if (!box || !storage) return;
  local.load({ settle: true });
  const offered = candidates(local, dismissedIds(storage, user));
  if (!offered.length) return;
  const text = document.getElementById("import-text");
  const accept = document.getElementById("import-accept");
  const later = document.getElementById("import-dismiss");
  text.textContent = `Import ${countOf(offered.length)} kept in this browser`;
  box.hidden = false;

  later.addEventListener("click", () => {
    dismiss(storage, user, offered);
    box.hidden = true;
  });
  accept.addEventListener("click", async () => {
    accept.disabled = later.disabled = true;
    text.textContent = `Importing ${countOf(offered.length)}…`;
    local.load({ settle: true }); // what other tabs changed since
    const left = offered.filter((c) => local.find(c.id)).map((c) => local.find(c.id));
    const done = await importConversations(api, local, left);
    await sync.refresh(true);
    if (!done.failed && !done.unavailable) {
      box.hidden = true;
      document.getElementById("new-chat").focus();
      return;
    }
    const kept = left.length - done.imported;
    text.textContent =
      `Imported ${countOf(done.imported)}; ${countOf(kept)} stay in this browser` +
      (done.message ? ` (${done.message})` : ".");
    accept.disabled = later.disabled = false;
    accept.textContent = "Try again";
  });
}
