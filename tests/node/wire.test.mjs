// The page's wire module (static/wire.js) under Node, as the browser runs it: fetch
// bodies are ReadableStreams of Uint8Array chunks, one chunk per read, so a test chooses
// exactly where the reads split the lines. No server: streamReply gets a fake fetch.
// Run: node --test tests/node/wire.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ADAPTERS, errorText, readNdjson, readState, savedReadState } from "../../static/wire.js";
import { body, counted, run } from "./streams.mjs";

const encoder = new TextEncoder();

async function lines(stream) {
  const out = [];
  for await (const line of readNdjson(stream)) out.push(line);
  return out;
}

const json = (value) => JSON.stringify(value);

/** A chat.completion.chunk line as the server relays it. */
function chunk(content, finish = null) {
  const delta = content === undefined ? {} : { content };
  return json({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
}

const CHAT_USAGE = json({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});
// The lines the server writes when the upstream fails mid-stream, one per API.
const UPSTREAM_CUT = "The model provider ended the reply before it was done.";
const CHAT_ERROR = json({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [],
  error: { message: UPSTREAM_CUT, type: "upstream_error", code: "upstream_cut_off" },
});
const RESPONSES_ERROR = json({
  type: "error",
  code: "upstream_cut_off",
  message: UPSTREAM_CUT,
  param: null,
  sequence_number: 4,
});
const delta = (text, n) =>
  json({ type: "response.output_text.delta", delta: text, sequence_number: n });
const COMPLETED = json({
  type: "response.completed",
  sequence_number: 9,
  response: { status: "completed", usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } },
});

describe("readNdjson", () => {
  test("joins a line split across reads", async () => {
    const got = await lines(body('{"a":', '1}\n{"b"', ':"x"}\n{"c":3}', "\n"));
    assert.deepEqual(got, [{ a: 1 }, { b: "x" }, { c: 3 }]);
  });

  test("reads CRLF line ends, also with CR and LF in different reads", async () => {
    const got = await lines(body('{"a":1}\r\n{"b":2}\r', '\n{"c":3}\r\n'));
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  test("skips blank heartbeat lines", async () => {
    const got = await lines(body("\n", '{"a":1}\n\n', "\n", "\r\n", '  \n{"b":2}\n', "\n"));
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }]);
  });

  test("yields a last line that has no line end", async () => {
    assert.deepEqual(await lines(body('{"a":1}\n{"b":', "2}")), [{ a: 1 }, { b: 2 }]);
  });

  test("keeps U+2028 and U+2029 inside a line, even split across reads", async () => {
    const line = chunk("one\u2028two\u2029three");
    assert.ok(line.includes("\u2028")); // raw in the line, not escaped
    const bytes = encoder.encode(`${line}\n${chunk("next")}\n`);
    const at = bytes.indexOf(0xe2) + 1; // inside U+2028's three UTF-8 bytes
    const got = await lines(body(bytes.slice(0, at), bytes.slice(at)));
    assert.equal(got.length, 2);
    assert.equal(got[0].choices[0].delta.content, "one\u2028two\u2029three");
    assert.equal(got[1].choices[0].delta.content, "next");
  });

  test("rejects a line that is not JSON", async () => {
    await assert.rejects(lines(body('{"a":1}\n', "<html>\n")), SyntaxError);
  });

  test("cancels the body when the reader leaves early", async () => {
    let cancelled = 0;
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('{"a":1}\n{"b":2}\n'));
      },
      cancel() {
        cancelled += 1;
      },
    });
    for await (const line of readNdjson(stream)) {
      assert.deepEqual(line, { a: 1 });
      break;
    }
    assert.equal(cancelled, 1);
  });
});

describe("ADAPTERS", () => {
  test("chat: text, finish, usage, limits and the error line", () => {
    const events = (line) => ADAPTERS.chat.events(JSON.parse(line));
    assert.equal(ADAPTERS.chat.endpoint, "/api/chat");
    assert.deepEqual(events(chunk("Hi")), [{ type: "text", text: "Hi" }]);
    assert.deepEqual(events(chunk("")), []);
    assert.deepEqual(events(chunk(undefined, "stop")), [{ type: "end" }]);
    assert.deepEqual(events(CHAT_USAGE), [
      { type: "usage", usage: { input: 5, output: 2, total: 7 } },
    ]);
    assert.deepEqual(events(chunk(undefined, "length")), [
      { type: "incomplete", message: "The reply reached the model's length limit." },
    ]);
    assert.deepEqual(events(chunk(undefined, "content_filter")), [
      { type: "incomplete", message: "The provider's content filter ended the reply." },
    ]);
    assert.deepEqual(events(CHAT_ERROR), [{ type: "error", message: UPSTREAM_CUT }]);
  });

  test("responses: deltas, completion, incomplete, failure and the error line", () => {
    const events = (line) => ADAPTERS.responses.events(JSON.parse(line));
    assert.equal(ADAPTERS.responses.endpoint, "/api/responses");
    assert.deepEqual(events(delta("Hi", 3)), [{ type: "text", text: "Hi" }]);
    assert.deepEqual(events(json({ type: "response.created", response: {} })), []);
    assert.deepEqual(events(COMPLETED), [
      { type: "usage", usage: { input: 5, output: 2, total: 7 } },
      { type: "end" },
    ]);
    const incomplete = (reason) =>
      json({ type: "response.incomplete", response: { incomplete_details: { reason } } });
    assert.deepEqual(events(incomplete("content_filter")), [
      { type: "incomplete", message: "The reply is incomplete (content_filter)." },
    ]);
    const failed = { type: "response.failed", response: { error: { message: "model failed" } } };
    assert.deepEqual(events(json(failed)), [{ type: "error", message: "model failed" }]);
    assert.deepEqual(events(RESPONSES_ERROR), [{ type: "error", message: UPSTREAM_CUT }]);
  });
});

const ndjson = (...pieces) =>
  new Response(body(...pieces), { headers: { "Content-Type": "application/x-ndjson" } });
const CUT_OFF = { outcome: "cut off", message: "The reply was cut off before it finished." };
const failure = (message) => ({ outcome: "error", message });
const STOP = chunk(undefined, "stop");

describe("streamReply", () => {
  test("chat: a whole reply is done, with its text and usage", async () => {
    const reply = ndjson(`${chunk("Hel")}\n${chunk("lo")}`, `\n${STOP}\n`, `${CHAT_USAGE}\n`);
    const seen = await run("chat", reply);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["Hel", "lo"]);
    assert.deepEqual(seen.usages, [{ input: 5, output: 2, total: 7 }]);
    assert.equal(seen.opened, 1);
    const [request] = seen.requests;
    assert.equal(request.url, "/api/chat");
    assert.equal(request.init.method, "POST");
    assert.equal(request.init.headers.Accept, "application/x-ndjson");
    const sent = { messages: [{ role: "user", content: "hi" }], model: "model-a" };
    assert.deepEqual(JSON.parse(request.init.body), sent);
  });

  test("chat: a body ending before the finish chunk is cut off", async () => {
    const seen = await run("chat", ndjson(`${chunk("half ")}\n\n${chunk("a reply")}\n`));
    assert.deepEqual(seen.result, CUT_OFF);
    assert.deepEqual(seen.texts, ["half ", "a reply"]);
  });

  test("chat: the server's error line ends the reply as an error", async () => {
    const seen = await run("chat", ndjson(`${chunk("partial")}\n${CHAT_ERROR}\n`));
    assert.deepEqual(seen.result, failure(UPSTREAM_CUT));
    assert.deepEqual(seen.texts, ["partial"]);
  });

  test("chat: text with U+2028 reaches the page whole", async () => {
    const reply = ndjson(`${chunk("a\u2028b")}\n${STOP}\n`);
    const seen = await run("chat", reply);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["a\u2028b"]);
  });

  test("chat: the length limit is incomplete", async () => {
    const seen = await run("chat", ndjson(`${chunk("x")}\n${chunk(undefined, "length")}\n`));
    assert.deepEqual(seen.result, {
      outcome: "incomplete",
      message: "The reply reached the model's length limit.",
    });
  });

  test("responses: a whole reply is done, from /api/responses", async () => {
    const created = json({ type: "response.created", sequence_number: 0, response: {} });
    const reply = ndjson(
      `${created}\r\n${delta("Hel", 1)}\r\n`,
      `${delta("lo", 2)}\r\n${COMPLETED}\r\n`,
    );
    const seen = await run("responses", reply);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["Hel", "lo"]);
    assert.deepEqual(seen.usages, [{ input: 5, output: 2, total: 7 }]);
    assert.equal(seen.requests[0].url, "/api/responses");
  });

  test("responses: a body ending before response.completed is cut off", async () => {
    const seen = await run("responses", ndjson(`${delta("only ", 1)}\n${delta("this", 2)}\n`));
    assert.deepEqual(seen.result, CUT_OFF);
    assert.deepEqual(seen.texts, ["only ", "this"]);
  });

  test("responses: the server's error line ends the reply as an error", async () => {
    const seen = await run("responses", ndjson(`${delta("partial", 3)}\n${RESPONSES_ERROR}\n`));
    assert.deepEqual(seen.result, failure(UPSTREAM_CUT));
    assert.deepEqual(seen.texts, ["partial"]);
  });

  test("an HTTP error before streaming shows the server's message", async () => {
    const message = "Too many requests. Try again in 60 s.";
    const refusal = new Response(json({ error: { message } }), {
      status: 429,
      headers: { "Content-Type": "application/json", "Retry-After": "60" },
    });
    const seen = await run("chat", refusal);
    assert.deepEqual(seen.result, failure(message));
    assert.equal(seen.opened, 0);
  });

  test("an HTTP error without our JSON shows the status and Retry-After", async () => {
    const init = { status: 429, statusText: "Too Many Requests", headers: { "Retry-After": "7" } };
    assert.equal(
      await errorText(new Response("<html>busy</html>", init)),
      "The server answered 429 Too Many Requests. Try again in 7 s.",
    );
    const seen = await run("chat", new Response("", { status: 502, statusText: "Bad Gateway" }));
    assert.deepEqual(seen.result, failure("The server answered 502 Bad Gateway."));
  });

  test("a line that is not JSON is an error the page can show", async () => {
    const seen = await run("chat", ndjson(`${chunk("a")}\n`, "<html>oops</html>\n"));
    assert.deepEqual(seen.result, failure("The server sent a reply this page cannot read."));
  });

  test("a failed connection is an error; an aborted one is stopped", async () => {
    const failed = await run("chat", new TypeError("fetch failed"));
    assert.deepEqual(failed.result, failure("The connection failed: fetch failed"));
    const controller = new AbortController();
    controller.abort();
    const abort = new DOMException("The operation was aborted.", "AbortError");
    const stopped = await run("chat", abort, { signal: controller.signal });
    assert.deepEqual(stopped.result, { outcome: "stopped" });
  });

  test("no model: the request leaves it out", async () => {
    const seen = await run("chat", ndjson(`${STOP}\n`), { model: "" });
    assert.deepEqual(JSON.parse(seen.requests[0].init.body), {
      messages: [{ role: "user", content: "hi" }],
    });
  });
});

describe("counting the run's lines", () => {
  test("readNdjson counts lines, not heartbeats, each before it is yielded", async () => {
    const stream = body("\n", '{"a":1}\n\n{"b"', ':2}\n', "\r\n", '{"c":3}');
    assert.deepEqual(await counted(readNdjson, stream), [
      [{ a: 1 }, 1],
      [{ b: 2 }, 2],
      [{ c: 3 }, 3],
    ]);
  });

  test("a body that resumes a run counts on from the lines read before it", async () => {
    const stream = body('{"a":1}\n', "\n", '{"b":2}\n');
    const seen = await counted(readNdjson, stream, { lines: 7 });
    assert.deepEqual(seen, [
      [{ a: 1 }, 8],
      [{ b: 2 }, 9],
    ]);
  });

  test("the read state resumes as saved: mid-<think>, ended, Responses parts", async () => {
    const state = readState();
    ADAPTERS.chat.events(JSON.parse(chunk("<think>Let me se")), state);
    ADAPTERS.chat.events(JSON.parse(chunk(" this</thi")), state);
    const saved = JSON.parse(JSON.stringify(savedReadState(state))); // through localStorage
    assert.deepEqual(saved.think, { mode: "think", held: "</thi" });
    const resumed = readState(saved);
    assert.deepEqual(ADAPTERS.chat.events(JSON.parse(chunk("nk>\n\nAnswer")), resumed), [
      { type: "text", text: "Answer" },
    ]);
    const summary = (type, index, text) => ({
      type: `response.reasoning_summary_text.${type}`,
      item_id: "rs_1",
      summary_index: index,
      [type === "delta" ? "delta" : "text"]: text,
    });
    const responses = readState();
    ADAPTERS.responses.events(summary("delta", 0, "First."), responses);
    const again = readState(JSON.parse(JSON.stringify(savedReadState(responses))));
    assert.deepEqual(ADAPTERS.responses.events(summary("done", 0, "First."), again), []);
    assert.deepEqual(ADAPTERS.responses.events(summary("delta", 1, "Next."), again), [
      { type: "reasoning", text: "\n\nNext." },
    ]);
    assert.equal(readState(saved).ended, false);
    assert.equal(readState({ ended: true }).ended, true);
    for (const junk of [null, "x", 3, { think: 5, responses: "y" }]) {
      assert.deepEqual(savedReadState(readState(junk)), savedReadState(readState()));
    }
  });
});
