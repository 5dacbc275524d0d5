// streamchat sync: the page kept in step with the conversations on the server, when they
// live there (<body data-conversations="server">).
//
// Lists them into the sidebar (more as it scrolls to its end), loads one when it is
// opened, makes a conversation started here on the server before its first turn (and
// renames it when its title changes), deletes there, and looks again when the page
// regains focus and every REFRESH_MS while it is visible: a conversation changed on
// another device is reloaded if it is on screen, a reply streaming into it is read
// through its run (live.js), and a run that is gone (404) means the reply ended: the
// stored one is loaded. A turn the server could not store (X-Conversation-Saved: false,
// or a 503 database_unavailable) is said, and kept in this browser until one is stored.
// Created by chat.js; the controller and live.js call it as `page.remote`.

import { messagesOf, sameMessages, timeOf } from "./server_api.js";

/** How often a visible page looks for changes made elsewhere: one request each time. */
export const REFRESH_MS = 25_000;
// Focus and visibility often come together: one look for both.
const MIN_GAP_MS = 2_000;
const SAVED_HEADER = "X-Conversation-Saved";

export class ServerSync {
  /**
   * @param {object} deps
   * @param {import("./server_api.js").ServerApi} deps.api
   * @param {import("./server_store.js").ServerConversations} deps.store
   * @param {import("./view.js").View} deps.view
   * @param {import("./controller.js").Controller} deps.controller
   */
  constructor({ api, store, view, controller }) {
    Object.assign(this, { api, store, view, controller });
    this.lastLook = 0;
    this.looking = null; // the refresh under way
    this.loadingMore = false;
    this.goneRuns = new Set(); // runs a resume found gone (server_api.js messagesOf)
  }

  /** The first page of the list, then listen for focus, visibility and scrolling. */
  async start() {
    await this.refresh(true);
    // A reload: the conversation this tab showed, if the newest page lists it.
    const before = this.store.openBefore();
    if (before && this.store.find(before)) this.controller.openConversation(before);
    const look = () => {
      if (document.visibilityState === "visible") this.refresh();
    };
    document.addEventListener("visibilitychange", look);
    window.addEventListener("focus", look);
    setInterval(look, REFRESH_MS);
    this.view.els.sidebar.addEventListener("scroll", () => this.loadMoreIfNear());
  }

  /** Look at the newest page of the list; reload the open conversation if it changed. */
  refresh(force = false) {
    if (this.looking) return this.looking;
    if (!force && Date.now() - this.lastLook < MIN_GAP_MS) return Promise.resolve();
    this.lastLook = Date.now();
    this.looking = this.lookNow().finally(() => {
      this.looking = null;
    });
    return this.looking;
  }

  async lookNow() {
    const { store, view } = this;
    let page;
    try {
      page = await this.api.list();
    } catch (error) {
      view.noteStatus(`Conversations could not be loaded: ${error.message}`);
      return;
    }
    const { listChanged, changed } = store.takePage(page, true);
    if (listChanged) view.renderSidebar();
    const open = store.active();
    if (open && open.server && (changed.has(open.id) || !open.loaded)) await this.reload(open);
    this.loadMoreIfNear();
  }

  /** The next page, when the sidebar is scrolled near its end (or does not scroll). */
  async loadMoreIfNear() {
    const { store, view } = this;
    const bar = view.els.sidebar;
    const near = bar.scrollHeight - bar.scrollTop - bar.clientHeight < 200;
    if (!near || !store.next || this.loadingMore) return;
    this.loadingMore = true;
    try {
      const page = await this.api.list(store.next);
      store.takePage(page, false);
      view.renderSidebar();
    } catch (error) {
      view.noteStatus(`More conversations could not be loaded: ${error.message}`);
      return;
    } finally {
      this.loadingMore = false;
    }
    this.loadMoreIfNear(); // a tall sidebar may hold the next page too
  }

  /** A conversation was opened: load its messages (again, if they changed). */
  opened(id) {
    const conversation = this.store.find(id);
    if (conversation && conversation.server) this.reload(conversation);
  }

  /**
   * Load a conversation's messages from the server and draw them if they differ from
   * what is shown. A reply streaming in this tab is left alone: its turn is ours.
   */
  async reload(conversation) {
    const { store, view, controller } = this;
    let detail;
    try {
      detail = await this.api.get(conversation.id);
    } catch (error) {
      if (error.status === 404) this.forget(conversation);
      else view.noteStatus(`This conversation could not be loaded: ${error.message}`);
      return;
    }
    if (store.liveId === conversation.id || !store.find(conversation.id)) return;
    const messages = messagesOf(detail, this.goneRuns);
    const same = conversation.loaded && sameMessages(conversation.messages, messages);
    conversation.loaded = true;
    conversation.updated = Math.max(conversation.updated, timeOf(detail.updated_at));
    if (same) return;
    conversation.messages = messages;
    if (store.activeId !== conversation.id) return;
    view.renderConversation();
    const last = messages[messages.length - 1];
    view.showStatus(last && last.role === "assistant" ? last.state : "ready");
    controller.resumeReply(); // its reply is streaming (run_id): read it
  }

  /** Deleted on another device: gone here too. */
  forget(conversation) {
    const wasOpen = this.store.activeId === conversation.id;
    this.store.remove(conversation.id);
    this.view.renderSidebar();
    if (wasOpen) this.view.renderConversation();
  }

  /**
   * Before a turn's request: make the conversation on the server if it is not there yet
   * (and give it the server's id), or rename it there if its title changed here.
   * @returns {Promise<{conversationId?: string}>} the id to send; none when it could
   *   not be stored (the reply streams all the same, and the conversation is kept here)
   */
  async beforeTurn(conversation) {
    const { api, store, view } = this;
    try {
      if (conversation.server && conversation.title !== conversation.savedTitle) {
        try {
          await api.rename(conversation.id, conversation.title);
          conversation.savedTitle = conversation.title;
        } catch (error) {
          if (error.status !== 404) throw error;
          conversation.server = false; // deleted elsewhere meanwhile: made again below
        }
      }
      if (!conversation.server) {
        store.adopt(conversation, await api.create(conversation.title, conversation.model));
        view.renderSidebar();
      }
      return { conversationId: conversation.id };
    } catch (error) {
      this.notSaved(conversation, error.message);
      return {};
    }
  }

  /** The turn's response came: was it stored? (X-Conversation-Saved: false says not.) */
  turnOpened(conversation, response) {
    if (!conversation.server) return;
    if (response.headers.get(SAVED_HEADER) === "false") {
      this.notSaved(conversation, "the database could not be reached");
    } else {
      this.store.markSaved(conversation);
      this.view.syncConversation();
    }
  }

  /**
   * A reply read here ended. One whose run was gone ended elsewhere (404 run_not_found):
   * the server has stored it, with how it ended.
   */
  turnEnded(conversation, result) {
    if (!result.runEnded || !conversation.server || conversation.unsaved) return;
    const last = conversation.messages[conversation.messages.length - 1];
    if (last && last.run) this.goneRuns.add(last.run.id);
    this.reload(conversation);
  }

  /** Rename it on the server too (one not made there yet is, with its first turn). */
  async renamed(conversation) {
    if (!conversation.server) return;
    const { title } = conversation;
    try {
      await this.api.rename(conversation.id, title);
      conversation.savedTitle = title;
    } catch (error) {
      this.view.noteStatus(`It could not be renamed on the server: ${error.message}`);
    }
  }

  /** Delete it on the server too. */
  async removed(conversation) {
    if (!conversation.server) {
      this.store.save(); // an unsaved one: its browser copy goes
      return;
    }
    try {
      await this.api.remove(conversation.id);
    } catch (error) {
      if (error.status !== 404) {
        this.view.noteStatus(`It could not be deleted on the server: ${error.message}`);
      }
    }
  }

  notSaved(conversation, why) {
    this.store.markUnsaved(conversation);
    this.view.syncConversation();
    this.view.noteStatus(`Not saved (${why})`);
  }
}
