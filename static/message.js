// streamchat message: one message of the conversation as a list item: the text (a
// reply's as sanitised markdown), a reply's thinking above it, its note, the token line
// and the buttons under it.
//
// No state: everything comes from the message. Imported by view.js.

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
