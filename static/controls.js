// streamchat controls: the page's event listeners, from clicks and keys to controller calls.
//
// Buttons, keyboard shortcuts (Enter sends, Shift+Enter new line, Escape closes the
// drawer or stops the reply), the model picker, and `storage` events from other tabs.
// Imported by chat.js, which calls wireControls() once.

import { startEdit } from "./edit.js";
import { copyText } from "./markdown.js";
import { STORE_KEY } from "./storage.js";
import { isSendKey } from "./view.js";

/** Set a button's text to what the copy did, then back. */
async function copyWithFeedback(button, text) {
  const label = button.textContent;
  try {
    await copyText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

/** The buttons inside the conversation: edit, regenerate, copy reply, copy code. */
async function onConversationClick(page, event) {
  const { store, controller } = page;
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const item = button.closest("li.message");
  const conversation = store.active();
  const index = item ? Number(item.dataset.index) : -1;
  switch (button.dataset.action) {
    case "edit":
      startEdit(page, index);
      break;
    case "regenerate":
      controller.regenerate();
      break;
    case "copy":
      await copyWithFeedback(button, conversation.messages[index].content);
      break;
    case "copy-code":
      await copyWithFeedback(button, button.closest(".code-block").querySelector("pre").innerText);
      break;
    default:
  }
}

/**
 * Attach every listener of the page.
 * @param {{store: import("./storage.js").ConversationStore, view: import("./view.js").View,
 *   controller: import("./controller.js").Controller, state: {live: object|null},
 *   attachments: import("./attachments.js").Attachments}} page
 */
export function wireControls(page) {
  const { store, view, controller, state, attachments } = page;
  const { els } = view;
  els.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.live) return;
    await attachments.settled(); // images still being downsized go with this message
    const text = els.prompt.value.trim();
    if ((!text && !attachments.pending.length) || state.live) return;
    els.prompt.value = "";
    controller.send(text, attachments.take());
  });
  els.prompt.addEventListener("keydown", (event) => {
    if (isSendKey(event)) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.stop.addEventListener("click", () => controller.stop());
  els.retry.addEventListener("click", () => {
    els.prompt.focus();
    controller.regenerate();
  });
  // No active conversation: the next message starts one.
  els.newChat.addEventListener("click", () => controller.openConversation(null));
  els.sidebarToggle.addEventListener("click", () => {
    if (!view.closeSidebar()) view.openSidebar();
  });
  // The open drawer covers the page; a click beside it closes it, as on phones.
  document.addEventListener("click", (event) => {
    if (!els.sidebar.contains(event.target) && !els.sidebarToggle.contains(event.target)) {
      view.closeSidebar();
    }
  });
  els.list.addEventListener("click", (event) => {
    const open = event.target.closest("button[data-id]");
    if (open) controller.openConversation(open.dataset.id);
    const remove = event.target.closest("button[data-delete-id]");
    if (remove) controller.deleteConversation(remove.dataset.deleteId);
    const rename = event.target.closest("button[data-rename-id]");
    if (rename) controller.renameConversation(rename.dataset.renameId);
  });
  els.model.addEventListener("change", () => controller.chooseModel(els.model.value));
  els.conversation.addEventListener("click", (event) => onConversationClick(page, event));
  // Escape: close the sidebar overlay first, else stop a streaming reply.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (view.closeSidebar()) {
      els.sidebarToggle.focus();
    } else if (state.live) {
      event.preventDefault();
      controller.stop();
    }
  });
  // Another tab changed the conversations: show them.
  window.addEventListener("storage", (event) => {
    // On the server, the conversations are not another tab's to change (sync.js looks).
    if (event.key !== STORE_KEY || store.remote) return;
    if (state.live) {
      // Reloading would replace the objects the reply is being written into: take in
      // the other tabs' conversations beside it instead.
      if (store.absorb()) view.renderSidebar();
      return;
    }
    // A reply another tab sends has no run id yet: it is not cut off (settle: false).
    store.load({ keepActive: true, settle: false });
    view.renderAll();
    // Another tab streams a reply into the conversation on screen: show it streaming too.
    controller.resumeReply();
  });
}
