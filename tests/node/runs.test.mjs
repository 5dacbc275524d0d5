// The page's runs module (static/runs.js) under Node: a reply read as a run, resumed from
// a count of lines after a reload or a dropped connection, and stopped for every reader.
// No server: a fake fetch answers each request in turn, and a fake clock and sleep stand
// for the waits between attempts. Run: node --test tests/node/runs.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { pause, runUrl, stopRun, streamReply } from "../../static/runs.js";
import { ADAPTERS, readState, savedReadState } from "../../static/wire.js";
import { body, droppedBody } from "./streams.mjs";

const json = (value) => JSON.stringify(value);
const chunk = (content, finish = null) =>
  json({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
  });
const STOP = chunk(undefined, "stop");
const USAGE = json({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});
const lines = (...items) => items.map((line) => `${line}\n`).join("");

/** A 200 streaming `stream`, as the server answers a new reply or a resume. */
function streaming(stream, { run = "run-1", type = "application/x-ndjson" } = {}) {
  return new Response(stream, { headers: { "Content-Type": type, "X-Run-ID": run } });
}

function refusal(status, code) {
  const error = { message: `refused: ${code}`, type: "invalid_request_error", code };
  return new Response(json({ error }), { status, headers: { "Content-Type": "application/json" } });
}

const offline = () => new TypeError("Failed to fetch");

/**
 * streamReply against a fake server answering `answers` in turn (a Response, or an
 * Error to reject with), on a fake clock that each wait moves on; what it saw.
 */
async function follow(answers, options = {}) {
  const seen = { texts: [], lines: [], events: [], requests: [], sleeps: [], usages: [] };
  let clock = 0;
  seen.result = await streamReply({
    api: "chat",
    messages: [{ role: "user", content: "hi" }],
    signal: new AbortController().signal,
    graceSeconds: 30,
    onRun: (id) => seen.events.push(`run ${id}`),
    onText: (text) => seen.texts.push(text),
    onUsage: (usage) => seen.usages.push(usage),
    // The text as it stood when each line was counted: what a save would keep together.
    onLine: (n) => seen.lines.push([n, seen.texts.join("")]),
    onReconnecting: () => seen.events.push("reconnecting"),
    onResumed: () => seen.events.push("resumed"),
    now: () => clock,
    sleep: async (ms) => {
      seen.sleeps.push(ms);
      clock += ms;
    },
    fetch: async (url, init = {}) => {
      seen.requests.push({ url, method: init.method || "GET", accept: init.headers?.Accept });
      const answer = answers.shift();
      if (answer === undefined) throw new Error(`unexpected request: ${url}`);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    ...options,
  });
  return seen;
}

const urls = (seen) => seen.requests.map((r) => `${r.method} ${r.url}`);
const POST = "POST /api/chat";

describe("a new reply is a run", () => {
  test("its id is reported, and the count after each line's events", async () => {
    const reply = lines(chunk("Hel"), "", chunk("lo"), STOP, USAGE);
    const seen = await follow([streaming(body(reply))]);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.events, ["run run-1"]);
    assert.deepEqual(seen.lines, [
      [1, "Hel"],
      [2, "Hello"],
      [3, "Hello"],
      [4, "Hello"],
    ]);
    assert.deepEqual(urls(seen), [POST]);
  });

  test("without X-Run-ID a body ending short is cut off, and nothing is resumed", async () => {
    const plain = new Response(body(lines(chunk("half"))), { headers: {} });
    const seen = await follow([plain]);
    assert.deepEqual(seen.result, {
      outcome: "cut off",
      message: "The reply was cut off before it finished.",
    });
    assert.deepEqual(urls(seen), [POST]);
  });
});

describe("resuming a run", () => {
  test("starts mid-run: GET after the lines read, the rest once, in the saved state", async () => {
    const state = readState();
    ADAPTERS.chat.events(JSON.parse(chunk("<think>Hmm")), state); // line 1
    ADAPTERS.chat.events(JSON.parse(chunk("</th")), state); // line 2: "</th" held
    const read = JSON.parse(json(savedReadState(state)));
    const rest = streaming(body(lines(chunk("ink>Yes"), STOP)));
    const seen = await follow([rest], { resume: { id: "run/1", after: 2, read } });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(urls(seen), ["GET /api/runs/run%2F1?after=2"]);
    assert.equal(seen.requests[0].accept, "application/x-ndjson");
    assert.deepEqual(seen.texts, ["Yes"]);
    assert.deepEqual(seen.lines, [
      [3, "Yes"],
      [4, "Yes"],
    ]);
    assert.deepEqual(seen.events, []); // the page already knows the run
  });

  test("SSE: asks for SSE and counts by the events' ids", async () => {
    const event = (n, line) => `id: ${n}\ndata: ${line}\n\n`;
    const rest = event(6, chunk("b")) + ": keep-alive\n\n" + event(7, STOP) + "data: [DONE]\n\n";
    const answer = streaming(body(rest), { type: "text/event-stream" });
    const resume = { id: "run-1", after: 5 };
    const seen = await follow([answer], { format: "sse", resume });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.equal(seen.requests[0].accept, "text/event-stream");
    assert.deepEqual(seen.lines, [
      [6, "b"],
      [7, "b"],
    ]);
  });

  test("a run the server no longer has is cut off, and said to be over", async () => {
    const seen = await follow([refusal(404, "run_not_found")], { resume: { id: "x", after: 3 } });
    assert.equal(seen.result.outcome, "cut off");
    assert.equal(seen.result.runEnded, true);
    assert.match(seen.result.message, /no longer has it/);
  });

  test("a refusal that will not pass is an error in the server's words", async () => {
    const seen = await follow([refusal(401, "unauthenticated")], { resume: { id: "x", after: 0 } });
    assert.deepEqual(seen.result, { outcome: "error", message: "refused: unauthenticated" });
  });
});

describe("a dropped connection", () => {
  test("is resumed from the lines read; the text comes once; the page is told", async () => {
    const first = streaming(droppedBody(lines(chunk("a"), chunk("b"))));
    const rest = streaming(body(lines(chunk("c"), STOP, USAGE)));
    const seen = await follow([first, rest]);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(urls(seen), [POST, "GET /api/runs/run-1?after=2"]);
    assert.deepEqual(seen.texts, ["a", "b", "c"]);
    assert.deepEqual(seen.events, ["run run-1", "reconnecting", "resumed"]);
    assert.equal(seen.usages.length, 1);
  });

  test("the browser going offline drops the body being read: a silent connection", async () => {
    const network = new EventTarget();
    const silent = (signal) =>
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(lines(chunk("a"))));
          // Nothing more, ever, unless the fetch is aborted (as a browser's fetch errors).
          const aborted = new DOMException("The user aborted a request.", "AbortError");
          signal.addEventListener("abort", () => controller.error(aborted));
          setTimeout(() => network.dispatchEvent(new Event("offline")), 5);
        },
      });
    let first = true;
    const rest = streaming(body(lines(chunk("b"), STOP)));
    const seen = await follow([], {
      network,
      fetch: async (url, init) => {
        if (!first) return rest;
        first = false;
        return streaming(silent(init.signal));
      },
    });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["a", "b"]);
    assert.deepEqual(seen.events, ["run run-1", "reconnecting", "resumed"]);
  });

  test("offline: tries again with backoff, and reads on once back within the grace", async () => {
    const first = streaming(droppedBody(lines(chunk("a"))));
    const rest = streaming(body(lines(chunk("b"), STOP)));
    const answers = [first, offline(), offline(), refusal(503, "server_busy"), rest];
    const seen = await follow(answers);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.sleeps, [250, 500, 1000]);
    assert.deepEqual(seen.texts, ["a", "b"]);
    assert.deepEqual(seen.events, ["run run-1", "reconnecting", "resumed"]);
  });

  test("offline past the grace: cut off after the last attempt", async () => {
    const answers = [streaming(droppedBody(lines(chunk("a")))), ...Array(20).fill(offline())];
    const seen = await follow(answers, { graceSeconds: 10 });
    assert.equal(seen.result.outcome, "cut off");
    assert.match(seen.result.message, /could not be resumed in time/);
    assert.deepEqual(seen.sleeps, [250, 500, 1000, 2000, 4000, 5000]);
    assert.equal(seen.requests.length, 1 + 7);
  });

  test("with no grace: one attempt at once, then cut off", async () => {
    const answers = [streaming(droppedBody(lines(chunk("a")))), offline()];
    const seen = await follow(answers, { graceSeconds: 0 });
    assert.equal(seen.result.outcome, "cut off");
    assert.deepEqual(seen.sleeps, []);
  });

  test("after the finish only the usage was missed: done, nothing resumed", async () => {
    const seen = await follow([streaming(droppedBody(lines(chunk("a"), STOP)))]);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(urls(seen), [POST]);
  });

  test("Stop while waiting to try again: stopped, and nothing more is asked", async () => {
    const controller = new AbortController();
    const answers = [streaming(droppedBody(lines(chunk("a")))), offline()];
    const seen = await follow(answers, {
      signal: controller.signal,
      sleep: async () => controller.abort(),
    });
    assert.deepEqual(seen.result, { outcome: "stopped" });
    assert.equal(seen.requests.length, 2);
  });
});

describe("a body that ends without the reply's end", () => {
  test("asks the run for more; none: the run is over (stopped from elsewhere)", async () => {
    const seen = await follow([streaming(body(lines(chunk("a")))), streaming(body(""))]);
    assert.deepEqual(urls(seen), [POST, "GET /api/runs/run-1?after=1"]);
    assert.equal(seen.result.outcome, "cut off");
    assert.equal(seen.result.runEnded, true);
    assert.deepEqual(seen.events, ["run run-1"]); // no "Reconnecting…" for that
  });

  test("asks the run for more; more: reads on to the end", async () => {
    const answers = [streaming(body(lines(chunk("a")))), streaming(body(lines(chunk("b"), STOP)))];
    const seen = await follow(answers);
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(seen.texts, ["a", "b"]);
  });
});

describe("Stop before the server answered", () => {
  test("is stopped at once, and the run is stopped once its id is known", async () => {
    const controller = new AbortController();
    const requests = [];
    let answer;
    const late = new Promise((resolve) => (answer = resolve));
    const reply = streamReply({
      api: "chat",
      messages: [{ role: "user", content: "hi" }],
      signal: controller.signal,
      fetch: (url, init) => {
        requests.push([init.method, url]);
        return url === "/api/chat" ? late : Promise.resolve(new Response("{}", { status: 202 }));
      },
    });
    controller.abort();
    assert.deepEqual(await reply, { outcome: "stopped" });
    answer(streaming(body(lines(chunk("a"))), { run: "run-9" }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(requests, [
      ["POST", "/api/chat"],
      ["POST", "/api/runs/run-9/stop"],
    ]);
  });
});

describe("stopRun and pause", () => {
  test("stopRun posts to the run's stop address and says whether it was taken", async () => {
    const sent = [];
    const answer = (status) => async (url, init) => {
      sent.push([url, init.method, init.keepalive]);
      return new Response("{}", { status });
    };
    assert.equal(await stopRun("run/1", answer(202)), true);
    assert.deepEqual(sent, [["/api/runs/run%2F1/stop", "POST", true]]);
    assert.equal(await stopRun("run-1", answer(404)), false);
    assert.equal(await stopRun("run-1", async () => Promise.reject(offline())), false);
    assert.equal(runUrl("a b", 4), "/api/runs/a%20b?after=4");
  });

  test("pause ends early when the browser is back online, or on abort", async () => {
    const network = new EventTarget();
    const started = Date.now();
    const waiting = pause(60_000, { network });
    network.dispatchEvent(new Event("online"));
    await waiting;
    const controller = new AbortController();
    const aborted = pause(60_000, { signal: controller.signal });
    controller.abort();
    await aborted;
    assert.ok(Date.now() - started < 1000);
  });
});
