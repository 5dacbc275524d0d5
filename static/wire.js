// streamchat wire: from a fetch body of NDJSON lines (or SSE events, sse.js) to page
// events, for either API.
//
// No DOM here, on purpose: Node imports this file as it is (tests/node/wire.test.mjs),
// so everything below runs on the same fetch, ReadableStream and TextDecoder the
// browser has. Imported by runs.js (which streams a reply with it) and by the tests (all
// exports); imports budget.js for the words of a budget refusal, reasoning.js for the
// thinking.

import { refusalMessage } from "./budget.js";
import { ResponsesReasoning, ThinkSplitter, chatReasoning, reasoningTokens } from "./reasoning.js";
import { readSse } from "./sse.js";

/**
 * Yield each parsed NDJSON object from a fetch body, as the lines arrive.
 * Blank lines are the server's heartbeats and are skipped. Only "\n" ends a line: a
 * "\r" before it is JSON whitespace, and U+2028 inside a string is content.
 * `count.lines` is the run's position: one more for each line, before it is yielded, so
 * a reader that resumes the run asks for the lines after it (GET /api/runs/<id>?after=).
 * @param {ReadableStream<Uint8Array>} body
 * @param {{lines: number}} [count] lines of the run read before this body, kept up to date
 * @returns {AsyncGenerator<any>}
 * @throws {SyntaxError} on a line that is not JSON
 */
export async function* readNdjson(body, count = { lines: 0 }) {
  const reader = body.getReader();
  // stream: true keeps a multi-byte character split across reads intact.
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (line.trim()) yield counted(JSON.parse(line), count); // blank: a heartbeat
      }
    }
    pending += decoder.decode();
    if (pending.trim()) yield counted(JSON.parse(pending), count);
  } finally {
    // Leaving early (an error line, a bad line) must still close the connection.
    reader.cancel().catch(() => {});
  }
}

function counted(line, count) {
  count.lines += 1;
  return line;
}

const LENGTH_LIMIT = "The reply reached the model's length limit.";
const CONTENT_FILTER = "The provider's content filter ended the reply.";

/**
 * What an adapter remembers across one stream's lines: fresh, or as savedReadState() left
 * it for a reader that resumes the stream (after a reload: it comes from localStorage).
 * `ended`: the reply finished (the usage line may still follow).
 */
export function readState(saved) {
  const from = saved && typeof saved === "object" ? saved : {};
  return {
    think: new ThinkSplitter(from.think || undefined),
    responses: new ResponsesReasoning(from.responses || undefined),
    ended: from.ended === true,
  };
}

/** A stream's read state as JSON, for readState() to resume from. */
export function savedReadState(state) {
  return { think: state.think.saved(), responses: state.responses.saved(), ended: state.ended };
}

/**
 * One adapter per API. `events(line, state)` turns one parsed line into page events:
 *   {type: "text", text} · {type: "reasoning", text} (the model's thinking)
 *   {type: "usage", usage: {input, output, total, reasoning?}}
 *   {type: "end"} (finished normally) · {type: "incomplete", message} · {type: "error", message}
 * `state` is the stream's readState(): answer text that opens with <think> is split
 * across lines. A body that ends without "end", "incomplete" or "error" was cut off.
 */
export const ADAPTERS = {
  chat: {
    endpoint: "/api/chat",
    events(line, state = readState()) {
      // In-band failure after the start: {"choices": [], "error": {...}}.
      if (line.error) return [{ type: "error", message: line.error.message }];
      const out = [];
      for (const choice of line.choices || []) {
        const delta = choice.delta || {};
        const thought = chatReasoning(delta);
        if (thought) out.push({ type: "reasoning", text: thought });
        if (delta.content) out.push(...state.think.push(delta.content));
        if (choice.finish_reason) out.push(...state.think.flush());
        if (choice.finish_reason === "length") {
          out.push({ type: "incomplete", message: LENGTH_LIMIT });
        } else if (choice.finish_reason === "content_filter") {
          out.push({ type: "incomplete", message: CONTENT_FILTER });
        } else if (choice.finish_reason) {
          out.push({ type: "end" });
        }
      }
      // The usage chunk has "choices": [] and comes after the finish chunk.
      const u = line.usage;
      if (u) out.push(usageEvent(u, u.prompt_tokens, u.completion_tokens));
      return out;
    },
  },
  responses: {
    endpoint: "/api/responses",
    events(line, state = readState()) {
      const response = line.response || {};
      const u = response.usage;
      const usage = u ? [usageEvent(u, u.input_tokens, u.output_tokens)] : [];
      if (ResponsesReasoning.handles(line.type)) return state.responses.events(line);
      switch (line.type) {
        case "response.output_text.delta":
          return line.delta ? state.think.push(line.delta) : [];
        case "response.completed":
          return [...state.think.flush(), ...usage, { type: "end" }];
        case "response.incomplete": {
          const reason = response.incomplete_details && response.incomplete_details.reason;
          const message =
            reason === "max_output_tokens"
              ? LENGTH_LIMIT
              : `The reply is incomplete${reason ? ` (${reason})` : ""}.`;
          return [...state.think.flush(), ...usage, { type: "incomplete", message }];
        }
        case "response.failed":
          return [{ type: "error", message: response.error && response.error.message }];
        case "error":
          return [{ type: "error", message: line.message }];
        default:
          return [];
      }
    },
  },
};

function usageEvent(u, input, output) {
  const usage = { input, output, total: u.total_tokens };
  const reasoning = reasoningTokens(u);
  if (reasoning !== undefined) usage.reasoning = reasoning;
  return { type: "usage", usage };
}

/**
 * The message shown for an HTTP error answered before streaming started: the server's
 * own `error.message` when the body is our JSON error (the page's own words for a budget
 * refusal), else the status line.
 * @param {Response} response
 * @param {Date} [now] when it arrived (tests pin it)
 * @returns {Promise<string>}
 */
export async function errorText(response, now = new Date()) {
  const wait = response.headers.get("Retry-After");
  try {
    const body = await response.json();
    const error = body && body.error;
    // A budget refusal: when to come back, on the reader's own clock (budget.js).
    const budget = error && refusalMessage(error.code, wait, now);
    if (budget) return budget;
    // Ours and the upstream's messages already say when to try again.
    if (error && error.message) return error.message;
  } catch {
    // not JSON: the status line, and Retry-After if there is one
  }
  let message = `The server answered ${response.status} ${response.statusText}.`.trim();
  if (response.status === 429 && wait) message += ` Try again in ${wait} s.`;
  return message;
}

/** The stream formats the server offers: what to ask for, and how to read the answer. */
export const FORMATS = {
  ndjson: { accept: "application/x-ndjson", read: readNdjson },
  sse: { accept: "text/event-stream", read: readSse },
};
