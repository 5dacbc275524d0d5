// streamchat storage: the conversations, kept in localStorage and shared by every tab.
//
// The server is stateless; the browser keeps the history. One ConversationStore per
// page holds the conversations in memory and writes them under STORE_KEY, in the shape
// {conversations: [{id, title, model, updated, messages: [{role, content, ...}]}], activeId};
// a reply streaming has `state: "streaming"` and its run, {id, lines, read} (live.js).
// Other tabs of the same origin write that same key at any time (a `storage` event says
// so), so a save merges with what is stored instead of overwriting it: see merge().
// No DOM here (Node's tests build a store on a fake Storage). Created by chat.js and
// used through that instance by view.js, controller.js, edit.js and controls.js.
// Images ride on their messages (images.js); when they do not all fit, the most recent
// are given up first and marked lost, never dropped silently.

import { imagesToGiveUp, loseImage } from "./images.js";

/** The localStorage key of the conversations; unchanged since v1 so old histories load. */
export const STORE_KEY = "streamchat:conversations:v1";
/** The localStorage key of the model last picked, for new conversations. */
export const MODEL_KEY = "streamchat:model";

export class ConversationStore {
  /**
   * @param {Storage|null} storage window.localStorage, or null where it is unavailable
   * @param {{onSaveError?: () => void, onImagesLost?: () => void}} [options] called when
   *   a save first fails, and when images had to be left out of storage to make it fit
   */
  constructor(storage, { onSaveError = () => {}, onImagesLost = () => {} } = {}) {
    this.storage = storage;
    this.onSaveError = onSaveError;
    this.onImagesLost = onImagesLost;
    /** @type {{id: string, title: string, model: string, updated: number, messages: object[]}[]} */
    this.conversations = [];
    /** @type {string|null} the conversation on screen; null: the next message starts one */
    this.activeId = null;
    /** @type {string|null} set by the controller while this tab streams a reply into it */
    this.liveId = null;
    // Ids deleted in this tab: whatever another tab still writes, they stay deleted here.
    this.deleted = new Set();
    // Each conversation's JSON as this tab last read or wrote it. A stored conversation
    // whose JSON still matches was not changed by another tab since, so ours is current.
    this.synced = new Map();
    this.saveFailed = false;
  }

  /**
   * Replace what is in memory with what is stored: at page start, and when another tab
   * saved while no reply streams here.
   * A reply saved while streaming keeps its run (message.run: {id, lines, read}): the
   * controller reads on from there. One without a run was closed before the server named
   * it, so the rest never comes: it loads as cut off, unless `settle` is false.
   * @param {{keepActive?: boolean, settle?: boolean}} [options] keepActive: stay on this
   *   tab's conversation rather than take the stored activeId, which is the last tab's to
   *   save (following it moved this tab off a new chat, and its next message into another
   *   conversation); settle: false when another tab just saved, since its reply without a
   *   run yet is one it is sending now
   */
  load({ keepActive = false, settle = true } = {}) {
    const saved = this.read();
    const conversations = saved ? saved.conversations.filter((c) => !this.deleted.has(c.id)) : [];
    this.synced = new Map(conversations.map((c) => [c.id, JSON.stringify(c)]));
    for (const conversation of conversations) {
      for (const message of conversation.messages) {
        if (settle && message.state === "streaming" && !message.run) {
          message.state = "cut off";
          message.note = "The page was closed before this reply finished.";
        }
      }
    }
    this.conversations = conversations;
    const activeId = keepActive ? this.activeId : saved && saved.activeId;
    this.activeId = conversations.some((c) => c.id === activeId) ? activeId : null;
  }

  /**
   * Take in what other tabs stored, without writing: for a `storage` event that arrives
   * while a reply streams here (the live conversation's objects must stay the same).
   * @returns {boolean} whether another tab's changes were taken in
   */
  absorb() {
    const saved = this.read();
    return saved ? this.merge(saved.conversations) : false;
  }

  /**
   * Write the conversations, merged with what other tabs stored meanwhile.
   * @returns {boolean} whether another tab's changes were taken in (redraw the sidebar)
   */
  save() {
    const saved = this.read();
    const foreign = saved ? this.merge(saved.conversations) : false;
    // Built from the parts so each conversation is serialised once; the result is what
    // JSON.stringify({conversations, activeId}) gives.
    const parts = this.conversations.map((c) => JSON.stringify(c));
    try {
      this.writeFitting(parts, JSON.stringify(this.activeId));
      this.synced = new Map(this.conversations.map((c, i) => [c.id, parts[i]]));
      this.saveFailed = false;
    } catch {
      // Full or disabled storage: the chat still works, it just won't survive a reload.
      if (!this.saveFailed) this.onSaveError();
      this.saveFailed = true;
    }
    return foreign;
  }

  /**
   * Write the conversations' JSON `parts`. When storage refuses (full), give up images
   * one at a time, the most recent first, until it takes them; throw if it still will not.
   */
  writeFitting(parts, activeId) {
    let candidates = null;
    for (;;) {
      try {
        this.storage.setItem(STORE_KEY, `{"conversations":[${parts.join(",")}],"activeId":${activeId}}`);
        if (candidates && candidates.given) this.onImagesLost();
        return;
      } catch (error) {
        candidates = candidates || imagesToGiveUp(this.conversations);
        const next = candidates.shift();
        if (!next) {
          if (candidates.given) this.onImagesLost();
          throw error;
        }
        candidates.given = true;
        loseImage(next.image);
        const at = this.conversations.indexOf(next.conversation);
        parts[at] = JSON.stringify(next.conversation);
      }
    }
  }

  /**
   * Merge the stored conversations into memory, by id:
   * - deleted in this tab: dropped;
   * - stored only: another tab's, kept;
   * - in memory only: kept if new here; dropped if it was stored when this tab last
   *   looked (another tab deleted it), unless a reply is streaming into it here;
   * - in both: ours if a reply is streaming into it here, or if the stored one is what
   *   this tab last read or wrote; else the newer by `updated`, the stored one on a tie
   *   (it was written after ours).
   * The objects kept from memory stay the same objects: the view and a streaming reply
   * hold them.
   * @param {object[]} stored valid conversations as read from storage
   * @returns {boolean} whether anything came from (or was dropped because of) another tab
   */
  merge(stored) {
    const mine = new Map(this.conversations.map((c) => [c.id, c]));
    const merged = [];
    const synced = new Map();
    let foreign = false;
    for (const theirs of stored) {
      if (this.deleted.has(theirs.id)) continue;
      const text = JSON.stringify(theirs);
      synced.set(theirs.id, text);
      const ours = mine.get(theirs.id);
      mine.delete(theirs.id);
      if (ours && this.keepsOurs(ours, theirs, text)) {
        merged.push(ours);
      } else {
        merged.push(theirs);
        foreign = true;
      }
    }
    for (const ours of mine.values()) {
      if (this.synced.has(ours.id) && ours.id !== this.liveId) {
        foreign = true; // deleted by another tab
      } else {
        merged.push(ours);
      }
    }
    this.conversations = merged;
    this.synced = synced;
    if (!merged.some((c) => c.id === this.activeId)) this.activeId = null;
    return foreign;
  }

  /** For one id in memory and in storage: whether our copy is the one to keep. */
  keepsOurs(ours, theirs, text) {
    if (ours.id === this.liveId) return true;
    if (this.synced.get(ours.id) === text) return true;
    const mineAt = Number(ours.updated) || 0;
    const theirsAt = Number(theirs.updated) || 0;
    return mineAt > theirsAt;
  }

  /**
   * The stored value, its invalid conversations left out; null if there is none or it
   * cannot be read (then a save writes what is in memory, as before the merge).
   * @returns {{conversations: object[], activeId: string|null}|null}
   */
  read() {
    try {
      const saved = JSON.parse(this.storage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.conversations)) {
        return {
          conversations: saved.conversations.filter(validConversation),
          activeId: typeof saved.activeId === "string" ? saved.activeId : null,
        };
      }
    } catch {
      // Unreadable storage: start afresh rather than fail to load the page.
    }
    return null;
  }

  /**
   * A conversation as stored now (by whichever tab saved last), or null: read, not taken in.
   * @param {string} id
   */
  storedCopy(id) {
    const saved = this.read();
    return (saved && saved.conversations.find((c) => c.id === id)) || null;
  }

  /** The conversation on screen, or null. */
  active() {
    return this.find(this.activeId);
  }

  /** @param {string|null} id */
  find(id) {
    return this.conversations.find((c) => c.id === id) || null;
  }

  /** Add a new conversation and make it the active one. */
  add(conversation) {
    this.conversations.push(conversation);
    this.activeId = conversation.id;
  }

  /** Delete a conversation in this tab; it stays deleted whatever other tabs store. */
  remove(id) {
    this.deleted.add(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.activeId === id) this.activeId = null;
  }

  /** The model last picked in this browser, or null. */
  preferredModel() {
    try {
      return this.storage.getItem(MODEL_KEY);
    } catch {
      return null;
    }
  }

  /** Remember the model picked, for conversations started later. */
  rememberModel(name) {
    try {
      this.storage.setItem(MODEL_KEY, name);
    } catch {
      // Not remembered; the picker still works for this page.
    }
  }
}

function validConversation(c) {
  return (
    c &&
    typeof c.id === "string" &&
    Array.isArray(c.messages) &&
    c.messages.every(
      (m) => m && (m.role === "user" || m.role === "assistant") && typeof m.content === "string",
    )
  );
}

/** A new conversation id. crypto.randomUUID needs a secure context; this is unique
 * enough for one browser. */
export function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A conversation's title: its first message on one line, at most 48 characters. */
export function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || "New chat";
}
