// streamchat reasoning: a reasoning model's thinking, read apart from its answer.
//
// The shapes upstreams stream it in (docs/models.md):
//   Chat Completions  delta.reasoning_content (llama.cpp --reasoning-format deepseek,
//                     DeepSeek) or delta.reasoning (vLLM >= 0.11, Ollama);
//                     content that opens with <think>…</think> (no reasoning parser)
//   Responses API     response.reasoning_summary_text.delta / .done,
//                     response.reasoning_text.delta / .done (part.added may be missing)
// No DOM here, like wire.js, which imports it; Node tests it (tests/node/reasoning.test.mjs).

const OPEN = "<think>";
const CLOSE = "</think>";
const MODES = ["start", "think", "after", "answer"];

/** How many characters at the end of `text` could be the start of `tag`. */
function partialTagAtEnd(text, tag) {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n -= 1) {
    if (tag.startsWith(text.slice(-n))) return n;
  }
  return 0;
}

/**
 * Splits answer text that opens with <think>…</think> into reasoning and answer, however
 * the tags fall across deltas. Text that does not open with the tag is all answer.
 * A few characters that could be part of a tag are held until the next delta says.
 */
export class ThinkSplitter {
  /**
   * @param {{mode?: string, held?: string}} [saved] where an earlier reader of the same
   *   stream left off (saved()), for a reader that resumes it after a reload
   */
  constructor(saved = {}) {
    // start → think → after → answer; or start → answer
    this.mode = MODES.includes(saved.mode) ? saved.mode : "start";
    this.held = typeof saved.held === "string" ? saved.held : "";
  }

  /** What a reader resuming this stream needs to split it as this one would (JSON). */
  saved() {
    return { mode: this.mode, held: this.held };
  }

  /**
   * @param {string} delta the next piece of content as it arrived
   * @returns {{type: "reasoning"|"text", text: string}[]}
   */
  push(delta) {
    const out = [];
    let rest = this.held + delta;
    this.held = "";
    if (this.mode === "start") {
      const lead = rest.trimStart();
      if (!lead || (lead.length < OPEN.length && OPEN.startsWith(lead))) {
        this.held = rest; // whitespace, or "<thi": not yet known
        return out;
      }
      if (!lead.startsWith(OPEN)) {
        this.mode = "answer";
        return [{ type: "text", text: rest }];
      }
      this.mode = "think";
      rest = lead.slice(OPEN.length);
    }
    if (this.mode === "think") {
      const end = rest.indexOf(CLOSE);
      const thought = end < 0 ? rest.slice(0, rest.length - partialTagAtEnd(rest, CLOSE)) : "";
      if (end < 0) {
        this.held = rest.slice(thought.length);
        if (thought) out.push({ type: "reasoning", text: thought });
        return out;
      }
      if (end > 0) out.push({ type: "reasoning", text: rest.slice(0, end) });
      this.mode = "after";
      rest = rest.slice(end + CLOSE.length);
    }
    if (this.mode === "after") {
      rest = rest.trimStart(); // the blank line between </think> and the answer
      if (!rest) return out;
      this.mode = "answer";
    }
    out.push({ type: "text", text: rest });
    return out;
  }

  /** The stream ended: what was held back is what it looked like. */
  flush() {
    const held = this.held;
    this.held = "";
    if (!held) return [];
    return [{ type: this.mode === "think" ? "reasoning" : "text", text: held }];
  }
}

/** The reasoning in a chat delta: `reasoning_content`, else `reasoning` (some servers send
 * both, the same text, while they move from one name to the other). */
export function chatReasoning(delta) {
  const text = delta.reasoning_content || delta.reasoning;
  return typeof text === "string" ? text : "";
}

const RESPONSES_EVENTS = {
  "response.reasoning_summary_text.delta": "delta",
  "response.reasoning_summary_text.done": "done",
  "response.reasoning_text.delta": "delta",
  "response.reasoning_text.done": "done",
};

/**
 * The Responses API's reasoning events of one stream, as reasoning text. Each summary or
 * reasoning part is told by its item and index, not by a part.added event (some servers
 * skip it); parts after the first start a new paragraph. A .done event brings its text
 * only when no delta of that part came (a server that sends whole parts).
 */
export class ResponsesReasoning {
  /** @param {{parts?: string[], last?: string|null}} [saved] as saved() left it */
  constructor(saved = {}) {
    this.parts = new Set(Array.isArray(saved.parts) ? saved.parts : []);
    this.last = typeof saved.last === "string" ? saved.last : null;
  }

  /** What a reader resuming this stream needs (JSON). */
  saved() {
    return { parts: [...this.parts], last: this.last };
  }

  /** Whether `line.type` is a reasoning event this class reads. */
  static handles(type) {
    return Object.hasOwn(RESPONSES_EVENTS, type);
  }

  /**
   * @param {object} line one Responses stream event
   * @returns {{type: "reasoning", text: string}[]}
   */
  events(line) {
    const index = line.summary_index ?? line.content_index ?? 0;
    const part = `${line.type.includes("summary") ? "summary" : "text"}:${line.item_id}:${index}`;
    const isDelta = RESPONSES_EVENTS[line.type] === "delta";
    const text = isDelta ? line.delta : line.text;
    if (typeof text !== "string" || !text || (!isDelta && this.parts.has(part))) return [];
    const gap = this.last !== null && this.last !== part ? "\n\n" : "";
    this.parts.add(part);
    this.last = part;
    return [{ type: "reasoning", text: gap + text }];
  }
}

/** The reasoning tokens in a usage object of either API, or undefined. */
export function reasoningTokens(usage) {
  const details = usage.completion_tokens_details || usage.output_tokens_details;
  const n = details && details.reasoning_tokens;
  return Number.isFinite(n) ? n : undefined;
}
