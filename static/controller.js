// streamchat controller: what the page's controls do to the conversations.
//
// Sending, streaming a reply into the store and the view, stopping, regenerating,
// re-sending an edited message, switching and deleting conversations, picking a model.
// The reply streaming is `state.live` (null when none): the view reads it to show
// Stop instead of Send, controls.js to route Escape. Created by chat.js; used by
// controls.js and edit.js through that instance.

import { renderStreaming } from "./markdown.js";
import { newId, titleFrom } from "./storage.js";
import { LiveThinking } from "./thinking.js";
import { streamReply } from "./runs.js";

/** What the server gets: role and content only (never a reply's reasoning: DeepSeek
 * refuses a request that carries it); failed empty replies are left out. */
function wireMessages(messages) {
  return messages
    .filter((m) => m.role === "user" || m.content)
    .map(({ role, content }) => ({ role, content }));
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

  /** Send a new message in the active conversation (started here if there is none). */
  send(text) {
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
    conversation.messages.push({ role: "user", content: text });
    if (!conversation.title) conversation.title = titleFrom(text);
    return this.runReply(conversation);
  }

  /**
   * Stream a reply to the conversation's last user message and keep it up to date.
   * @returns {Promise<void>} settles when the reply has ended, whichever way
   */
  async runReply(conversation) {
    const { store, view, state } = this;
    const { els } = view;
    const sent = wireMessages(conversation.messages);
    const message = { role: "assistant", content: "", state: "streaming" };
    conversation.messages.push(message);
    conversation.updated = Date.now();
    const controller = new AbortController();
    const live = { conversation, message, controller, frame: 0, saved: 0, blocks: [] };
    state.live = live;
    // Whatever other tabs store meanwhile, this conversation is written as this tab has it.
    store.liveId = conversation.id;
    this.save();
    view.renderSidebar();
    view.syncConversation();
    view.scrollToEnd(true);
    live.content = els.conversation.lastElementChild.querySelector(".content");
    live.content.setAttribute("aria-busy", "true"); // announce the reply once, when complete
    live.thinking = new LiveThinking(message, live.content);
    view.showStatus("sending");

    const result = await streamReply({
      api: this.config.api,
      format: this.config.streamFormat,
      messages: sent,
      model: view.requestModel(conversation),
      signal: controller.signal,
      onOpen: (response) => {
        view.showStatus("streaming");
        if (this.budget) this.budget.admitted(response.headers);
      },
      onText: (text) => {
        live.thinking.answerStarted();
        message.content += text;
        this.scheduleRender();
        this.saveSoon();
      },
      onReasoning: (text) => {
        live.thinking.add(text);
        this.scheduleRender();
        this.saveSoon();
      },
      onUsage: (usage) => {
        message.usage = usage;
      },
    });

    if (live.frame) cancelAnimationFrame(live.frame);
    live.thinking.end();
    message.state = result.outcome;
    if (result.outcome === "stopped") message.note = "Stopped.";
    else if (result.message) message.note = result.message;
    state.live = null;
    // However it ended, the server has counted the reply by now: show what is left.
    if (this.budget) this.budget.replyEnded(result.outcome);
    this.save(); // still as the live conversation: the final reply wins over older copies
    store.liveId = null;
    // Only redraw if the user is still looking at this conversation.
    if (store.activeId === conversation.id) {
      const follow = view.nearEnd();
      const thoughtsOpen = live.thinking.isOpen(); // the reader opened it: leave it open
      view.refreshMessage(conversation.messages.indexOf(message), { thoughtsOpen });
      view.scrollToEnd(follow);
      view.showStatus(result.outcome);
    } else {
      view.setBusy(false);
    }
  }

  /** Re-render the streaming reply at most once per frame, however fast deltas come. */
  scheduleRender() {
    const { state, view } = this;
    if (!state.live || state.live.frame) return;
    state.live.frame = requestAnimationFrame(() => {
      const live = state.live;
      if (!live) return;
      live.frame = 0;
      const follow = view.nearEnd();
      live.thinking.render();
      renderStreaming(live);
      if (follow) view.scrollToEnd(true);
    });
  }

  /** Keep a partial reply in storage about once a second, so a reload loses little. */
  saveSoon() {
    const { live } = this.state;
    const now = Date.now();
    if (now - live.saved > 1000) {
      live.saved = now;
      this.save();
    }
  }

  /** Stop the reply streaming, if any; what arrived is kept. */
  stop() {
    if (this.state.live) this.state.live.controller.abort();
  }

  /** Drop the last reply (failed or not) and ask again. */
  regenerate() {
    const conversation = this.store.active();
    if (this.state.live || !conversation) return;
    const lastUser = lastIndexOfRole(conversation.messages, "user");
    if (lastUser < 0) return;
    conversation.messages.splice(lastUser + 1);
    this.runReply(conversation);
  }

  /** Replace message `index` with `text`, drop what came after it, and ask again. */
  resend(conversation, index, text) {
    if (this.state.live) return;
    // Everything after the edited message answered the old text: it goes.
    conversation.messages.splice(index);
    conversation.messages.push({ role: "user", content: text });
    if (index === 0) conversation.title = titleFrom(text);
    this.runReply(conversation);
  }

  /** Show the conversation with this id, or none (null) for a new chat. */
  openConversation(id) {
    const { store, view } = this;
    this.stop(); // one reply streams at a time; the partial reply is kept
    store.activeId = id;
    this.save();
    view.renderAll();
    view.showStatus("ready");
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
