// streamchat thinking: a reply's reasoning, drawn in a native <details> above its answer.
//
// thoughtsElement() draws the disclosure of a stored reply (its body rendered when first
// opened); LiveThinking keeps the one of the reply streaming now: open and growing while
// the model thinks, closed by itself when the answer starts, timed ("Thought for 4 s").
// The text goes through the same sanitising renderer as answers (markdown.js). The
// reasoning is kept on the message (message.reasoning, message.thoughtSeconds) and never
// sent upstream (controller.js sends role and content only). Imported by message.js
// (thoughtsElement) and controller.js (LiveThinking).

import { renderContent, renderStreaming } from "./markdown.js";

/** What the disclosure's summary says. */
function thoughtLabel(message) {
  if (Number.isFinite(message.thoughtSeconds)) return `Thought for ${message.thoughtSeconds} s`;
  return message.state === "streaming" ? "Thinking…" : "Thoughts";
}

/**
 * The disclosure of a reply's reasoning, closed once the reply has an answer.
 * @param {{reasoning: string, content: string, state?: string, thoughtSeconds?: number}} message
 * @param {{open?: boolean}} [options] open it whatever the default
 * @returns {HTMLDetailsElement}
 */
export function thoughtsElement(message, { open = !message.content } = {}) {
  const details = document.createElement("details");
  details.className = "thoughts";
  const summary = document.createElement("summary");
  summary.textContent = thoughtLabel(message);
  const body = document.createElement("div");
  body.className = "thoughts-body";
  details.append(summary, body);
  // Long thinking is drawn only when someone opens it.
  let drawn = false;
  const draw = () => {
    if (details.open && !drawn) {
      drawn = true;
      renderContent(body, message.reasoning);
    }
  };
  details.addEventListener("toggle", draw);
  details.open = open;
  draw();
  return details;
}

/** The thinking of the reply streaming now; the controller makes one per reply. */
export class LiveThinking {
  /**
   * @param {object} message the reply being written (message.reasoning grows here)
   * @param {HTMLElement} content the reply's answer element: the disclosure goes above it
   */
  constructor(message, content) {
    this.message = message;
    this.content = content;
    this.details = null;
    this.started = 0;
    this.dirty = false;
    // A reply read on after a reload has its text so far, and its thinking drawn already.
    this.answered = Boolean(message.content);
    const drawn = content.previousElementSibling;
    if (message.reasoning && drawn && drawn.matches("details.thoughts")) this.follow(drawn);
  }

  /** More reasoning arrived: the first piece opens the disclosure and starts the clock. */
  add(text) {
    const { message } = this;
    message.reasoning = (message.reasoning || "") + text;
    this.dirty = true;
    if (this.details) return;
    this.follow(thoughtsElement(message, { open: !this.answered }));
    this.content.before(this.details);
  }

  /** Draw the reasoning in `details` from now on, timed from now. */
  follow(details) {
    this.started = Date.now();
    this.details = details;
    this.body = details.querySelector(".thoughts-body");
    this.body.setAttribute("aria-busy", "true");
    this.target = { message: { content: "" }, content: this.body, blocks: [] };
    // Opened again later: show what came meanwhile.
    details.addEventListener("toggle", () => this.render());
  }

  /** The answer has started: the thinking is over, so say for how long and close it. */
  answerStarted() {
    if (this.answered) return;
    this.answered = true;
    if (!this.details) return;
    this.stopClock();
    this.render();
    this.details.open = false;
  }

  /** The reply has ended (however): a reply that only thought is timed now. */
  end() {
    if (this.details && !this.answered) this.stopClock();
  }

  /** Whether the reader has the disclosure open now. */
  isOpen() {
    return Boolean(this.details && this.details.open);
  }

  stopClock() {
    const seconds = Math.max(1, Math.round((Date.now() - this.started) / 1000));
    this.message.thoughtSeconds = seconds;
    this.details.querySelector("summary").textContent = thoughtLabel(this.message);
  }

  /** Draw what arrived since the last frame, if anyone can see it (once per frame). */
  render() {
    if (!this.dirty || !this.isOpen()) return;
    this.dirty = false;
    this.target.message.content = this.message.reasoning;
    renderStreaming(this.target);
  }
}
