// streamchat server store: a signed-in person's conversations as the server lists them,
// held in memory with the same face as storage.js's ConversationStore, so the view, the
// controller and live.js work on either.
//
// The conversations come from GET /api/conversations a page at a time (sync.js calls
// takePage); a conversation's messages are loaded when it is opened (`loaded`). Flags on
// a conversation: `server` (it exists there: its id is the server's), `savedTitle` (its
// title there), `unsaved` (its last turn could not be stored: the database was
// unreachable). An unsaved conversation is kept in this browser's localStorage, in the
// ConversationStore's format, until a later turn or an import stores it (import_offer.js).
// No DOM here: Node tests it (tests/node/server.test.mjs). Created by chat.js.

import { fromSummary, timeOf } from "./server_api.js";

/** The sessionStorage key of the conversation this tab shows: a reload reopens it. */
export const OPEN_KEY = "streamchat:open-conversation";

export class ServerConversations {
  /**
   * @param {import("./storage.js").ConversationStore} local this browser's copies
   * @param {Storage|null} [session] window.sessionStorage: this tab's open conversation
   */
  constructor(local, session = null) {
    this.local = local;
    this.session = session;
    /** Marks the store whose conversations live on the server (controls.js, sync.js). */
    this.remote = true;
    this.conversations = [];
    this.activeId = null;
    this.liveId = null;
    /** The cursor of the next page of the list; null when every page is in. */
    this.next = null;
    this.listed = false; // whether the first page came
    this.dropLocal = new Set(); // ids whose browser copy goes at the next save
  }

  /** Nothing to read at start: sync.js lists from the server. */
  load() {}

  /** Other tabs' localStorage changes are not this store's: the server is the truth. */
  absorb() {
    return false;
  }

  storedCopy() {
    return null;
  }

  /**
   * Keep the unsaved conversations in localStorage (and drop the copies of those stored
   * since). Nothing else is written here: the server keeps the rest.
   * @returns {boolean} false: nothing came from another tab
   */
  save() {
    this.rememberOpen();
    const unsaved = this.conversations.filter((c) => c.unsaved);
    if (!unsaved.length && !this.dropLocal.size) return false;
    const { local } = this;
    local.load({ keepActive: true, settle: false });
    for (const id of this.dropLocal) local.remove(id);
    this.dropLocal.clear();
    for (const conversation of unsaved) {
      const copy = localCopy(conversation);
      const at = local.conversations.findIndex((c) => c.id === copy.id);
      if (at >= 0) local.conversations[at] = copy;
      else local.conversations.push(copy);
      local.deleted.delete(copy.id);
    }
    local.save();
    return false;
  }

  /** Keep the id of the conversation on screen for a reload of this tab. */
  rememberOpen() {
    const open = this.active();
    try {
      if (open && open.server) this.session.setItem(OPEN_KEY, open.id);
      else this.session.removeItem(OPEN_KEY);
    } catch {
      // No sessionStorage: a reload starts on a new chat.
    }
  }

  /** The conversation this tab showed before a reload, or null. */
  openBefore() {
    try {
      return this.session.getItem(OPEN_KEY);
    } catch {
      return null;
    }
  }

  /** Mark a conversation's last turn as not stored (kept here until it is). */
  markUnsaved(conversation) {
    conversation.unsaved = true;
    this.dropLocal.delete(conversation.id);
    this.save();
  }

  /** Its turn was stored: the browser's copy can go. */
  markSaved(conversation) {
    if (!conversation.unsaved) return;
    conversation.unsaved = false;
    this.dropLocal.add(conversation.id);
    this.save();
  }

  /**
   * The server made `conversation` (started here under a page id): from now on it has
   * the server's id.
   * @param {object} conversation
   * @param {{id: string, title: string, updated_at: string}} made the server's answer
   */
  adopt(conversation, made) {
    const old = conversation.id;
    // A refresh may have listed it meanwhile: one copy, this one.
    this.conversations = this.conversations.filter((c) => c === conversation || c.id !== made.id);
    Object.assign(conversation, {
      id: made.id,
      server: true,
      savedTitle: made.title,
      updated: Math.max(conversation.updated || 0, timeOf(made.updated_at)),
    });
    if (this.activeId === old) this.activeId = made.id;
    if (this.liveId === old) this.liveId = made.id;
    if (conversation.unsaved) this.dropLocal.add(old);
  }

  /**
   * Take in a page of the list.
   * @param {{conversations: object[], next: string|null}} page
   * @param {boolean} first whether it is the newest page (a refresh), else the next one
   * @returns {{listChanged: boolean, changed: Set<string>}} whether the list changed, and
   *   which known conversations changed on the server since this page had them
   */
  takePage(page, first) {
    const changed = new Set();
    const seen = new Set();
    let listChanged = false;
    for (const summary of page.conversations) {
      seen.add(summary.id);
      const known = this.find(summary.id);
      if (!known) {
        this.conversations.push({ ...fromSummary(summary), server: true });
        listChanged = true;
      } else if (timeOf(summary.updated_at) > known.updated || summary.title !== known.savedTitle) {
        if (known.id !== this.liveId && known.title === known.savedTitle) {
          known.title = summary.title;
        }
        known.savedTitle = summary.title;
        known.updated = Math.max(known.updated, timeOf(summary.updated_at));
        changed.add(known.id);
        listChanged = true;
      }
    }
    if (first) listChanged = this.dropDeleted(page, seen) || listChanged;
    if (!first || !this.listed) this.next = page.next;
    this.listed = true;
    return { listChanged, changed };
  }

  /** Drop what another device deleted: known here, on the server, within the newest
   * page's span, and not in it. */
  dropDeleted(page, seen) {
    const listed = page.conversations;
    const oldest = listed.length ? timeOf(listed[listed.length - 1].updated_at) : Infinity;
    const gone = (c) =>
      c.server &&
      !c.unsaved &&
      c.id !== this.liveId &&
      !seen.has(c.id) &&
      (page.next === null || c.updated >= oldest);
    const before = this.conversations.length;
    this.conversations = this.conversations.filter((c) => !gone(c));
    if (!this.find(this.activeId)) this.activeId = null;
    return this.conversations.length !== before;
  }

  /** The conversation on screen, or null. */
  active() {
    return this.find(this.activeId);
  }

  /** @param {string|null} id */
  find(id) {
    return this.conversations.find((c) => c.id === id) || null;
  }

  /** Add a new conversation (not on the server yet) and make it the active one. */
  add(conversation) {
    conversation.loaded = true; // nothing to load: it starts here
    this.conversations.push(conversation);
    this.activeId = conversation.id;
  }

  remove(id) {
    const conversation = this.find(id);
    if (conversation && conversation.unsaved) this.dropLocal.add(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.activeId === id) this.activeId = null;
  }

  preferredModel() {
    return this.local.preferredModel();
  }

  rememberModel(name) {
    this.local.rememberModel(name);
  }
}

/** What the browser keeps of an unsaved conversation: the ConversationStore's shape,
 * and whether the server has it under this id (an import then stores into it). */
function localCopy(conversation) {
  const { id, title, model, updated, messages, server } = conversation;
  const copy = JSON.parse(JSON.stringify({ id, title, model, updated, messages }));
  if (server) copy.server = true;
  return copy;
}
