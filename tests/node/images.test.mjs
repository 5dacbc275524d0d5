// The page's images without a DOM (static/images.js) and the store keeping them as far as
// localStorage allows (static/storage.js): what is sent, what is stored, what is lost.
// Run: node --test tests/node/images.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  dataUrlBytes,
  fitWithin,
  imagesToGiveUp,
  lostImages,
  sniffImageType,
  wireContent,
} from "../../static/images.js";
import { ConversationStore, STORE_KEY } from "../../static/storage.js";

const bytes = (...values) => new Uint8Array([...values, ...new Array(16).fill(0)]);

test("the format comes from the signature, whatever the file is called", () => {
  assert.equal(sniffImageType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)), "image/png");
  assert.equal(sniffImageType(bytes(0xff, 0xd8, 0xff, 0xe0)), "image/jpeg");
  const webp = [0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50];
  assert.equal(sniffImageType(bytes(...webp)), "image/webp");
  assert.equal(sniffImageType(bytes(0x47, 0x49, 0x46, 0x38, 0x39, 0x61)), "image/gif");
  assert.equal(sniffImageType(bytes(0x3c, 0x73, 0x76, 0x67)), null); // <svg
  assert.equal(sniffImageType(bytes(0x47, 0x49, 0x46, 0x38, 0x39, 0x62)), null);
});

test("sizes: the longer side fits, never enlarged; decoded bytes of a data: URL", () => {
  assert.deepEqual(fitWithin(4096, 1024, 2048), { width: 2048, height: 512 });
  assert.deepEqual(fitWithin(800, 600, 2048), { width: 800, height: 600 });
  assert.deepEqual(fitWithin(10000, 1, 2048), { width: 2048, height: 1 });
  assert.equal(dataUrlBytes("data:image/png;base64,AAAA"), 3);
  assert.equal(dataUrlBytes("data:image/png;base64,AAA="), 2);
  assert.equal(dataUrlBytes("data:image/png;base64,AA=="), 1);
});

const image = (n) => ({ type: "image/png", name: `i${n}.png`, width: 2, height: 2,
  url: `data:image/png;base64,${"A".repeat(400)}${n}`, thumb: `data:image/webp;base64,T${n}` });

test("a message with images goes as each API's content parts; without, as text", () => {
  const message = { role: "user", content: "look", images: [image(1), image(2)] };
  assert.deepEqual(wireContent(message, "chat"), [
    { type: "text", text: "look" },
    { type: "image_url", image_url: { url: image(1).url } },
    { type: "image_url", image_url: { url: image(2).url } },
  ]);
  assert.deepEqual(wireContent({ ...message, content: "" }, "responses"), [
    { type: "input_image", image_url: image(1).url },
    { type: "input_image", image_url: image(2).url },
  ]);
  assert.equal(wireContent({ role: "user", content: "hi" }, "chat"), "hi");
  const gone = { ...image(3), lost: true };
  delete gone.url;
  assert.equal(wireContent({ role: "user", content: "hi", images: [gone] }, "chat"), "hi");
});

/** localStorage with a quota in characters, as browsers count it. */
class SmallStorage {
  constructor(quota) {
    this.quota = quota;
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    if (String(value).length > this.quota) throw new DOMException("full", "QuotaExceededError");
    this.items.set(key, String(value));
  }
}

test("images that do not fit are given up most recent first, marked lost, not dropped", () => {
  const storage = new SmallStorage(1500);
  let told = 0;
  const store = new ConversationStore(storage, { onImagesLost: () => (told += 1) });
  store.load();
  const old = { id: "a", title: "a", model: "m", updated: 1, messages: [
    { role: "user", content: "first", images: [image(1)] }] };
  const recent = { id: "b", title: "b", model: "m", updated: 2, messages: [
    { role: "user", content: "second", images: [image(2), image(3)] }] };
  store.add(old);
  store.add(recent);
  assert.deepEqual(imagesToGiveUp(store.conversations).map((f) => f.image.name),
    ["i3.png", "i2.png", "i1.png"]);
  store.save();
  assert.equal(told, 1);
  const saved = JSON.parse(storage.getItem(STORE_KEY)).conversations;
  const kept = saved.flatMap((c) => c.messages[0].images.filter((i) => i.url).map((i) => i.name));
  assert.deepEqual(kept.sort(), ["i1.png", "i2.png"]); // i3 went first, and that was enough
  const lost = saved[1].messages[0].images[1];
  assert.equal(lost.lost, true);
  assert.equal(lost.url, undefined); // not in storage...
  assert.equal(lost.thumb, image(3).thumb); // ...but its thumbnail is
  // This tab still holds it, and can still send it; the message says it is unsaved.
  const mine = recent.messages[0];
  assert.equal(mine.images[1].url, image(3).url);
  assert.deepEqual(lostImages(mine), { gone: 0, unsaved: 1 });
  assert.equal(wireContent(mine, "chat").length, 3);
  // Another tab (or a reload) finds it gone, and sends the message without it.
  const reloaded = new ConversationStore(storage);
  reloaded.load();
  const there = reloaded.find("b").messages[0];
  assert.deepEqual(lostImages(there), { gone: 1, unsaved: 0 });
  assert.deepEqual(wireContent(there, "chat").map((p) => p.type), ["text", "image_url"]);
});

test("when nothing fits even without images, the save fails as before", () => {
  const storage = new SmallStorage(10);
  let failed = 0;
  let told = 0;
  const store = new ConversationStore(storage, {
    onSaveError: () => (failed += 1),
    onImagesLost: () => (told += 1),
  });
  store.add({ id: "a", title: "a", model: "m", updated: 1, messages: [
    { role: "user", content: "x", images: [image(1)] }] });
  store.save();
  assert.equal(failed, 1);
  assert.equal(told, 1);
  assert.equal(store.conversations[0].messages[0].images[0].lost, true);
});
