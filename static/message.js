// streamchat message: one message of the conversation as a list item: the text (a
// reply's as sanitised markdown), a reply's thinking above it, a user message's images as
// thumbnails (and what could not be kept of them), its note, the token line and the
// buttons under it.
//
// No state: everything comes from the message. Imported by view.js and edit.js.

import { imageCount, lostImages } from "./images.js";
import { renderContent } from "./markdown.js";
import { thoughtsElement } from "./thinking.js";

function actionButton(action, text, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.action = action;
  button.textContent = text;
  button.setAttribute("aria-label", label);
  return button;
}

/**
 * One message as a list item.
 * @param {object} message
 * @param {number} index its place in the conversation
 * @param {boolean} isLast the last reply gets Regenerate
 * @param {{thoughtsOpen?: boolean}} [options] open a reply's thinking whatever the default
 */
export function messageElement(message, index, isLast, { thoughtsOpen } = {}) {
  const item = document.createElement("li");
  item.className = `message ${message.role}`;
  item.dataset.index = String(index);
  const who = document.createElement("span");
  who.className = "visually-hidden";
  who.textContent = message.role === "user" ? "You said:" : "Assistant:";
  const content = document.createElement("div");
  content.className = "content";
  if (message.role === "user") {
    content.classList.add("plain");
    content.textContent = message.content;
  } else {
    renderContent(content, message.content);
  }
  item.append(who);
  if (message.reasoning) item.append(thoughtsElement(message, thoughtsOpen ? { open: true } : {}));
  item.append(content);
  if (message.images && message.images.length) {
    item.append(imagesElement(message));
    const lost = lostNote(message);
    if (lost) item.append(lost);
  }
  if (message.note) {
    const note = document.createElement("p");
    note.className = message.state === "stopped" ? "note" : "note error";
    note.textContent = message.note;
    item.append(note);
  }
  if (message.usage) item.append(usageElement(message.usage));
  // A reply still streaming gets its actions when it ends (the item is redrawn then).
  if (message.state === "streaming") return item;
  const actions = document.createElement("div");
  actions.className = "actions";
  if (message.role === "user") {
    actions.append(actionButton("edit", "Edit", "Edit message"));
  } else {
    if (message.content) actions.append(actionButton("copy", "Copy", "Copy reply"));
    if (isLast) actions.append(actionButton("regenerate", "Regenerate", "Regenerate reply"));
  }
  item.append(actions);
  return item;
}

function usageElement(usage) {
  const meta = document.createElement("p");
  meta.className = "usage";
  const part = (n, what) => (Number.isFinite(n) ? `${n} ${what}` : null);
  // Reasoning tokens are part of the output (both APIs count them there).
  const thought = usage.reasoning > 0 ? ` (${usage.reasoning} reasoning)` : "";
  meta.textContent = `Tokens: ${[
    part(usage.input, "in"),
    part(usage.output, `out${thought}`),
    part(usage.total, "total"),
  ]
    .filter(Boolean)
    .join(" · ")}`;
  return meta;
}

/** A message's images as thumbnails; one not kept in this browser shows its name. */
export function imagesElement(message) {
  const list = document.createElement("ul");
  list.className = "message-images";
  list.setAttribute("aria-label", imageCount(message.images.length));
  for (const image of message.images) {
    const item = document.createElement("li");
    const src = image.thumb || image.url;
    if (src) {
      const thumb = document.createElement("img");
      thumb.src = src;
      thumb.alt = image.name;
      item.append(thumb);
    } else {
      item.textContent = image.name;
    }
    if (image.lost) item.classList.add("lost");
    list.append(item);
  }
  return list;
}

/** What a message could not keep of its images, in words; null when it kept them all. */
export function lostImagesText(message) {
  const { gone, unsaved } = lostImages(message);
  const notes = [];
  if (gone) {
    const them = gone === 1 ? "it" : "them";
    notes.push(
      `${imageCount(gone)} could not be kept in this browser (its storage is full): ` +
        `Edit or Regenerate sends this message without ${them}.`,
    );
  }
  if (unsaved) {
    const they = unsaved === 1 ? "it is" : "they are";
    notes.push(
      `${imageCount(unsaved)} could not be saved in this browser (its storage is full): ` +
        `${they} gone after a reload.`,
    );
  }
  return notes.length ? notes.join(" ") : null;
}

function lostNote(message) {
  const text = lostImagesText(message);
  if (!text) return null;
  const note = document.createElement("p");
  note.className = "note error images-lost";
  note.textContent = text;
  return note;
}
