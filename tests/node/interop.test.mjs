// Reads our streaming endpoints with the official openai-node SDK, unchanged, the way a
// browser would: ChatCompletionStream / ResponseStream .fromReadableStream(res.body), and
// a run resumed after a hang-up (NDJSON ?after=n, and SSE through the SDK's Stream).
// Servers (gunicorn on the demo model, gunicorn on a fake upstream) come from
// tests/node/servers.py, all on 127.0.0.1.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Stream } from "openai/core/streaming";
import { ChatCompletionStream } from "openai/lib/ChatCompletionStream";
import { ResponseStream } from "openai/lib/responses/ResponseStream";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const python = process.env.STREAMCHAT_PYTHON || path.join(root, ".venv/bin/python");
const question = { messages: [{ role: "user", content: "Does the SDK read this?" }] };

let launcher;
let servers;

before(async () => {
  launcher = spawn(python, ["-m", "tests.node.servers"], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = once(launcher, "exit").then(([code]) => {
    throw new Error(`tests/node/servers.py exited early with ${code}`);
  });
  const announced = once(createInterface({ input: launcher.stdout }), "line");
  servers = JSON.parse((await Promise.race([announced, exited]))[0]);
});

after(async () => {
  if (launcher && launcher.exitCode === null) {
    launcher.stdin.end(); // the launcher stops its servers when its stdin closes
    await once(launcher, "exit");
  }
});

/** POST and split the body: one branch for the SDK, one we read raw alongside it. */
async function open(base, route, body) {
  const response = await fetch(base + route, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/x-ndjson");
  const [forSdk, forUs] = response.body.tee();
  const raw = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    for await (const bytes of forUs) text += decoder.decode(bytes, { stream: true });
    return text.split("\n").slice(0, -1);
  })();
  return { forSdk, raw };
}

/** Record each delta with the time it reached the SDK. */
function timed(stream, eventName, pick) {
  const deltas = [];
  stream.on(eventName, (...args) => deltas.push({ text: pick(...args), at: performance.now() }));
  return deltas;
}

function spread(deltas) {
  return deltas.at(-1).at - deltas[0].at;
}

describe("ChatCompletionStream.fromReadableStream reads /api/chat", () => {
  test("demo model: final text is the deltas joined, arriving over time", async () => {
    const { forSdk, raw } = await open(servers.demo, "/api/chat", question);
    const stream = ChatCompletionStream.fromReadableStream(forSdk);
    const deltas = timed(stream, "content", (delta) => delta);
    const final = await stream.finalChatCompletion();
    const text = final.choices[0].message.content;
    assert.equal(text, deltas.map((d) => d.text).join(""));
    assert.match(text, /offline demo model/);
    assert.equal(final.choices[0].finish_reason, "stop");
    assert.ok(deltas.length > 50, `only ${deltas.length} deltas`);
    assert.ok(spread(deltas) > 300, `all deltas within ${spread(deltas)} ms`);
    // HEARTBEAT_SECONDS=0.05 against a 150 ms first token: blank lines came first.
    assert.equal((await raw)[0], "");
  });

  test("fake upstream: heartbeats before the first token do not upset the reader", async () => {
    const { forSdk, raw } = await open(servers.upstream, "/api/chat", question);
    const stream = ChatCompletionStream.fromReadableStream(forSdk);
    const deltas = timed(stream, "content", (delta) => delta);
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content, servers.words.join(""));
    assert.deepEqual(
      deltas.map((d) => d.text),
      servers.words,
    );
    assert.ok(spread(deltas) > 300, `all deltas within ${spread(deltas)} ms`);
    const lines = await raw;
    assert.ok(lines.filter((line) => line === "").length >= 2, "no heartbeat lines seen");
    assert.equal(lines.filter((line) => line !== "").length, servers.words.length + 2); // + role and finish chunks
  });

  test("a reply cut off mid-stream rejects finalChatCompletion()", async () => {
    const { forSdk, raw } = await open(servers.upstream, "/api/chat", {
      ...question,
      model: "fake-chat-cut",
    });
    const stream = ChatCompletionStream.fromReadableStream(forSdk);
    const deltas = timed(stream, "content", (delta) => delta);
    stream.on("error", () => {}); // the rejection below is what we check
    await assert.rejects(stream.finalChatCompletion(), /ended the reply before it was done/);
    assert.deepEqual(
      deltas.map((d) => d.text),
      servers.words.slice(0, 2),
    );
    assert.equal(JSON.parse((await raw).at(-1)).error.code, "upstream_cut_off");
  });
});

describe("ResponseStream.fromReadableStream reads /api/responses", () => {
  const outputText = (response) =>
    response.output
      .flatMap((item) => item.content ?? [])
      .map((part) => part.text)
      .join("");

  test("demo model: final response text is the deltas joined, arriving over time", async () => {
    const { forSdk, raw } = await open(servers.demo, "/api/responses", question);
    const stream = ResponseStream.fromReadableStream(forSdk);
    const deltas = timed(stream, "response.output_text.delta", (event) => event.delta);
    const final = await stream.finalResponse();
    assert.equal(final.status, "completed");
    assert.equal(outputText(final), deltas.map((d) => d.text).join(""));
    assert.match(outputText(final), /offline demo model/);
    assert.ok(deltas.length > 50, `only ${deltas.length} deltas`);
    assert.ok(spread(deltas) > 300, `all deltas within ${spread(deltas)} ms`);
    // It thought first (a reasoning summary): those tokens are output tokens too.
    const thought = final.usage.output_tokens_details.reasoning_tokens;
    assert.ok(thought > 0, "no reasoning tokens");
    assert.equal(final.usage.output_tokens, deltas.length + thought);
    assert.equal(final.output[0].type, "reasoning");
    // response.created comes at once; the 150 ms wait for the first token is heartbeats.
    const lines = await raw;
    const firstDelta = lines.findIndex((line) => line.includes("output_text.delta"));
    assert.ok(lines.slice(0, firstDelta).includes(""), "no heartbeat before the first delta");
  });

  test("fake upstream: heartbeats before the first event do not upset the reader", async () => {
    const { forSdk, raw } = await open(servers.upstream, "/api/responses", {
      ...question,
      model: "fake-responses",
    });
    const stream = ResponseStream.fromReadableStream(forSdk);
    const deltas = timed(stream, "response.output_text.delta", (event) => event.delta);
    const final = await stream.finalResponse();
    assert.equal(outputText(final), servers.words.join(""));
    assert.deepEqual(
      deltas.map((d) => d.text),
      servers.words,
    );
    assert.ok(spread(deltas) > 300, `all deltas within ${spread(deltas)} ms`);
    assert.ok((await raw).filter((line) => line === "").length >= 2, "no heartbeat lines seen");
  });

  test("a response cut off mid-stream rejects finalResponse()", async () => {
    const { forSdk, raw } = await open(servers.upstream, "/api/responses", {
      ...question,
      model: "fake-responses-cut",
    });
    const stream = ResponseStream.fromReadableStream(forSdk);
    stream.on("error", () => {});
    await assert.rejects(stream.finalResponse(), /ended the reply before it was done/);
    const last = JSON.parse((await raw).at(-1));
    assert.equal(last.type, "error");
    assert.equal(last.sequence_number, 4);
    assert.equal(last.code, "upstream_cut_off");
  });
});

describe("openai-node reads a resumed run (GET /api/runs/<id>?after=n)", () => {
  const head = 2; // lines read before hanging up: the role chunk and the first word
  const rest = () => servers.words.slice(head - 1).join("");

  /** POST a chat, read `head` event lines, hang up: the run id and those lines. */
  async function startAndHangUp() {
    const response = await fetch(servers.upstream + "/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(question),
    });
    assert.equal(response.status, 200);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const lines = [];
    let buffered = "";
    while (lines.length < head) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the reply ended before the lines to resume after");
      buffered += decoder.decode(value, { stream: true });
      const parts = buffered.split("\n");
      buffered = parts.pop();
      lines.push(...parts.filter((line) => line !== "")); // heartbeats skipped
    }
    await reader.cancel(); // the run generates on for its grace period
    return { runId: response.headers.get("x-run-id"), lines: lines.slice(0, head) };
  }

  async function resume(path, headers = {}) {
    const response = await fetch(servers.upstream + path, { headers });
    const runId = path.split("/").at(-1).split("?")[0];
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-run-id"), runId);
    return response;
  }

  /** The lines the client read before it hung up, then `body`: the whole reply again. */
  function joined(lines, body) {
    const read = new TextEncoder().encode(lines.map((line) => line + "\n").join(""));
    return new ReadableStream({
      async start(controller) {
        controller.enqueue(read);
        for await (const bytes of body) controller.enqueue(bytes);
        controller.close();
      },
    });
  }

  /** The content the chunks of `stream` carry, from its "chunk" events. */
  function chunkText(stream) {
    const texts = [];
    stream.on("chunk", (chunk) => texts.push(chunk.choices[0]?.delta?.content ?? ""));
    return texts;
  }

  test("NDJSON ?after=n: the SDK reads the rest, and completes after the lines read", async () => {
    const { runId, lines } = await startAndHangUp();
    const response = await resume(`/api/runs/${runId}?after=${head}`);
    assert.equal(response.headers.get("content-type"), "application/x-ndjson");
    const [alone, afterLines] = response.body.tee();

    const resumed = ChatCompletionStream.fromReadableStream(alone);
    const texts = chunkText(resumed);
    resumed.on("error", () => {}); // the rejection below is what we check
    // The resumed body alone starts after the role chunk, which the SDK needs to build
    // a message (docs/architecture.md, "Reading the stream with the official SDK").
    await assert.rejects(resumed.finalChatCompletion(), /missing role for choice 0/);
    assert.equal(texts.join(""), rest());

    const whole = ChatCompletionStream.fromReadableStream(joined(lines, afterLines));
    const deltas = timed(whole, "content", (delta) => delta);
    const final = await whole.finalChatCompletion();
    assert.equal(final.choices[0].message.content, servers.words.join(""));
    assert.equal(final.choices[0].finish_reason, "stop");
    assert.equal(deltas.slice(head - 1).map((d) => d.text).join(""), rest());
  });

  test("SSE Last-Event-ID: Stream reads the rest to [DONE], and completes after them", async () => {
    const { runId, lines } = await startAndHangUp();
    const response = await resume(`/api/runs/${runId}`, {
      Accept: "text/event-stream",
      "Last-Event-ID": String(head),
    });
    assert.match(response.headers.get("content-type"), /^text\/event-stream/);
    const [events, afterLines] = Stream.fromSSEResponse(response, new AbortController()).tee();

    const chunks = [];
    for await (const chunk of events) chunks.push(chunk); // ends at data: [DONE]
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), rest());
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");

    const whole = ChatCompletionStream.fromReadableStream(
      joined(lines, afterLines.toReadableStream()),
    );
    const final = await whole.finalChatCompletion();
    assert.equal(final.choices[0].message.content, servers.words.join(""));
    assert.equal(final.choices[0].finish_reason, "stop");
  });
});
