// streamchat controller: what the page's controls do to the conversations.
//
// Sending, reading a reply (a new one, or one streaming already: after a reload, from
// another tab), stopping, regenerating, re-sending an edited message, switching and
// deleting conversations, picking a model. The reply read now is `state.live` (a
// LiveReply, live.js; null when none). With the conversations on the server, `remote`
// (sync.js) is told of each turn, opening and deletion. Created by chat.js; used by
// controls.js, edit.js and live.js through that instance.

import { imageCount, lostImages, sendableImages, wireContent } from "./images.js";
import { LiveReply } from "./live.js";
import { newId, titleFrom } from "./storage.js";

/** What the server gets: role and content only (never a reply's reasoning: DeepSeek
 * refuses a request that carries it), a user message's images as content parts in the
 * shape of `api`; failed empty replies are left out. */
function wireMessages(messages, api) {
  return messages
    .filter((m) => m.role === "user" || m.content)
    .map((m) => ({ role: m.role, content: wireContent(m, api) }));
}

/** A user message of `text` and `images` (images.js), as the conversation keeps it. */
function userMessage(text, images) {
  const message = { role: "user", content: text };
  if (images && images.length) message.images = images;
  return message;
}

function lastIndexOfRole(messages, role) {
  for (let i = messages.length - 1; i >= 0; i -= 1) if (messages[i].role === role) return i;
  return -1;
}

export class Controller {
  /**
   * @param {object} deps
   * @param {{api: string}} deps.config from the page's data-*
   * @param {import("./storage.js").ConversationStore} deps.store
   * @param {import("./view.js").View} deps.view
   * @param {{live: object|null}} deps.state the page state chat.js shares
   * @param {import("./budgetview.js").BudgetView} [deps.budget] the token budget line
   */
  constructor({ config, store, view, state, budget = null }) {
    this.config = config;
    this.store = store;
    this.view = view;
    this.state = state;
    this.budget = budget;
    /** @type {import("./sync.js").ServerSync|null} set by chat.js when the server keeps them */
    this.remote = null;
  }

  /** Save, and show at once what the merge took in from other tabs. */
  save() {
    const { store, view } = this;
    const before = store.active();
    if (!store.save()) return;
    view.renderSidebar();
    // The conversation on screen was changed or deleted by another tab meanwhile.
    if (!this.state.live && store.active() !== before) view.renderConversation();
  }

  /** Send a new message (text, and images from attachments.js) in the active
   * conversation (started here if there is none). */
  send(text, images = []) {
    const { store, view } = this;
    let conversation = store.active();
    if (!conversation) {
      conversation = {
        id: newId(),
        title: "",
        model: view.pickedModel(),
        updated: Date.now(),
        messages: [],
      };
      store.add(conversation);
    }
    conversation.messages.push(userMessage(text, images));
    if (!conversation.title) conversation.title = titleFrom(text || images[0].name);
    return this.runReply(conversation);
  }

  /**
   * Stream a reply to the conversation's last user message and keep it up to date.
   * @returns {Promise<void>} settles when the reply has ended, whichever way
   */
  runReply(conversation) {
    const sent = wireMessages(conversation.messages, this.config.api);
    const message = { role: "assistant", content: "", state: "streaming" };
    conversation.messages.push(message);
    conversation.updated = Date.now();
    const model = this.view.requestModel(conversation);
    const request = { messages: sent, model };
    // On the server, the conversation is made there first: the turn names it.
    if (this.remote) request.prepare = () => this.remote.beforeTurn(conversation);
    return new LiveReply(this, conversation, message).read(request);
  }

  /**
   * Read on the reply streaming in the conversation on screen, if its last reply is one
   * and this tab reads none: after a reload, when another tab started it, or on coming
   * back to it. From the count of lines its saved text holds (live.js).
   * @returns {Promise<void>|undefined}
   */
  resumeReply() {
    const conversation = this.store.active();
    if (this.state.live || !conversation) return undefined;
    const message = conversation.messages[conversation.messages.length - 1];
    if (!message || message.state !== "streaming" || !message.run) return undefined;
    const { id, lines, read } = message.run;
    const resume = { id, after: Number.isSafeInteger(lines) && lines > 0 ? lines : 0, read };
    return new LiveReply(this, conversation, message).read({ resume });
  }

  /** Stop the reply streaming, for every reader of it; what arrived is kept. */
  stop() {
    if (this.state.live) this.state.live.stop();
  }

  /** Drop the last reply (failed or not) and ask again. */
  regenerate() {
    const conversation = this.store.active();
    if (this.state.live || !conversation) return;
    const lastUser = lastIndexOfRole(conversation.messages, "user");
    if (lastUser < 0) return;
    conversation.messages.splice(lastUser + 1);
    const { gone } = lostImages(conversation.messages[lastUser]);
    this.runReply(conversation);
    // Its message said so; said again, as it goes without them.
    if (gone) this.view.noteStatus(`sent without ${imageCount(gone)} not kept in this browser`);
  }

  /** Replace message `index` with `text` (its images kept, those still here), drop what
   * came after it, and ask again. */
  resend(conversation, index, text) {
    if (this.state.live) return;
    const images = sendableImages(conversation.messages[index]);
    // Everything after the edited message answered the old text: it goes.
    conversation.messages.splice(index);
    conversation.messages.push(userMessage(text, images));
    if (index === 0) conversation.title = titleFrom(text || (images[0] && images[0].name) || "");
    this.runReply(conversation);
  }

  /** Show the conversation with this id, or none (null) for a new chat. */
  openConversation(id) {
    const { store, view, state } = this;
    const { live } = state;
    if (!live || live.conversation.id !== id) {
      // One reply is read at a time. The one here goes on, on the server, without this
      // tab: coming back to it reads on (resumeReply), while its run is kept.
      if (live) live.leave();
      store.activeId = id;
      this.save();
      view.renderAll();
      view.showStatus("ready");
      this.resumeReply();
      if (this.remote) this.remote.opened(id);
    }
    view.closeSidebar();
    view.els.prompt.focus();
  }

  /** Delete a conversation, once the user confirms. */
  deleteConversation(id) {
    const { store, state } = this;
    const conversation = store.find(id);
    if (!conversation) return;
    if (!window.confirm(`Delete “${conversation.title || "New chat"}”?`)) return;
    if (state.live && state.live.conversation === conversation) this.stop();
    store.remove(id);
    this.save();
    this.view.renderAll();
    if (this.remote) this.remote.removed(conversation);
  }

  /** Give a conversation kept on the server a new title, asked for in a native prompt. */
  renameConversation(id) {
    const conversation = this.store.find(id);
    if (!conversation || !this.remote) return;
    const asked = window.prompt("New title", conversation.title || "");
    const title = asked === null ? "" : asked.replace(/\s+/g, " ").trim().slice(0, 200);
    if (!title || title === conversation.title) return;
    conversation.title = title;
    this.save();
    this.view.renderSidebar();
    if (this.store.activeId === id) this.view.syncConversation(); // the window's title
    this.remote.renamed(conversation);
  }

  /** Pick the model for the active conversation and for those started later. */
  chooseModel(name) {
    this.store.rememberModel(name);
    const conversation = this.store.active();
    if (conversation) {
      conversation.model = name;
      this.save();
    }
  }
}
