// The page's conversation store (static/storage.js) under Node: two ConversationStores on
// one fake Storage are two tabs of one browser, so each test plays out an order of saves
// between tabs and checks what ends up stored.
// Run: node --test tests/node/storage.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ConversationStore, STORE_KEY } from "../../static/storage.js";

/** localStorage as far as the store uses it. */
class FakeStorage {
  constructor(entries = {}) {
    this.items = new Map(Object.entries(entries));
    this.full = false;
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    if (this.full) throw new DOMException("quota", "QuotaExceededError");
    this.items.set(key, String(value));
  }
}

function conversation(id, updated, ...texts) {
  const messages = texts.map((content, i) => ({ role: i % 2 ? "assistant" : "user", content }));
  return { id, title: texts[0] || "", model: "m", updated, messages };
}

/** A tab: a store loaded from `storage`, as at page start. */
function tab(storage) {
  const store = new ConversationStore(storage);
  store.load();
  return store;
}

const stored = (storage) => JSON.parse(storage.getItem(STORE_KEY));
const ids = (storage) => stored(storage).conversations.map((c) => c.id);

/** Tab A starts a reply in conversation `id`, as the controller does. */
function startReply(store, id, at) {
  const live = store.find(id);
  const reply = { role: "assistant", content: "", state: "streaming" };
  live.messages.push(reply);
  live.updated = at;
  store.liveId = id;
  store.save();
  return reply;
}

describe("ConversationStore", () => {
  test("keeps the v1 key and shape, and loads what it wrote", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Hello", "Hi"));
    a.save();
    assert.deepEqual(stored(storage), {
      conversations: [
        {
          id: "x",
          title: "Hello",
          model: "m",
          updated: 10,
          messages: [
            { role: "user", content: "Hello" },
            { role: "assistant", content: "Hi" },
          ],
        },
      ],
      activeId: "x",
    });
    const again = tab(storage);
    assert.deepEqual(again.conversations, a.conversations);
    assert.equal(again.activeId, "x");
  });

  test("a reply left streaming by a closed page loads as cut off", () => {
    const saved = conversation("x", 10, "Q");
    saved.messages.push({ role: "assistant", content: "par", state: "streaming" });
    const value = JSON.stringify({ conversations: [saved], activeId: "x" });
    const storage = new FakeStorage({ [STORE_KEY]: value });
    const reply = tab(storage).find("x").messages[1];
    assert.deepEqual(reply, {
      role: "assistant",
      content: "par",
      state: "cut off",
      note: "The page was closed before this reply finished.",
    });
  });

  test("a reply streaming with its run loads as streaming, to be read on", () => {
    const saved = conversation("x", 10, "Q", "Q2");
    const run = { id: "run-1", lines: 4, read: { ended: false } };
    saved.messages[1] = { role: "assistant", content: "par", state: "streaming", run };
    saved.messages.push({ role: "assistant", content: "", state: "streaming" });
    const value = JSON.stringify({ conversations: [saved], activeId: "x" });
    const storage = new FakeStorage({ [STORE_KEY]: value });
    const [withRun, sending] = tab(storage).find("x").messages.slice(1);
    assert.deepEqual(withRun, { role: "assistant", content: "par", state: "streaming", run });
    assert.equal(sending.state, "cut off"); // no run: its page closed before it had one
    // Another tab just saved: its reply without a run yet is one it is sending now.
    const b = new ConversationStore(storage);
    b.load({ keepActive: true, settle: false });
    assert.equal(b.find("x").messages[2].state, "streaming");
    assert.deepEqual(b.storedCopy("x"), saved); // as stored, whatever is in memory
    assert.equal(b.storedCopy("y"), null);
  });

  test("another tab's save does not move this tab off its conversation", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "In A"));
    a.save();
    const b = tab(storage);
    assert.equal(b.activeId, "x"); // a page opens on the last conversation saved
    b.activeId = null; // New chat in B
    b.save();
    a.find("x").updated = 20;
    a.save(); // A's activeId is x again
    b.load({ keepActive: true }); // B hears of it
    assert.equal(b.activeId, null);
    assert.equal(b.find("x").updated, 20);
    b.activeId = "x";
    a.remove("x");
    a.save();
    b.load({ keepActive: true });
    assert.equal(b.activeId, null); // deleted there: nothing to stay on
  });

  test("a conversation another tab creates during a reply survives the reply's saves", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "In A"));
    a.save();
    const reply = startReply(a, "x", 20);
    const b = tab(storage);
    b.add(conversation("y", 30, "In B", "B's answer"));
    b.save();
    reply.content = "partial";
    assert.equal(a.save(), true); // took in B's conversation
    reply.content = "whole";
    reply.state = "done";
    a.save();
    a.liveId = null;
    assert.deepEqual(ids(storage), ["x", "y"]);
    const [x, y] = stored(storage).conversations;
    assert.deepEqual(x.messages[1], { role: "assistant", content: "whole", state: "done" });
    assert.deepEqual(y, conversation("y", 30, "In B", "B's answer"));
    assert.equal(stored(storage).activeId, "x"); // each tab writes its own
    assert.deepEqual(a.conversations.map((c) => c.id), ["x", "y"]);
  });

  test("the conversation streaming here wins over a newer copy from another tab", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Q"));
    a.save();
    const reply = startReply(a, "x", 20);
    const b = tab(storage);
    b.find("x").title = "Renamed in B";
    b.find("x").updated = 25;
    b.save();
    reply.content = "mine";
    a.save();
    const x = stored(storage).conversations[0];
    assert.equal(x.title, "Q");
    assert.equal(x.messages[1].content, "mine");
  });

  test("otherwise the newer copy wins, and a tie goes to the one stored last", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Q"));
    a.add(conversation("z", 10, "Other"));
    a.save();
    const b = tab(storage);
    b.find("x").messages.push({ role: "assistant", content: "B answered" });
    b.find("x").updated = 20;
    b.find("z").title = "Z renamed in B"; // same `updated`: a tie
    b.save();
    a.find("x").title = "Stale edit in A";
    a.save(); // A has not reloaded: it still holds the older copies
    const [x, z] = stored(storage).conversations;
    assert.equal(x.title, "Q");
    assert.deepEqual(x.messages.map((m) => m.content), ["Q", "B answered"]);
    assert.equal(z.title, "Z renamed in B");
    assert.equal(a.find("x").updated, 20); // and A now holds B's copies
  });

  test("a change here that keeps `updated` is kept when no other tab changed it", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Q"));
    a.save();
    a.find("x").model = "other-model"; // the model picker does not touch `updated`
    a.save();
    assert.equal(stored(storage).conversations[0].model, "other-model");
  });

  test("a deletion here sticks, whatever other tabs still hold or write", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Keep"));
    a.add(conversation("y", 11, "Delete me"));
    a.save();
    const b = tab(storage);
    b.liveId = "y"; // B streams into it, so B keeps writing it
    a.remove("y");
    a.save();
    assert.deepEqual(ids(storage), ["x"]);
    b.find("y").updated = 50;
    b.save();
    assert.deepEqual(ids(storage), ["x", "y"]); // B's reply is kept by B...
    a.load(); // (A hears of B's save)
    assert.deepEqual(a.conversations.map((c) => c.id), ["x"]); // ...but not shown in A...
    a.save();
    assert.deepEqual(ids(storage), ["x"]); // ...and dropped again by the tab that deleted it
  });

  test("a deletion in another tab is not undone by this tab's save", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "Keep"));
    a.add(conversation("y", 11, "Deleted in B"));
    a.save();
    const b = tab(storage);
    b.remove("y");
    b.save();
    a.add(conversation("n", 12, "New in A"));
    assert.equal(a.save(), true);
    assert.deepEqual(ids(storage), ["x", "n"]);
  });

  test("absorb takes in other tabs' conversations without writing", () => {
    const storage = new FakeStorage();
    const a = tab(storage);
    a.add(conversation("x", 10, "A"));
    a.save();
    const live = a.find("x");
    a.liveId = "x";
    assert.equal(a.absorb(), false);
    const b = tab(storage);
    b.add(conversation("y", 20, "B"));
    b.save();
    const before = storage.getItem(STORE_KEY);
    assert.equal(a.absorb(), true);
    assert.equal(storage.getItem(STORE_KEY), before);
    assert.deepEqual(a.conversations.map((c) => c.id), ["x", "y"]);
    assert.equal(a.find("x"), live); // the object the reply is written into stays
  });

  test("unreadable storage: a save writes this tab's conversations", () => {
    const storage = new FakeStorage({ [STORE_KEY]: "{not json" });
    const a = tab(storage);
    assert.deepEqual(a.conversations, []);
    a.add(conversation("x", 10, "Q"));
    assert.equal(a.save(), false);
    assert.deepEqual(ids(storage), ["x"]);
  });

  test("a failing save is reported once, until a save works again", () => {
    const storage = new FakeStorage();
    let reports = 0;
    const a = new ConversationStore(storage, { onSaveError: () => (reports += 1) });
    a.add(conversation("x", 10, "Q"));
    storage.full = true;
    a.save();
    a.save();
    assert.equal(reports, 1);
    storage.full = false;
    a.save();
    storage.full = true;
    a.save();
    assert.equal(reports, 2);
  });
});
