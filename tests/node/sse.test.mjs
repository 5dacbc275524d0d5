// The page's SSE reader (static/sse.js) under Node, and streamReply asking for SSE
// (STREAM_FORMAT=sse): the bodies are framed exactly as streamchat/relay/sse.py frames
// them, and each read ends where the test says. No server: streamReply gets a fake fetch.
// Run: node --test tests/node/sse.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { readSse } from "../../static/sse.js";
import { body, counted, run } from "./streams.mjs";

async function events(stream) {
  const out = [];
  for await (const event of readSse(stream)) out.push(event);
  return out;
}

const json = (value) => JSON.stringify(value);
const data = (value) => `data: ${json(value)}\n\n`;

const chunk = (content, finish = null) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
});
const USAGE = {
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
};
const UPSTREAM_CUT = "The model provider ended the reply before it was done.";
const CHAT_ERROR = {
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [],
  error: { message: UPSTREAM_CUT, type: "upstream_error", code: "upstream_cut_off" },
};
const HEARTBEAT = ": keep-alive\n\n";
const DONE = "data: [DONE]\n\n";
const CUT_OFF = { outcome: "cut off", message: "The reply was cut off before it finished." };

/** A Responses event as the server frames it: its type on an event: line first. */
const named = (value) => `event: ${value.type}\n${data(value)}`;
const delta = (text, n) => ({
  type: "response.output_text.delta",
  delta: text,
  sequence_number: n,
});
const COMPLETED = {
  type: "response.completed",
  sequence_number: 9,
  response: { status: "completed", usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } },
};

const sse = (...pieces) =>
  new Response(body(...pieces), { headers: { "Content-Type": "text/event-stream" } });

describe("readSse", () => {
  test("joins an event split across reads, mid-field and mid-line-break", async () => {
    const got = await events(body("da", 'ta: {"a":', "1}\n", '\ndata: {"b":2}\n\n'));
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }]);
  });

  test("reads CRLF and lone CR line ends, with CR and LF in different reads", async () => {
    const pieces = ['data: {"a":1}\r\n\r\ndata: {"b":2}\r', "\n\r", '\ndata: {"c":3}\r\r'];
    const got = await events(body(...pieces));
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  test("skips comment heartbeats, also between an event's lines", async () => {
    const event = 'event: x\n: keep-alive\ndata: {"a":1}\n\n';
    const got = await events(body(HEARTBEAT, event, HEARTBEAT));
    assert.deepEqual(got, [{ a: 1 }]);
  });

  test("joins several data lines with a newline, and takes data without a space", async () => {
    const got = await events(body('data: {"a":\ndata:"x\\ny"}\n\ndata:{"b":2}\n\n'));
    assert.deepEqual(got, [{ a: "x\ny" }, { b: 2 }]);
  });

  test("stops at [DONE] and cancels the body", async () => {
    let cancelled = false;
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`${data({ a: 1 })}${DONE}${data({ b: 2 })}`));
      },
      cancel() {
        cancelled = true;
      },
    });
    assert.deepEqual(await events(stream), [{ a: 1 }]);
    assert.equal(cancelled, true);
  });

  test("drops an event the body ends in the middle of", async () => {
    const got = await events(body(data({ a: 1 }), 'data: {"b":2}\n'));
    assert.deepEqual(got, [{ a: 1 }]);
  });

  test("keeps a character split across reads whole", async () => {
    const bytes = new TextEncoder().encode(data({ text: "é\u2028ü" }));
    const got = await events(body(bytes.slice(0, 15), bytes.slice(15)));
    assert.deepEqual(got, [{ text: "é\u2028ü" }]);
  });
});

describe("readSse counts the run's events", () => {
  const withId = (n, value) => `id: ${n}\n${data(value)}`;

  test("an event's id is its position; one without an id adds one", async () => {
    const stream = body(withId(1, { a: 1 }), HEARTBEAT, data({ b: 2 }), withId(5, { c: 3 }));
    assert.deepEqual(await counted(readSse, stream), [
      [{ a: 1 }, 1],
      [{ b: 2 }, 2],
      [{ c: 3 }, 5],
    ]);
  });

  test("a resumed body counts on from its resume point; [DONE] adds none", async () => {
    const count = { lines: 3 };
    // An id that is not a count is no position: that event adds one, as one without.
    const stream = body(withId(4, { a: 1 }), `id: x\n${data({ b: 2 })}`, "id: 9\n" + DONE);
    const got = [];
    for await (const event of readSse(stream, count)) got.push(count.lines);
    assert.deepEqual(got, [4, 5]);
    assert.equal(count.lines, 5);
  });

  test("ids, named events and heartbeats leave the data as it was", async () => {
    const first = 'id: 1\nevent: x\n: keep-alive\ndata: {"a":1}\n\n';
    const stream = body(first, "id: 2\n", 'data: {"b":2}\n\n');
    assert.deepEqual(await events(stream), [{ a: 1 }, { b: 2 }]);
  });
});

describe("streamReply with format sse", () => {
  test("chat: asks for SSE; a whole reply ending in [DONE] is done, with usage", async () => {
    const reply = sse(
      data(chunk("Hel")),
      HEARTBEAT + data(chunk("lo")),
      data(chunk(undefined, "stop")),
      data(USAGE) + DONE,
    );
    const seen = await run("chat", reply, { format: "sse" });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["Hel", "lo"]);
    assert.deepEqual(seen.usages, [{ input: 5, output: 2, total: 7 }]);
    assert.equal(seen.requests[0].init.headers.Accept, "text/event-stream");
  });

  test("chat: the server's error event ends the reply as an error", async () => {
    const reply = sse(data(chunk("partial")), data(CHAT_ERROR));
    const seen = await run("chat", reply, { format: "sse" });
    assert.deepEqual(seen.result, { outcome: "error", message: UPSTREAM_CUT });
    assert.deepEqual(seen.texts, ["partial"]);
  });

  test("chat: a body ending before the finish chunk is cut off", async () => {
    const seen = await run("chat", sse(data(chunk("half ")), HEARTBEAT), { format: "sse" });
    assert.deepEqual(seen.result, CUT_OFF);
    assert.deepEqual(seen.texts, ["half "]);
  });

  test("responses: named events are read by their data; completed is done", async () => {
    const reply = sse(named(delta("Hel", 1)) + named(delta("lo", 2)), named(COMPLETED));
    const seen = await run("responses", reply, { format: "sse" });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["Hel", "lo"]);
    assert.deepEqual(seen.usages, [{ input: 5, output: 2, total: 7 }]);
  });

  test("responses: an error event ends the reply as an error", async () => {
    const error = {
      type: "error",
      code: "upstream_cut_off",
      message: UPSTREAM_CUT,
      param: null,
      sequence_number: 3,
    };
    const reply = sse(named(delta("partial", 1)), named(error));
    const seen = await run("responses", reply, { format: "sse" });
    assert.deepEqual(seen.result, { outcome: "error", message: UPSTREAM_CUT });
  });

  test("an SSE body read as NDJSON is unreadable: the format must match the request", async () => {
    const seen = await run("chat", sse(data(chunk("x"))), { format: "ndjson" });
    assert.equal(seen.requests[0].init.headers.Accept, "application/x-ndjson");
    assert.deepEqual(seen.result, {
      outcome: "error",
      message: "The server sent a reply this page cannot read.",
    });
  });
});
