// Fetch bodies and a fake fetch for the page's wire tests (wire, sse and runs.test.mjs):
// a body is a ReadableStream of Uint8Array chunks, one chunk per read, so a test chooses
// exactly where the reads split the lines. Not a test file itself.
import { streamReply } from "../../static/runs.js";

const encoder = new TextEncoder();

/** A fetch body delivering each piece (string or bytes) as one read. */
export function body(...pieces) {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) {
        controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
      }
      controller.close();
    },
  });
}

/** Run streamReply against a fake fetch answering `response`; record what it saw. */
export async function run(api, response, options = {}) {
  const seen = { texts: [], usages: [], opened: 0, requests: [] };
  seen.result = await streamReply({
    api,
    messages: [{ role: "user", content: "hi" }],
    model: "model-a",
    signal: new AbortController().signal,
    onOpen: () => (seen.opened += 1),
    onText: (text) => seen.texts.push(text),
    onUsage: (usage) => seen.usages.push(usage),
    fetch: async (url, init) => {
      seen.requests.push({ url, init });
      if (response instanceof Error) throw response;
      return response;
    },
    ...options,
  });
  return seen;
}


/** Each item `read(stream, count)` yields (readNdjson, readSse), with the run's count of
 * lines as it stood when the item came. */
export async function counted(read, stream, count = { lines: 0 }) {
  const seen = [];
  for await (const item of read(stream, count)) seen.push([item, count.lines]);
  return seen;
}

/** A fetch body delivering each piece as one read, then failing as a dropped connection
 * does (fetch rejects the read with a TypeError). */
export function droppedBody(...pieces) {
  const queue = [...pieces];
  return new ReadableStream({
    // One piece a read; erroring the stream drops what is queued, so only after the last.
    pull(controller) {
      if (queue.length) controller.enqueue(encoder.encode(queue.shift()));
      else controller.error(new TypeError("network error"));
    },
  });
}
