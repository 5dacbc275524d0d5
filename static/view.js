// streamchat view: everything drawn in the page, from the store and the page state.
//
// The View finds the page's elements once and draws the sidebar, the conversation, the
// status line and the model picker. It changes no conversation: it reads the store and
// `state.live` (the reply streaming, owned by the controller). Created by chat.js; used
// by controller.js, edit.js and controls.js through that instance.

import { messageElement } from "./message.js";

const STATUS_TEXT = {
  ready: "Ready",
  sending: "Sending…",
  streaming: "Streaming…",
  reconnecting: "Reconnecting…",
  done: "Done",
  stopped: "Stopped",
  error: "Error",
  "cut off": "Cut off",
  incomplete: "Cut off",
};

/** Enter sends, in the message box and in the editor; Shift+Enter is a new line. */
export function isSendKey(event) {
  return event.key === "Enter" && !event.shiftKey && !event.isComposing;
}

export class View {
  /**
   * @param {object} deps
   * @param {{models: string[], defaultModel: string}} deps.config from the page's data-*
   * @param {import("./storage.js").ConversationStore} deps.store
   * @param {{live: object|null}} deps.state the page state chat.js shares
   */
  constructor({ config, store, state }) {
    this.config = config;
    this.store = store;
    this.state = state;
    this.status = "ready";
    // The list mirrors the active conversation's messages; each item knows its message,
    // so a change re-renders only what changed. That matters for the aria-live region:
    // a rebuilt list would be read out again in full after every reply.
    this.itemMessage = new WeakMap();
    const $ = (id) => document.getElementById(id);
    this.els = {
      app: $("app"),
      sidebar: $("sidebar"),
      sidebarToggle: $("sidebar-toggle"),
      newChat: $("new-chat"),
      list: $("conversation-list"),
      picker: $("model-picker"),
      model: $("model"),
      scroller: $("scroller"),
      conversation: $("conversation"),
      empty: $("empty"),
      status: $("status"),
      retry: $("retry"),
      form: $("composer"),
      prompt: $("prompt"),
      send: $("send"),
      stop: $("stop"),
      notSaved: $("not-saved"), // only with the conversations on the server
    };
  }

  /** Show a state (a key of STATUS_TEXT) in the status line, with an optional detail. */
  showStatus(state, detail) {
    const { status, retry } = this.els;
    this.status = state;
    status.dataset.state = state;
    status.textContent = detail ? `${STATUS_TEXT[state]}: ${detail}` : STATUS_TEXT[state];
    // Retry only where a retry makes sense: the last reply failed or stopped short.
    retry.hidden = !["error", "cut off", "incomplete"].includes(state);
  }

  /** Add a detail to the state shown now. */
  noteStatus(detail) {
    this.showStatus(this.status, detail);
  }

  /** The conversation list, most recently updated first. */
  renderSidebar() {
    const { store } = this;
    const items = [...store.conversations].sort((a, b) => b.updated - a.updated);
    this.els.list.replaceChildren(
      ...items.map((conversation) => {
        const item = document.createElement("li");
        item.className = "conversation-item";
        const open = document.createElement("button");
        open.type = "button";
        open.className = "open-conversation";
        open.dataset.id = conversation.id;
        open.textContent = conversation.title || "New chat";
        if (conversation.id === store.activeId) open.setAttribute("aria-current", "page");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "delete-conversation";
        remove.dataset.deleteId = conversation.id;
        remove.textContent = "×";
        remove.setAttribute("aria-label", `Delete conversation: ${open.textContent}`);
        remove.title = "Delete";
        item.append(open);
        // Signed in, a conversation can be renamed (its title follows it to every device).
        if (store.remote) item.append(this.renameButton(conversation.id, open.textContent));
        item.append(remove);
        return item;
      }),
    );
  }

  renameButton(id, title) {
    const rename = document.createElement("button");
    rename.type = "button";
    rename.className = "rename-conversation";
    rename.dataset.renameId = id;
    rename.textContent = "✎";
    rename.setAttribute("aria-label", `Rename conversation: ${title}`);
    rename.title = "Rename";
    return rename;
  }

  /** Bring the list in line with the active conversation, touching only what changed. */
  syncConversation() {
    const conversation = this.store.active();
    const messages = conversation ? conversation.messages : [];
    const list = this.els.conversation;
    const items = [...list.children];
    let same = 0;
    while (same < items.length && this.itemMessage.get(items[same]) === messages[same]) {
      same += 1;
    }
    for (const stale of items.slice(same)) stale.remove();
    for (let i = same; i < messages.length; i += 1) {
      const item = messageElement(messages[i], i, i === messages.length - 1);
      this.itemMessage.set(item, messages[i]);
      list.append(item);
    }
    // Regenerate belongs to the last reply only.
    for (const button of list.querySelectorAll("[data-action=regenerate]")) {
      if (button.closest("li") !== list.lastElementChild) button.remove();
    }
    this.els.empty.hidden = messages.length > 0;
    if (this.els.notSaved) this.els.notSaved.hidden = !(conversation && conversation.unsaved);
    document.title = conversation ? `${conversation.title} · streamchat` : "streamchat";
    this.setBusy(Boolean(this.state.live));
  }

  /**
   * Redraw one message (a reply that just ended, an edit cancelled) in place.
   * @param {number} index
   * @param {{thoughtsOpen?: boolean}} [options] keep a reply's thinking open
   */
  refreshMessage(index, options) {
    const old = this.els.conversation.querySelector(`li[data-index="${index}"]`);
    const conversation = this.store.active();
    if (!old || !conversation) return;
    const messages = conversation.messages;
    const isLast = index === messages.length - 1;
    const item = messageElement(messages[index], index, isLast, options);
    this.itemMessage.set(item, messages[index]);
    old.replaceWith(item);
    this.setBusy(Boolean(this.state.live));
  }

  /** Redraw the user messages whose images were just left out of storage (storage.js):
   * they say so. A reply streaming is not touched. */
  refreshImages() {
    const conversation = this.store.active();
    if (!conversation) return;
    conversation.messages.forEach((message, index) => {
      if (message.role !== "user" || !(message.images || []).some((image) => image.lost)) return;
      const item = this.els.conversation.querySelector(`li[data-index="${index}"]`);
      if (item && !item.querySelector(".edit-form")) this.refreshMessage(index);
    });
  }

  /** Rebuild the list from scratch: another conversation, or markdown became available. */
  renderConversation() {
    this.els.conversation.replaceChildren();
    this.syncConversation();
    this.syncModelPicker();
    this.scrollToEnd(true);
  }

  /** Sidebar and conversation, both from scratch. */
  renderAll() {
    this.renderSidebar();
    this.renderConversation();
  }

  /** Whether the reader is at (or near) the end of the conversation. */
  nearEnd() {
    const s = this.els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  /** Scroll to the end if forced or if the reader was there already. */
  scrollToEnd(force) {
    if (force || this.nearEnd()) this.els.scroller.scrollTop = this.els.scroller.scrollHeight;
  }

  /** The model a conversation uses: its own, else the one last picked, else the default. */
  chosenModel(conversation) {
    const { models, defaultModel } = this.config;
    const wanted = (conversation && conversation.model) || this.store.preferredModel();
    return models.includes(wanted) ? wanted : defaultModel;
  }

  /** The model a new conversation starts with: the picker's, when there is one to pick. */
  pickedModel() {
    return this.config.models.length > 1 ? this.els.model.value : this.config.defaultModel;
  }

  /** The model to ask for a reply in `conversation`; with one model allowed, that one. */
  requestModel(conversation) {
    const { models, defaultModel } = this.config;
    return models.length > 1 ? this.chosenModel(conversation) : defaultModel;
  }

  /** Fill the picker, shown only when the server allows more than one model. */
  setupModelPicker() {
    const { models } = this.config;
    if (models.length < 2) return;
    this.els.model.replaceChildren(
      ...models.map((name) => {
        const option = document.createElement("option");
        option.value = option.textContent = name;
        return option;
      }),
    );
    this.els.picker.hidden = false;
  }

  syncModelPicker() {
    if (this.config.models.length < 2) return;
    this.els.model.value = this.chosenModel(this.store.active());
  }

  /** Open the conversations drawer (narrow screens), focus on New chat. */
  openSidebar() {
    this.els.app.classList.add("sidebar-open");
    this.els.sidebarToggle.setAttribute("aria-expanded", "true");
    this.els.newChat.focus();
  }

  /** Close the drawer; false if it was not open. */
  closeSidebar() {
    if (!this.els.app.classList.contains("sidebar-open")) return false;
    this.els.app.classList.remove("sidebar-open");
    this.els.sidebarToggle.setAttribute("aria-expanded", "false");
    return true;
  }

  /** While a reply streams: Stop instead of Send, and no edits of the history. */
  setBusy(busy) {
    const { app, send, stop, prompt, conversation } = this.els;
    const focused = document.activeElement;
    app.classList.toggle("busy", busy);
    send.hidden = busy;
    stop.hidden = !busy;
    // A hidden button drops the keyboard focus; hand it to the control that replaced it.
    if (busy && focused === send) stop.focus();
    if (!busy && focused === stop) prompt.focus();
    for (const button of conversation.querySelectorAll(
      "[data-action=edit], [data-action=regenerate]",
    )) {
      button.disabled = busy;
    }
  }
}
