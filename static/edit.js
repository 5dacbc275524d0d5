// streamchat edit: the inline editor that replaces a user message to change and resend it.
//
// Imported by controls.js, which opens it from a message's Edit button.

import { imagesElement, lostImagesText } from "./message.js";
import { isSendKey } from "./view.js";

/**
 * Replace message `index` of the active conversation with an editor. Send (or Enter)
 * resends the edited text, dropping what came after it; Cancel (or Escape) puts the
 * message back and the focus on its Edit button.
 * @param {{store: import("./storage.js").ConversationStore, view: import("./view.js").View,
 *   controller: import("./controller.js").Controller, state: {live: object|null}}} page
 * @param {number} index
 */
export function startEdit({ store, view, controller, state }, index) {
  const conversation = store.active();
  if (state.live || !conversation) return;
  const item = view.els.conversation.querySelector(`li[data-index="${index}"]`);
  const message = conversation.messages[index];
  const original = message.content;
  const form = document.createElement("form");
  form.className = "edit-form";
  const area = document.createElement("textarea");
  area.value = original;
  area.rows = Math.min(12, original.split("\n").length + 1);
  area.setAttribute("aria-label", "Edited message");
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Send";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(area, save, cancel);
  if (message.images && message.images.length) {
    // The images go with the edited text, but for those this browser could not keep.
    const note = document.createElement("p");
    note.className = "edit-note";
    note.textContent = lostImagesText(message) || "The images are sent with the edited text.";
    form.prepend(imagesElement(message), note);
  }
  item.replaceChildren(form);

  const finish = () => {
    view.refreshMessage(index);
    const selector = `li[data-index="${index}"] [data-action=edit]`;
    const edit = view.els.conversation.querySelector(selector);
    if (edit) edit.focus();
  };
  cancel.addEventListener("click", finish);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      // Not the page's Escape too: that would stop a reply or close the drawer.
      event.preventDefault();
      event.stopPropagation();
      finish();
    } else if (isSendKey(event)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = area.value.trim();
    const images = (message.images || []).filter((image) => image.url);
    if ((!text && !images.length) || state.live) return;
    view.els.prompt.focus();
    controller.resend(conversation, index, text);
  });
  area.focus();
}
