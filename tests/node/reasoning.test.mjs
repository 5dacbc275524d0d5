// A reasoning model's thinking, read apart from its answer by the page's wire module
// (static/wire.js with static/reasoning.js), in every shape upstreams stream it.
// Run: node --test tests/node/reasoning.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ThinkSplitter } from "../../static/reasoning.js";
import { ADAPTERS, readState } from "../../static/wire.js";
import { body, run } from "./streams.mjs";

const json = (value) => JSON.stringify(value);

/** A chat chunk whose delta is `delta`. */
const chat = (delta, finish = null) =>
  json({ id: "c", choices: [{ index: 0, delta, finish_reason: finish }] });
const STOP = chat({}, "stop");

/** Each event of a stream's lines through one adapter and one state, merged by type. */
function read(api, lines) {
  const state = readState();
  const events = lines.flatMap((line) => ADAPTERS[api].events(JSON.parse(line), state));
  return merged(events);
}

/** Adjacent events of the same type joined: how the deltas fall is not the point. */
function merged(events) {
  const out = [];
  for (const event of events) {
    const last = out.at(-1);
    if (last && last.type === event.type && "text" in event) last.text += event.text;
    else out.push({ ...event });
  }
  return out;
}

const THOUGHT_THEN_ANSWER = [
  { type: "reasoning", text: "Let me think. Yes." },
  { type: "text", text: "The answer." },
  { type: "end" },
];

describe("chat deltas", () => {
  for (const field of ["reasoning_content", "reasoning"]) {
    test(`delta.${field} is reasoning, delta.content the answer`, () => {
      const lines = [
        chat({ role: "assistant", content: "" }),
        chat({ [field]: "Let me think." }),
        chat({ [field]: " Yes.", content: null }),
        chat({ content: "The answer." }),
        STOP,
      ];
      assert.deepEqual(read("chat", lines), THOUGHT_THEN_ANSWER);
    });
  }

  test("a delta with both names (the same text) counts it once", () => {
    const lines = [chat({ reasoning_content: "Once.", reasoning: "Once." }), STOP];
    assert.deepEqual(read("chat", lines), [{ type: "reasoning", text: "Once." }, { type: "end" }]);
  });

  test("reasoning tokens come with the usage, in either API", () => {
    const chatUsage = {
      prompt_tokens: 5,
      completion_tokens: 20,
      total_tokens: 25,
      completion_tokens_details: { reasoning_tokens: 12 },
    };
    const line = json({ id: "c", choices: [], usage: chatUsage });
    assert.deepEqual(ADAPTERS.chat.events(JSON.parse(line)), [
      { type: "usage", usage: { input: 5, output: 20, total: 25, reasoning: 12 } },
    ]);
    const responsesUsage = {
      input_tokens: 5,
      output_tokens: 20,
      total_tokens: 25,
      output_tokens_details: { reasoning_tokens: 12 },
    };
    const completed = { type: "response.completed", response: { usage: responsesUsage } };
    assert.deepEqual(ADAPTERS.responses.events(completed), [
      { type: "usage", usage: { input: 5, output: 20, total: 25, reasoning: 12 } },
      { type: "end" },
    ]);
  });
});

describe("<think> at the start of the answer", () => {
  test("is reasoning up to </think>; the blank line after it is dropped", () => {
    const lines = [
      chat({ role: "assistant", content: "" }),
      chat({ content: "<think>\nLet me think." }),
      chat({ content: " Yes.</think>\n\nThe answer." }),
      STOP,
    ];
    const events = read("chat", lines);
    assert.deepEqual(events, [
      { type: "reasoning", text: "\nLet me think. Yes." },
      { type: "text", text: "The answer." },
      { type: "end" },
    ]);
  });

  test("tags split anywhere across deltas are still tags", () => {
    const whole = "  <think>Hmm, a < b.</think>\n\nAnswer: a </think> is text now.";
    for (let size = 1; size <= 9; size += 1) {
      const splitter = new ThinkSplitter();
      const events = [];
      for (let i = 0; i < whole.length; i += size) {
        events.push(...splitter.push(whole.slice(i, i + size)));
      }
      events.push(...splitter.flush());
      assert.deepEqual(
        merged(events),
        [
          { type: "reasoning", text: "Hmm, a < b." },
          { type: "text", text: "Answer: a </think> is text now." },
        ],
        `pieces of ${size}`,
      );
    }
  });

  test("an answer that merely starts with < or mentions <think> later is all answer", () => {
    for (const whole of ["<b>bold</b>", "<thin ice", "Use <think> tags.", "<"]) {
      const splitter = new ThinkSplitter();
      const events = [...whole].flatMap((c) => splitter.push(c));
      events.push(...splitter.flush());
      assert.deepEqual(merged(events), [{ type: "text", text: whole }], whole);
    }
  });

  test("a stream cut off while thinking keeps what it thought", async () => {
    const reply = new Response(body(`${chat({ content: "<think>Half a thou" })}\n`));
    const reasoning = [];
    const seen = await run("chat", reply, { onReasoning: (text) => reasoning.push(text) });
    assert.equal(seen.result.outcome, "cut off");
    assert.equal(reasoning.join(""), "Half a thou");
    assert.deepEqual(seen.texts, []);
  });

  test("in a Responses answer too", () => {
    const delta = (text) => json({ type: "response.output_text.delta", delta: text });
    const lines = [delta("<think>Let me think."), delta(" Yes.</think>"), delta("The answer.")];
    lines.push(json({ type: "response.completed", response: {} }));
    assert.deepEqual(read("responses", lines), THOUGHT_THEN_ANSWER);
  });
});

describe("Responses reasoning events", () => {
  const where = (index) => ({ item_id: "rs_1", output_index: 0, summary_index: index });
  const summaryAdded = (index) =>
    json({ type: "response.reasoning_summary_part.added", ...where(index), part: { text: "" } });
  const summaryDelta = (index, delta) =>
    json({ type: "response.reasoning_summary_text.delta", ...where(index), delta });
  const summaryDone = (index, text) =>
    json({ type: "response.reasoning_summary_text.done", ...where(index), text });
  const answer = json({ type: "response.output_text.delta", delta: "The answer." });
  const completed = json({ type: "response.completed", response: {} });
  const SUMMARY = [
    { type: "reasoning", text: "First part.\n\nSecond part." },
    { type: "text", text: "The answer." },
    { type: "end" },
  ];

  // Each way servers send two summary parts, then the answer.
  const summaries = {
    "summary deltas, part by part, with part.added": [
      summaryAdded(0),
      summaryDelta(0, "First "),
      summaryDelta(0, "part."),
      summaryDone(0, "First part."),
      summaryAdded(1),
      summaryDelta(1, "Second part."),
      summaryDone(1, "Second part."),
    ],
    "summary deltas without part.added (some servers skip it)": [
      summaryDelta(0, "First part."),
      summaryDelta(1, "Second part."),
      summaryDone(1, "Second part."),
    ],
    "a part that comes only as .done still shows": [
      summaryDone(0, "First part."),
      summaryDone(1, "Second part."),
    ],
  };
  for (const [name, reasoning] of Object.entries(summaries)) {
    test(name, () => {
      assert.deepEqual(read("responses", [...reasoning, answer, completed]), SUMMARY);
    });
  }

  test("reasoning_text deltas and done (raw reasoning: gpt-oss on vLLM)", () => {
    const at = { item_id: "rs_2", output_index: 0, content_index: 0 };
    const lines = [
      json({ type: "response.reasoning_text.delta", ...at, delta: "Let me think." }),
      json({ type: "response.reasoning_text.delta", ...at, delta: " Yes." }),
      json({ type: "response.reasoning_text.done", ...at, text: "Let me think. Yes." }),
      answer,
      completed,
    ];
    assert.deepEqual(read("responses", lines), THOUGHT_THEN_ANSWER);
  });

  test("streamReply hands reasoning to onReasoning and the answer to onText", async () => {
    const lines = [summaryDelta(0, "Thinking."), answer, completed].join("\n");
    const reasoning = [];
    const seen = await run("responses", new Response(body(`${lines}\n`)), {
      onReasoning: (text) => reasoning.push(text),
    });
    assert.deepEqual(seen.result, { outcome: "done" });
    assert.deepEqual(reasoning, ["Thinking."]);
    assert.deepEqual(seen.texts, ["The answer."]);
  });
});
