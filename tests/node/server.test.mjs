// The page's side of conversations on the server, under Node: the API client on a fake
// fetch (static/server_api.js), the store the sidebar reads (static/server_store.js), and
// the import of this browser's conversations (static/importer.js).
// Run: node --test tests/node/server.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { candidates, dismiss, dismissedIds, importConversations } from "../../static/importer.js";
import {
  ApiFailure,
  ServerApi,
  fromStoredMessage,
  importable,
  messagesOf,
} from "../../static/server_api.js";
import { OPEN_KEY, ServerConversations } from "../../static/server_store.js";
import { ConversationStore, STORE_KEY } from "../../static/storage.js";

class FakeStorage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

/** A fetch answering from `answer(method, path, body)` → [status, json]; calls recorded. */
function fakeFetch(answer) {
  const calls = [];
  const send = async (path, init) => {
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push([init.method, path, body]);
    const [status, json] = answer(init.method, path, body);
    if (status === 0) throw new TypeError("Failed to fetch");
    return new Response(json === undefined ? null : JSON.stringify(json), { status });
  };
  return { send, calls };
}

const summary = (id, at, title = id) => ({
  id,
  title,
  model: "m",
  created_at: at,
  updated_at: at,
});
const local = (id, ...texts) => ({
  id,
  title: texts[0] || "",
  model: "m",
  updated: 1,
  messages: texts.map((content, i) => ({ role: i % 2 ? "assistant" : "user", content })),
});

describe("ServerApi", () => {
  test("a 503 database_unavailable and no answer at all are both 'unavailable'", async () => {
    const down = { error: { code: "database_unavailable", message: "down" } };
    const api = new ServerApi(fakeFetch(() => [503, down]).send);
    await assert.rejects(api.list(), (e) => e instanceof ApiFailure && e.unavailable);
    const gone = new ServerApi(fakeFetch(() => [0]).send);
    await assert.rejects(gone.get("x"), (e) => e.status === 0 && e.unavailable);
    const missing = { error: { code: "conversation_not_found", message: "no" } };
    const api404 = new ServerApi(fakeFetch(() => [404, missing]).send);
    await assert.rejects(api404.get("x"), (e) => e.status === 404 && !e.unavailable);
  });

  test("paths, bodies and a 204", async () => {
    const { send, calls } = fakeFetch((method) => (method === "DELETE" ? [204] : [200, {}]));
    const api = new ServerApi(send);
    await api.list("c1");
    await api.create("t", "m");
    assert.equal(await api.remove("a/b"), null);
    await api.storeMessages("id", [{ role: "user", content: "x" }]);
    assert.deepEqual(calls, [
      ["GET", "/api/conversations?limit=50&before=c1", undefined],
      ["POST", "/api/conversations", { title: "t", model: "m" }],
      ["DELETE", "/api/conversations/a%2Fb", undefined],
      ["POST", "/api/conversations/id/messages", { messages: [{ role: "user", content: "x" }] }],
    ]);
  });

  test("a stored conversation as the page draws it; a live run as a streaming reply", () => {
    const detail = {
      run_id: "run-1",
      messages: [
        { role: "user", content: "hi", state: null },
        {
          role: "assistant",
          content: "yo",
          state: "error",
          error: "boom",
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        },
        { role: "user", content: [{ type: "text", text: "again" }], state: null },
      ],
    };
    assert.deepEqual(messagesOf(detail), [
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: "yo",
        state: "error",
        note: "boom",
        usage: { input: 3, output: 2, total: 5 },
      },
      { role: "user", content: "again" },
      { role: "assistant", content: "", state: "streaming", run: { id: "run-1", lines: 0 } },
    ]);
  });

  test("what an import stores: no empty failed replies, unfinished ones cut off", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "assistant", content: "", state: "error" },
      { role: "user", content: "b" },
      { role: "assistant", content: "part", state: "streaming", run: { id: "r" } },
      { role: "user", content: "c" },
      { role: "assistant", content: "old" },
    ];
    assert.deepEqual(importable(messages), [
      { role: "user", content: "a" },
      { role: "user", content: "b" },
      { role: "assistant", content: "part", state: "cut off" },
      { role: "user", content: "c" },
      { role: "assistant", content: "old", state: "done" },
    ]);
  });
});

describe("ServerConversations", () => {
  const store = () => new ServerConversations(new ConversationStore(new FakeStorage()));

  test("pages append; a refresh marks what changed and drops what was deleted", () => {
    const s = store();
    s.takePage({ conversations: [summary("b", "2026-01-02T00:00:00Z")], next: "cur" }, true);
    s.takePage({ conversations: [summary("a", "2026-01-01T00:00:00Z")], next: null }, false);
    assert.deepEqual(
      s.conversations.map((c) => c.id),
      ["b", "a"],
    );
    assert.equal(s.next, null);
    // b changed elsewhere, c is new, and a (within the page's span, since it is all) went.
    const page = {
      conversations: [summary("b", "2026-01-03T00:00:00Z", "B!"), summary("c", "2026-01-02T12:00:00Z")],
      next: null,
    };
    const { listChanged, changed } = s.takePage(page, true);
    assert.ok(listChanged);
    assert.deepEqual([...changed], ["b"]);
    assert.deepEqual(
      s.conversations.map((c) => [c.id, c.title]),
      [
        ["b", "B!"],
        ["c", "c"],
      ],
    );
    assert.equal(s.next, null, "a refresh keeps the deeper cursor");
  });

  test("an older conversation beyond the newest page is not taken for deleted", () => {
    const s = store();
    s.takePage({ conversations: [summary("old", "2025-01-01T00:00:00Z")], next: null }, false);
    s.takePage({ conversations: [summary("new", "2026-01-01T00:00:00Z")], next: "more" }, true);
    assert.deepEqual(s.conversations.map((c) => c.id).sort(), ["new", "old"]);
  });

  test("the conversation on screen is remembered for a reload of the tab", () => {
    const session = new FakeStorage();
    const s = new ServerConversations(new ConversationStore(new FakeStorage()), session);
    s.takePage({ conversations: [summary("a", "2026-01-01T00:00:00Z")], next: null }, true);
    s.activeId = "a";
    s.save();
    assert.equal(s.openBefore(), "a");
    s.activeId = null;
    s.save();
    assert.equal(session.getItem(OPEN_KEY), null);
  });

  test("an unsaved conversation is kept in localStorage until a turn is stored", () => {
    const storage = new FakeStorage();
    const s = new ServerConversations(new ConversationStore(storage));
    const c = { id: "page-1", title: "t", model: "m", updated: 1, messages: [] };
    s.add(c);
    c.messages.push({ role: "user", content: "hello" });
    s.markUnsaved(c);
    const kept = () => JSON.parse(storage.getItem(STORE_KEY)).conversations;
    assert.deepEqual(
      kept().map((k) => [k.id, k.messages.length]),
      [["page-1", 1]],
    );
    s.adopt(c, { id: "srv-1", title: "t", updated_at: "2026-01-01T00:00:00Z" });
    assert.equal(s.activeId, "srv-1");
    s.markSaved(c);
    assert.deepEqual(kept(), []);
  });
});

describe("import", () => {
  test("each one is made, its messages stored, and it goes from this browser", async () => {
    const storage = new FakeStorage();
    const browser = new ConversationStore(storage);
    browser.conversations = [local("x", "one", "1"), local("y", "two"), local("z")];
    browser.save();
    browser.load();
    let made = 0;
    const { send, calls } = fakeFetch((method, path) => {
      if (path === "/api/conversations") return [201, { id: `s${++made}`, title: "" }];
      return [200, {}];
    });
    const offered = candidates(browser, new Set(["y"]));
    assert.deepEqual(
      offered.map((c) => c.id),
      ["x"],
      "z said nothing; y was declined",
    );
    const done = await importConversations(new ServerApi(send), browser, offered);
    assert.deepEqual(done, { imported: 1, failed: 0, unavailable: false });
    assert.deepEqual(calls.map((c) => c.slice(0, 2)), [
      ["POST", "/api/conversations"],
      ["POST", "/api/conversations/s1/messages"],
    ]);
    assert.deepEqual(calls[1][2].messages[1], { role: "assistant", content: "1", state: "done" });
    const left = JSON.parse(storage.getItem(STORE_KEY)).conversations.map((c) => c.id);
    assert.deepEqual(left, ["y", "z"]);
  });

  test("the database down: it stops, and they all stay here", async () => {
    const storage = new FakeStorage();
    const browser = new ConversationStore(storage);
    browser.conversations = [local("x", "one"), local("y", "two")];
    browser.save();
    const down = { error: { code: "database_unavailable", message: "down" } };
    const { send, calls } = fakeFetch(() => [503, down]);
    const done = await importConversations(new ServerApi(send), browser, browser.conversations);
    assert.equal(done.unavailable, true);
    assert.equal(calls.length, 1);
    assert.equal(JSON.parse(storage.getItem(STORE_KEY)).conversations.length, 2);
  });

  test("refused messages: the copy made for them is deleted, the conversation stays", async () => {
    const browser = new ConversationStore(new FakeStorage());
    browser.conversations = [local("x", "one")];
    const tooLong = { error: { code: "conversation_too_long", message: "long" } };
    const { send, calls } = fakeFetch((method, path) =>
      path === "/api/conversations" ? [201, { id: "s1" }] : method === "DELETE" ? [204] : [400, tooLong],
    );
    const done = await importConversations(new ServerApi(send), browser, browser.conversations);
    assert.deepEqual([done.imported, done.failed], [0, 1]);
    assert.deepEqual(calls.at(-1).slice(0, 2), ["DELETE", "/api/conversations/s1"]);
    assert.equal(browser.conversations.length, 1);
  });

  test("Not now is remembered per user", () => {
    const storage = new FakeStorage();
    dismiss(storage, "alice", [{ id: "x" }]);
    dismiss(storage, "alice", [{ id: "y" }]);
    assert.deepEqual([...dismissedIds(storage, "alice")], ["x", "y"]);
    assert.equal(dismissedIds(storage, "bob").size, 0);
  });
});

describe("a stored message with images", () => {
  const png = "data:image/png;base64,iVBORw0KGgo=";
  test("chat parts become the text and the images the page sends again", () => {
    const message = fromStoredMessage({
      role: "user",
      content: [
        { type: "text", text: "what is this?" },
        { type: "image_url", image_url: { url: png } },
      ],
    });
    assert.equal(message.content, "what is this?");
    assert.deepEqual(message.images, [
      { type: "image/png", name: "image 1", url: png, thumb: png },
    ]);
  });
  test("Responses parts too; a URL that is not a data: image is not shown", () => {
    const message = fromStoredMessage({
      role: "user",
      content: [
        { type: "input_text", text: "and these?" },
        { type: "input_image", image_url: png },
        { type: "input_image", image_url: "https://example.com/x.png" },
      ],
    });
    assert.equal(message.images.length, 1);
    assert.equal(message.images[0].url, png);
  });
  test("a plain message has no images", () => {
    assert.equal(fromStoredMessage({ role: "user", content: "hi" }).images, undefined);
  });
});
